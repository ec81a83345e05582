/**
 * What a Sandbox may leave behind, counted against a snapshot taken before it started: containers
 * on the engine and temp dirs. The library's temp dirs go to a TMPDIR of the soak's own, because
 * other processes on this machine make (and reap) dps-* dirs in the shared one and would blur
 * the count.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CONTAINER_LABEL } from '../../lib/index.js';
import { OWNER_PID_LABEL, SANDBOX_LABEL } from '../../lib/docker/labels.js';
import { containersLabelled } from '../shared/docker.js';

export interface Leftovers {
  sandboxContainers: string[];
  ownNewLabelledContainers: string[];
  foreignNewLabelledContainers: number;
  tempEntries: string[];
  tempDirsInSharedTmp: string[];
}

export interface Snapshot {
  sharedTmp: string;
  /** The soak's own TMPDIR (remove it at the end). */
  privateTmp: string;
  sharedTmpBefore: Set<string>;
  labelledBefore: Set<string>;
}

async function dpsEntries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => name.startsWith('dps-'));
}

/** The owner-pid label of each container (containers gone meanwhile are left out). */
async function ownerPids(ids: readonly string[]): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  if (ids.length === 0) return owners;
  // Not through docker(): a container removed meanwhile makes inspect exit 1, and the others still count.
  const result = await execa('docker', ['inspect', '--format', `{{.Id}} {{index .Config.Labels "${OWNER_PID_LABEL}"}}`, ...ids], {
    reject: false,
    stdin: 'ignore',
  });
  for (const line of result.stdout.split('\n')) {
    const [id, pid = ''] = line.trim().split(' ');
    if (id) owners.set(id, pid);
  }
  return owners;
}

/** Notes what is there now and points TMPDIR at a fresh dir of the soak's own (before any Sandbox exists). */
export async function takeSnapshot(): Promise<Snapshot> {
  const sharedTmp = tmpdir();
  const sharedTmpBefore = new Set(await dpsEntries(sharedTmp));
  const privateTmp = await mkdtemp(join(sharedTmp, `soak-${process.pid}-`));
  process.env.TMPDIR = privateTmp;
  const labelledBefore = new Set(await containersLabelled(CONTAINER_LABEL));
  return { sharedTmp, privateTmp, sharedTmpBefore, labelledBefore };
}

/** After the Sandbox's cleanup(): its containers, new labelled ones of this process, temp entries. */
export async function findLeftovers(snapshot: Snapshot, sandboxId: string): Promise<Leftovers> {
  const sandboxContainers = await containersLabelled(`${SANDBOX_LABEL}=${sandboxId}`);
  const newLabelled = (await containersLabelled(CONTAINER_LABEL)).filter((id) => !snapshot.labelledBefore.has(id));
  const owners = await ownerPids(newLabelled);
  const ownNewLabelled = newLabelled.filter((id) => !owners.has(id) || owners.get(id) === String(process.pid));
  const tempEntries = await readdir(snapshot.privateTmp);
  const tempDirsInSharedTmp = (await dpsEntries(snapshot.sharedTmp)).filter(
    (name) => !snapshot.sharedTmpBefore.has(name) && name.startsWith(`dps-${process.pid}-`),
  );
  return {
    sandboxContainers,
    ownNewLabelledContainers: ownNewLabelled,
    foreignNewLabelledContainers: newLabelled.length - ownNewLabelled.length,
    tempEntries,
    tempDirsInSharedTmp,
  };
}
