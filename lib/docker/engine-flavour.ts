/**
 * Which container engine a `dockerPath` binary drives: Docker's CLI, or Podman's (`podman`, or a
 * `docker` that is Podman under another name, as Debian's podman-docker installs). Podman takes
 * nearly the same argv but differs in a few defaults and names (README "Podman"); the builders in
 * container-args.ts read the flavour to add what Podman needs, and leave Docker's argv unchanged.
 *
 * The flavour is found once per engine, from `<binary> --version` (which asks no engine, so it works
 * while the engine is down), when the engine is opened at initialize(); until then it is guessed
 * from the binary's name.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export type EngineKind = 'docker' | 'podman';

/** A resource limit as `--ulimit` takes it: soft and hard, -1 for unlimited. */
export interface RlimitPair {
  soft: number;
  hard: number;
}

export interface EngineFlavour {
  kind: EngineKind;
  /** The CLI's version, when known (`podman --version`, `docker --version`). */
  version: string | undefined;
  /** Podman only: a remote client (podman-remote, or CONTAINER_HOST set), whose containers run elsewhere. */
  remote: boolean;
  /**
   * Podman only: the RLIMIT_NPROC to give containers explicitly. Rootful Podman otherwise asks the
   * OCI runtime for 1048576 processes, more than the hard limit where root lacks CAP_SYS_RESOURCE
   * (runc then fails with "error setting rlimits ... operation not permitted"). What Podman, conmon
   * and runc run under: this process's own limit, which Podman lowers to the kernel's pid_max at
   * start (as Docker's containers get dockerd's). Undefined: left to Podman (remote Podman, or no
   * /proc to read).
   */
  nproc: RlimitPair | undefined;
}

export const DOCKER_FLAVOUR: EngineFlavour = { kind: 'docker', version: undefined, remote: false, nproc: undefined };

/** The flavour a binary's name suggests, before `--version` says: `podman` (any path, any suffix such as podman-remote) is Podman. */
export function guessFlavour(binary: string): EngineFlavour {
  return /^podman/i.test(basename(binary)) ? podmanFlavour(undefined, binary) : DOCKER_FLAVOUR;
}

/**
 * The flavour `<binary> --version` reports: "podman version 4.3.1" (also through a `docker` alias),
 * "Docker version 28.2.2, build e6534b4". Undefined for anything else (a wrapper script that prints
 * something of its own: the guess from the name stands).
 */
export function flavourOfVersion(stdout: string, binary: string): EngineFlavour | undefined {
  const podman = /^podman(?:-remote)? version (\S+)/im.exec(stdout);
  if (podman !== null) return podmanFlavour(podman[1], podman[0].includes('remote') ? 'podman-remote' : binary);
  const docker = /^Docker version ([^\s,]+)/im.exec(stdout);
  if (docker !== null) return { ...DOCKER_FLAVOUR, version: docker[1] };
  return undefined;
}

function podmanFlavour(version: string | undefined, binary: string): EngineFlavour {
  // A remote Podman's containers inherit its service's limits, not this process's.
  const remote = /remote/i.test(basename(binary)) || (process.env.CONTAINER_HOST ?? '') !== '';
  return { kind: 'podman', version, remote, nproc: remote ? undefined : ownProcessLimit() };
}

/** RLIMIT_NPROC of a podman process started from this one (see EngineFlavour.nproc); undefined where there is no /proc (not Linux). */
function ownProcessLimit(): RlimitPair | undefined {
  try {
    const own = parseProcessLimit(readFileSync('/proc/self/limits', 'utf8'));
    return own === undefined ? undefined : podmanProcessLimit(own, Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * The process limit Podman runs under, started with `own`: at start it sets RLIMIT_NPROC to the
 * kernel's pid_max, which succeeds when that is not above the hard limit (lowering needs no
 * privilege) and leaves the limit as it was otherwise.
 */
export function podmanProcessLimit(own: RlimitPair, pidMax: number): RlimitPair {
  const fits = Number.isInteger(pidMax) && pidMax > 0 && (own.hard === -1 || pidMax <= own.hard);
  return fits ? { soft: pidMax, hard: pidMax } : own;
}

/** The "Max processes" line of a /proc/<pid>/limits text, as --ulimit values (unlimited: -1). */
export function parseProcessLimit(limits: string): RlimitPair | undefined {
  const match = /^Max processes\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (match === null) return undefined;
  const value = (field: string | undefined): number => (field === undefined || field === 'unlimited' ? -1 : Number(field));
  return { soft: value(match[1]), hard: value(match[2]) };
}
