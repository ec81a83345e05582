/**
 * What doctor asks the engine, through the library's docker CLI module (lib/docker/cli.ts): the
 * CLI's own version, `docker info` (version, cgroup, runtimes, which limits the kernel supports)
 * and an image's labels. The parsing is pure; Podman's `info` has another shape and is read too.
 */
import type { DockerCli } from '../docker/cli.js';
import { DockerCliError } from '../errors.js';

/** What `docker info` says that doctor reports on. Fields an engine does not report are undefined. */
export interface EngineFacts {
  kind: 'docker' | 'podman';
  serverVersion: string;
  /** '1' or '2'. */
  cgroupVersion: string | undefined;
  /** 'cgroupfs' or 'systemd'. */
  cgroupDriver: string | undefined;
  /** Registered runtimes (Podman reports only its default one). */
  runtimes: string[];
  defaultRuntime: string | undefined;
  /** Which limits the kernel lets the engine set (Docker only). */
  supports: { memory?: boolean; swap?: boolean; cpuQuota?: boolean; pids?: boolean };
  rootless: boolean;
  /** The engine's own warnings, e.g. "WARNING: No swap limit support". */
  warnings: string[];
}

interface DockerInfo {
  ServerVersion?: string;
  CgroupVersion?: string;
  CgroupDriver?: string;
  Runtimes?: Record<string, unknown> | null;
  DefaultRuntime?: string;
  MemoryLimit?: boolean;
  SwapLimit?: boolean;
  CpuCfsQuota?: boolean;
  PidsLimit?: boolean;
  SecurityOptions?: string[] | null;
  Warnings?: string[] | null;
}

interface PodmanInfo {
  host: {
    cgroupVersion?: string;
    cgroupManager?: string;
    ociRuntime?: { name?: string };
    security?: { rootless?: boolean };
  };
  version?: { Version?: string };
}

/** Parses `docker info --format '{{json .}}'` (or Podman's `info --format json`). */
export function parseEngineInfo(json: string): EngineFacts {
  const info = JSON.parse(json) as DockerInfo | PodmanInfo;
  if ('host' in info && typeof info.host === 'object') {
    const runtime = info.host.ociRuntime?.name;
    return {
      kind: 'podman',
      serverVersion: info.version?.Version ?? '',
      cgroupVersion: info.host.cgroupVersion?.replace(/^v/, ''),
      cgroupDriver: info.host.cgroupManager,
      runtimes: runtime === undefined ? [] : [runtime],
      defaultRuntime: runtime,
      supports: {},
      rootless: info.host.security?.rootless === true,
      warnings: [],
    };
  }
  const docker = info as DockerInfo;
  return {
    kind: 'docker',
    serverVersion: docker.ServerVersion ?? '',
    cgroupVersion: docker.CgroupVersion || undefined,
    cgroupDriver: docker.CgroupDriver || undefined,
    runtimes: Object.keys(docker.Runtimes ?? {}),
    defaultRuntime: docker.DefaultRuntime || undefined,
    supports: { memory: docker.MemoryLimit, swap: docker.SwapLimit, cpuQuota: docker.CpuCfsQuota, pids: docker.PidsLimit },
    rootless: (docker.SecurityOptions ?? []).some((option) => option.split(',').includes('name=rootless')),
    warnings: docker.Warnings ?? [],
  };
}

/** How long `docker info` may take: a running engine answers in well under a second. */
export const INFO_TIMEOUT_MS = 10_000;

/** The CLI's own version line (`Docker version 28.2.2, build e6534b4`); asks no engine. */
export async function cliVersion(cli: DockerCli): Promise<string> {
  return (await cli.run(['--version'], { timeoutMs: INFO_TIMEOUT_MS })).stdout.trim();
}

/** `docker info`; rejects with EngineUnavailableError when no engine answers, DockerCliError (timedOut) when it hangs. */
export async function engineFacts(cli: DockerCli): Promise<EngineFacts> {
  return parseEngineInfo((await cli.run(['info', '--format', '{{json .}}'], { timeoutMs: INFO_TIMEOUT_MS })).stdout);
}

const NO_SUCH_IMAGE = /No such image|image not known/i;

/** An image's labels, or undefined when the engine does not have the image. */
export async function imageLabels(cli: DockerCli, image: string): Promise<Record<string, string> | undefined> {
  try {
    const { stdout } = await cli.run(['image', 'inspect', '--format', '{{json .Config.Labels}}', image], { timeoutMs: INFO_TIMEOUT_MS });
    return (JSON.parse(stdout) as Record<string, string> | null) ?? {};
  } catch (error) {
    if (error instanceof DockerCliError && NO_SUCH_IMAGE.test(error.stderr)) return undefined;
    throw error;
  }
}

/** The version in `docker --version`'s line, as [major, minor], or undefined for another CLI (Podman). */
export function dockerCliVersion(line: string): [number, number] | undefined {
  const match = /^Docker version (\d+)\.(\d+)/.exec(line);
  return match === null ? undefined : [Number(match[1]), Number(match[2])];
}
