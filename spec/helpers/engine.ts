/** What integration specs need to look at the real engine (Docker, or Podman: see engine-flavour.ts) and the host around a Sandbox. */
import { readdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import type { TestContext } from 'node:test';
import { DockerEngine } from '../../lib/docker/engine.js';
import { LABEL, ROLE_LABEL, SANDBOX_LABEL } from '../../lib/docker/labels.js';
import { Sandbox, type SandboxOptions, type SandboxStats } from '../../lib/index.js';
import { ownerOfTempDir } from '../../lib/owner.js';
import { TEST_DOCKER, withTestEngine } from './engine-flavour.js';

// Never opened: its flavour (Docker or Podman) is the one the binary's name says.
const engine = new DockerEngine({ binary: TEST_DOCKER, host: undefined });

/** Containers of one Sandbox (by its id label), or every container of the library. */
export function labelledContainers(sandboxId?: string): Promise<string[]> {
  return engine.listContainers(sandboxId === undefined ? { [LABEL]: undefined } : { [SANDBOX_LABEL]: sandboxId });
}

/** The containers of one Sandbox that run programs (not its network-namespace holders). */
export function runnerContainers(sandboxId: string): Promise<string[]> {
  return engine.listContainers({ [SANDBOX_LABEL]: sandboxId, [ROLE_LABEL]: 'runner' });
}

/** The network-namespace holders of one Sandbox. */
export function holderContainers(sandboxId: string): Promise<string[]> {
  return engine.listContainers({ [SANDBOX_LABEL]: sandboxId, [ROLE_LABEL]: 'netns' });
}

/**
 * The per-container temp dirs this process's Sandboxes have on the host. Only this process's:
 * other processes sharing the temp dir (another test run, a CLI spec's own dirs) create and remove
 * theirs at any moment, and would make before/after checks race.
 */
export async function sandboxTempDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => ownerOfTempDir(name, hostname())?.pid === process.pid).sort();
}

/** An initialized Sandbox that is cleaned up when the test ends. */
export async function startSandbox(t: TestContext, options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = new Sandbox(withTestEngine(options));
  t.after(() => sandbox.cleanup());
  await sandbox.initialize();
  return sandbox;
}

/** Why a runtime cannot be used on this engine, or undefined when it can. */
export async function runtimeMissing(runtime: string | undefined): Promise<string | undefined> {
  if (runtime === undefined) return undefined;
  try {
    await engine.checkRuntime(runtime);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Whether a container with this id (or id prefix, e.g. a hostname) still exists. */
export async function containerExists(idPrefix: string): Promise<boolean> {
  return (await engine.containerIds({ [LABEL]: undefined })).some((id) => id.startsWith(idPrefix));
}

/** What stats() says of a quiet Sandbox of `size` containers on its one engine. */
export function quietStats(size: number): SandboxStats {
  const counters = { ready: size, busy: 0, starting: 0, consecutiveFailures: 0, lastError: null };
  return { size, ...counters, queued: 0, failing: false, engines: [{ name: 'default', state: 'up', size, ...counters }] };
}
