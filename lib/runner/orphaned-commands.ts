/**
 * Docker CLI processes of dead owners still at work on this host. A `docker run --detach` (a
 * network-namespace holder) started just before its owner was SIGKILLed goes on without it and
 * creates its container a moment later: a reaping that lists containers before such a command has
 * finished would miss what it creates. So reaping first waits for them, briefly.
 *
 * They are found by their argv: every container the library creates is made with `--label`
 * arguments naming its owner (lib/docker/labels.ts). Attached runs (`--interactive`) are left out:
 * they live as long as their container, and one whose owner died ends by itself, since its loader
 * reads the end of its stdin.
 */
import { readdir, readFile } from 'node:fs/promises';
import { LABEL, ownerOfLabels } from '../docker/labels.js';
import { isOwnerAlive, systemProbe, type OwnerProbe } from '../owner.js';
import { delay } from './bounded-wait.js';

/** How often and how long reaping waits for a dead owner's commands: they normally take well under 2 s. */
const POLL_MS = 50;
export const ORPHANED_COMMANDS_WAIT_MS = 10_000;

/** The labels a docker command line sets with `--label KEY[=VALUE]` (or `--label=KEY[=VALUE]`). */
export function labelsOfArgv(argv: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  argv.forEach((arg, index) => {
    const text = arg === '--label' ? argv[index + 1] : arg.startsWith('--label=') ? arg.slice('--label='.length) : undefined;
    if (text === undefined) return;
    const at = text.indexOf('=');
    if (at < 0) labels[text] = '';
    else labels[text.slice(0, at)] = text.slice(at + 1);
  });
  return labels;
}

/** Whether a command line is a container creation of the library's whose owner is dead. */
export function isOrphanedCreation(argv: readonly string[], probe: OwnerProbe = systemProbe): boolean {
  if (argv.includes('--interactive') || argv.includes('-i')) return false;
  const labels = labelsOfArgv(argv);
  if (!(LABEL in labels)) return false;
  const owner = ownerOfLabels(labels);
  return owner !== undefined && !isOwnerAlive(owner, probe);
}

/** Pids of this host's running commands that create containers for dead owners. */
export async function findOrphanedCommands(probe: OwnerProbe = systemProbe): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    // Most processes are not ours: look for the label before parsing anything.
    if (!cmdline.includes(LABEL) || !isOrphanedCreation(cmdline.split('\0'), probe)) continue;
    if (await isRunning(entry)) found.push(Number(entry));
  }
  return found;
}

/**
 * Waits (up to ms) until no command found by findOrphanedCommands() is running; resolves with how
 * many still were when time ran out (0 normally). Never rejects.
 */
export async function waitForOrphanedCommands(probe: OwnerProbe = systemProbe, ms = ORPHANED_COMMANDS_WAIT_MS): Promise<number> {
  let pending = await findOrphanedCommands(probe);
  const deadline = performance.now() + ms;
  while (pending.length > 0 && performance.now() < deadline) {
    await delay(POLL_MS);
    const still = await Promise.all(pending.map((pid) => isRunning(String(pid))));
    pending = pending.filter((_, index) => still[index]);
  }
  return pending.length;
}

/** A process exists and is not a zombie (a dead command whose parent has not reaped it yet). */
async function isRunning(pid: string): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
