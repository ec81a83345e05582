/**
 * The ssh specs' sshd (scripts/shared/sshd.ts: its own config, keys and port on 127.0.0.1), stopped
 * when the test ends, and a look at the library's ssh tunnel processes on this host.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { TUNNEL_SOCKET_NAME } from '../../lib/docker/ssh-tunnel.js';
import { sshdMissing, startLocalSshd, type LocalSshd } from '../../scripts/shared/sshd.js';

export { sshdMissing, type LocalSshd };

const endWork = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Work for the end of a test, done last registered first (node:test runs t.after hooks in the order
 * they were added): a Sandbox registered after the sshd is cleaned up while the sshd still runs.
 */
export function atEnd(t: TestContext, work: () => unknown): void {
  let works = endWork.get(t);
  if (works === undefined) {
    const list: (() => unknown)[] = [];
    works = list;
    endWork.set(t, list);
    t.after(async () => {
      const problems: unknown[] = [];
      for (const next of list.reverse()) await Promise.resolve(next()).catch((error: unknown) => problems.push(error));
      if (problems.length > 0) throw problems[0];
    });
  }
  works.push(work);
}

/** A running sshd of the test's own, stopped (with its sessions) when the test ends (see atEnd). */
export async function startSshd(t: TestContext): Promise<LocalSshd> {
  const sshd = await startLocalSshd();
  atEnd(t, () => sshd.stop());
  return sshd;
}

/**
 * Makes this process's `ssh` the sshd's wrapper (its binDir first on PATH) until the test ends:
 * the library then starts ssh as it would for a user, and reaches the test's sshd.
 */
export function useSshdClient(t: TestContext, sshd: LocalSshd): void {
  const path = process.env.PATH;
  process.env.PATH = sshd.env.PATH;
  atEnd(t, () => {
    process.env.PATH = path;
  });
}

export interface TunnelProcess {
  pid: number;
  /** The local end: <tmp>/dps-<owner pid>-<start>-XXXXXX/docker.sock. */
  socket: string;
}

/** The ssh tunnel processes (lib/docker/ssh-tunnel.ts) whose temp dir names the owner pid. */
export async function tunnelProcesses(ownerPid: number): Promise<TunnelProcess[]> {
  const found: TunnelProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const forward = argv[argv.indexOf('-L') + 1];
    if (!argv.includes('-L') || forward === undefined || !/(^|\/)ssh$/.test(argv[0] ?? '')) continue;
    const socket = forward.slice(0, forward.indexOf(':'));
    if (new RegExp(`/dps-${ownerPid}-[^/]+/${TUNNEL_SOCKET_NAME}$`).test(socket) && (await isRunning(entry))) found.push({ pid: Number(entry), socket });
  }
  return found;
}

/** A process exists and is not a zombie. */
export async function isRunning(pid: number | string): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
