/**
 * ssh processes of ssh:// engines (lib/docker/ssh-tunnel.ts) whose owner died. On Linux the kernel
 * ends them with their owner (setpriv --pdeathsig); where setpriv is missing one may live on, and
 * reaping ends it here: its `-L` argument names its local socket in a temp dir whose name carries
 * the owner (`<tmp>/dps-<pid>-<start>-XXXXXX/docker.sock:<remote socket>`), so a live owner's
 * tunnel, another user's or anything else is never touched. Reaping ends them just before it removes
 * their owners' temp dirs.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TUNNEL_SOCKET_NAME } from '../docker/ssh-tunnel.js';
import { isOwnerAlive, ownerOfTempDir, systemProbe, type OwnerProbe } from '../owner.js';

/** Whether an ssh command line is a tunnel of the library's whose owner is dead. */
export function isOrphanedTunnel(argv: readonly string[], probe: OwnerProbe = systemProbe): boolean {
  if (!argv.some((arg) => basename(arg) === 'ssh')) return false;
  const forward = argv[argv.indexOf('-L') + 1];
  if (!argv.includes('-L') || forward === undefined) return false;
  const local = forward.slice(0, forward.indexOf(':'));
  if (basename(local) !== TUNNEL_SOCKET_NAME) return false;
  const owner = ownerOfTempDir(basename(dirname(local)), probe.host);
  return owner !== undefined && !isOwnerAlive(owner, probe);
}

/**
 * Sends SIGTERM to the tunnels (ssh processes) still serving sockets in these temp dirs of dead
 * owners; resolves with how many. Only dirs that hold a tunnel socket cost a look at /proc, so a
 * reaping without such leftovers (the rule where setpriv ends tunnels with their owner) costs
 * nothing more. Never rejects.
 */
export async function endOrphanedTunnels(deadOwnersDirs: readonly string[], probe: OwnerProbe = systemProbe): Promise<number> {
  const sockets = new Set<string>();
  for (const dir of deadOwnersDirs) {
    const socket = join(dir, TUNNEL_SOCKET_NAME);
    if ((await lstat(socket).catch(() => undefined))?.isSocket() === true) sockets.add(socket);
  }
  if (sockets.size === 0) return 0;
  const entries = await readdir('/proc').catch(() => [] as string[]);
  let ended = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const forward = argv[argv.indexOf('-L') + 1] ?? '';
    if (!sockets.has(forward.slice(0, forward.indexOf(':'))) || !isOrphanedTunnel(argv, probe)) continue;
    try {
      process.kill(Number(entry), 'SIGTERM');
      ended += 1;
    } catch {
      // gone meanwhile, or another user's
    }
  }
  return ended;
}
