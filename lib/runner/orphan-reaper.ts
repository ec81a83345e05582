/**
 * Reaps what killed processes left behind: the library's containers whose owner process is gone
 * (by their owner labels) and that owner's per-container temp dirs on this host. Containers of live
 * owners (this process included), of other hosts, and without the library's label are never touched.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine, type LabelledContainer } from '../docker/engine.js';
import { LABEL, OWNER_LABELS, ownerOfLabels, ROLE_LABEL, SANDBOX_LABEL } from '../docker/labels.js';
import { parseRemoveOrphansOptions, type RemoveOrphansOptions } from '../options.js';

export type { RemoveOrphansOptions } from '../options.js';
import { isOwnerAlive, ownerOfTempDir, systemProbe, type OwnerProbe } from '../owner.js';
import { waitForOrphanedCommands } from './orphaned-commands.js';
import { endOrphanedTunnels } from './orphaned-tunnels.js';

/** What a reaping removed. */
export interface OrphanReport {
  /** Containers removed. */
  containers: number;
  /** Host temp dirs removed. */
  tempDirs: number;
}

export interface ReapOptions {
  /** Every container with the library's label, whoever owns it (temp dirs still only of dead owners). */
  all?: boolean;
  /** Where the temp dirs are. @default os.tmpdir() */
  tempDir?: string;
  /** Liveness of owners. @default the running system */
  probe?: OwnerProbe;
}

/** What a reaping would remove. */
export interface ReapPlan {
  /** How many containers carry the library's label. */
  labelled: number;
  containers: LabelledContainer[];
  /** Full paths. */
  tempDirs: string[];
}

const LISTED_LABELS = [...OWNER_LABELS, SANDBOX_LABEL, ROLE_LABEL];

/**
 * The containers to remove: all of them with `all`; otherwise those whose labels name an owner that
 * is dead. A container without owner labels (made by an older version) is left alone without `all`.
 */
export function selectOrphanContainers(containers: readonly LabelledContainer[], options: { all?: boolean; probe?: OwnerProbe } = {}): LabelledContainer[] {
  if (options.all === true) return [...containers];
  const probe = options.probe ?? systemProbe;
  return containers.filter((container) => {
    const owner = ownerOfLabels(container.labels);
    return owner !== undefined && !isOwnerAlive(owner, probe);
  });
}

/** The temp dir names (of a directory listing) whose encoded owner is a dead process of this host. */
export function selectOrphanTempDirs(names: readonly string[], probe: OwnerProbe = systemProbe): string[] {
  const host = probe.host;
  return names.filter((name) => {
    const owner = ownerOfTempDir(name, host);
    return owner !== undefined && !isOwnerAlive(owner, probe);
  });
}

/**
 * Finds what to reap, once the creations that dead owners left under way have finished (so that
 * what they create is seen). Rejects (EngineUnavailableError, ...) when the engine cannot list its
 * containers.
 */
export async function planReaping(engine: DockerEngine, options: ReapOptions = {}): Promise<ReapPlan> {
  const probe = options.probe ?? systemProbe;
  await waitForOrphanedCommands(probe);
  const labelled = await engine.listLabelled(LABEL, LISTED_LABELS);
  const containers = selectOrphanContainers(labelled, { all: options.all === true, probe });
  const dir = options.tempDir ?? tmpdir();
  const names = await readdir(dir).catch(() => [] as string[]);
  const tempDirs = selectOrphanTempDirs(names, probe).map((name) => join(dir, name));
  return { labelled: labelled.length, containers, tempDirs };
}

/** Removes what a plan found: the containers in one `docker rm -f`, then the temp dirs. */
export async function executeReaping(engine: DockerEngine, plan: ReapPlan): Promise<OrphanReport> {
  await engine.removeContainers(plan.containers.map((container) => container.id));
  // An ssh tunnel that outlived its owner (no setpriv here) goes before its temp dir does.
  await endOrphanedTunnels(plan.tempDirs);
  let tempDirs = 0;
  for (const path of plan.tempDirs) {
    if (await removeOwnDirectory(path)) tempDirs += 1;
  }
  return { containers: plan.containers.length, tempDirs };
}

/** Finds and removes orphans through an engine. */
export async function reapOrphans(engine: DockerEngine, options: ReapOptions = {}): Promise<OrphanReport> {
  return executeReaping(engine, await planReaping(engine, options));
}

/** Removes a directory (never what a symbolic link points to), only when this user owns it. */
async function removeOwnDirectory(path: string): Promise<boolean> {
  try {
    const stats = await lstat(path);
    if (!stats.isDirectory()) return false;
    if (typeof process.getuid === 'function' && stats.uid !== process.getuid()) return false;
    await rm(path, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the library's containers whose owner process is gone, and their temp dirs on this host
 * (`Sandbox.initialize()` does the same). With `all: true` it removes every container carrying the
 * `docker-python-sandbox` label. Resolves with how many containers and temp dirs went; rejects with
 * EngineUnavailableError when no engine answers, SandboxOptionsError for a bad option.
 */
export async function removeOrphans(options?: RemoveOrphansOptions): Promise<OrphanReport> {
  const checked = parseRemoveOrphansOptions(options);
  const engine = new DockerEngine({ binary: checked.dockerPath, host: checked.dockerHost, ...(checked.context !== undefined && { context: checked.context }) });
  try {
    await engine.open(); // an ssh:// engine: one connection for the calls below
    const plan = await planReaping(engine, { all: checked.all === true });
    checked.beforeRemoving?.({ labelled: plan.labelled, removing: plan.containers.length });
    return await executeReaping(engine, plan);
  } finally {
    await engine.close();
  }
}
