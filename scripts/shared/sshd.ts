/**
 * An sshd of one's own on 127.0.0.1, for the ssh specs and benchmark rows: Debian's openssh-server
 * (scripts/ensure-sshd.sh installs it) run as `sshd -D -e -f <own config>` on a free port, with
 * host keys and an authorized client key made for it, in a temp dir of its own. No system-wide ssh
 * setting is read or changed: the server reads only its own config, and the client side is an
 * `ssh` wrapper (in `binDir`) that adds `-F <own client config>`, so ~/.ssh is never touched.
 * Processes that should reach it get `env` (PATH with binDir first): the library then runs
 * `ssh` as it would for a user, and finds the wrapper.
 *
 *   const sshd = await startLocalSshd();
 *   const sandbox = new Sandbox({ dockerHost: sshd.address() });   // with process.env.PATH = sshd.env.PATH
 *   await sshd.stop();
 *
 * Free of lib/ imports: spec/helpers/sshd.ts and scripts/bench share it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

export const SSHD = '/usr/sbin/sshd';
const READY_TIMEOUT_MS = 10_000;
const STOP_WAIT_MS = 5_000;
/** Tries at ports another process took between finding them free and sshd binding them. */
const PORT_ATTEMPTS = 5;

export interface LocalSshd {
  readonly port: number;
  /** The user the client logs in as (the one running this process). */
  readonly user: string;
  /** The sshd's temp dir: keys, configs, the wrapper. */
  readonly dir: string;
  /** Holds the `ssh` wrapper that adds `-F <client config>`. */
  readonly binDir: string;
  /** This process's environment with binDir first on PATH. */
  readonly env: NodeJS.ProcessEnv;
  /** The listening sshd's pid; undefined while taken down. */
  readonly pid: number | undefined;
  /** `ssh://<user>@127.0.0.1:<port>`, with the engine's socket path when given. */
  address(socketPath?: string): string;
  /** Connections sshd accepted so far (its "Accepted publickey" log lines). */
  acceptedConnections(): number;
  /** Everything sshd logged. */
  log(): string;
  /** Stops the listener and every session (their connections drop), as a host going away would. */
  takeDown(): Promise<void>;
  /** Listens again on the same port, with the same keys. */
  bringUp(): Promise<void>;
  /** Stops sshd and its sessions, and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Why no sshd can be started here, or undefined when one can. */
export function sshdMissing(): string | undefined {
  for (const binary of [SSHD, findOnPath('ssh'), findOnPath('ssh-keygen')]) {
    if (binary === undefined) return 'ssh or ssh-keygen is not installed (scripts/ensure-sshd.sh installs openssh-server as root with apt-get)';
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      return `${binary} is not installed (scripts/ensure-sshd.sh installs openssh-server as root with apt-get)`;
    }
  }
  return undefined;
}

export async function startLocalSshd(): Promise<LocalSshd> {
  const missing = sshdMissing();
  if (missing !== undefined) throw new Error(missing);
  const ssh = findOnPath('ssh')!;
  const user = userInfo().username;
  const dir = await mkdtemp(join(tmpdir(), 'dps-sshd-'));
  try {
    await chmod(dir, 0o700);
    const binDir = join(dir, 'bin');
    await mkdir(binDir);
    await Promise.all([keygen(join(dir, 'host_ed25519')), keygen(join(dir, 'client_ed25519'))]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_ed25519.pub'), 'utf8'), { mode: 0o600 });
    // sshd started by root wants its privilege-separation dir (the package's service would make it).
    if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    let lastProblem = '';
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = await freePort();
      await writeConfigs(dir, binDir, ssh, user, port);
      const server = await launch(dir, port);
      if (server.ok) return handle(dir, binDir, user, port, server.child, server.log);
      lastProblem = server.log.text;
      if (!/Bind to port|Cannot bind any address|Address already in use/i.test(lastProblem)) break;
    }
    throw new Error(`sshd did not start: ${lastProblem.trim().slice(-1_000)}`);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function keygen(file: string): Promise<void> {
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'docker-python-sandbox test', '-f', file], { stdin: 'ignore' });
}

async function writeConfigs(dir: string, binDir: string, ssh: string, user: string, port: number): Promise<void> {
  const sshdConfig = [
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${join(dir, 'host_ed25519')}`,
    'PidFile none',
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${user}`,
    'AuthenticationMethods publickey',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    // The keys live under the temp dir (world-writable /tmp above it), which StrictModes refuses.
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    // -L forwarding only (AllowTcpForwarding no would refuse forwarded unix sockets too).
    'AllowStreamLocalForwarding local',
    'AllowTcpForwarding local',
    'X11Forwarding no',
    'PermitTTY no',
    'MaxStartups 100',
    'LogLevel INFO',
  ];
  const hostKey = (await readFile(join(dir, 'host_ed25519.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  const clientConfig = [
    'Host *',
    `  IdentityFile ${join(dir, 'client_ed25519')}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${join(dir, 'known_hosts')}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  UpdateHostKeys no',
    '  LogLevel ERROR',
  ];
  await writeFile(join(dir, 'sshd_config'), `${sshdConfig.join('\n')}\n`);
  await writeFile(join(dir, 'ssh_config'), `${clientConfig.join('\n')}\n`);
  await writeFile(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  await writeFile(join(binDir, 'ssh'), `#!/bin/sh\nexec ${ssh} -F ${join(dir, 'ssh_config')} "$@"\n`, { mode: 0o755 });
}

interface Log {
  text: string;
}

async function launch(dir: string, port: number): Promise<{ ok: boolean; child: ChildProcess; log: Log }> {
  const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: Log = { text: '' };
  let exited = false;
  const listening = `Server listening on 127.0.0.1 port ${port}`;
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      if (!ok && !exited) child.kill('SIGKILL');
      resolve({ ok, child, log });
    };
    const timer = setTimeout(() => finish(false), READY_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      log.text += chunk;
      if (log.text.includes(listening)) finish(true);
    });
    child.once('error', (error) => {
      exited = true;
      log.text += `\n${error.message}`;
      finish(false);
    });
    child.once('exit', (code, signal) => {
      exited = true;
      log.text += `\nsshd exited (code ${String(code)}, signal ${String(signal)})`;
      finish(false);
    });
  });
}

function handle(dir: string, binDir: string, user: string, port: number, first: ChildProcess, firstLog: Log): LocalSshd {
  let stopped: Promise<void> | undefined;
  let server: ChildProcess | undefined = first;
  /** What earlier sshd processes (before takeDown/bringUp) logged. */
  let earlierLog = '';
  let log = firstLog;
  const allLog = (): string => earlierLog + log.text;
  const takeDown = async (): Promise<void> => {
    const child = server;
    if (child === undefined) return;
    server = undefined;
    // The listener's children are the sessions: they would go on without it.
    const sessions = await childrenOf(child.pid!);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill('SIGTERM');
    for (const pid of sessions) killQuietly(pid);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(sessions.map((pid) => gone(pid, STOP_WAIT_MS)));
    earlierLog += log.text;
    log = { text: '' };
  };
  return {
    port,
    user,
    dir,
    binDir,
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` },
    get pid() {
      return server?.pid;
    },
    address: (socketPath) => `ssh://${user}@127.0.0.1:${port}${socketPath ?? ''}`,
    acceptedConnections: () =>
      allLog()
        .split('\n')
        .filter((line) => line.startsWith('Accepted publickey')).length,
    log: allLog,
    takeDown,
    bringUp: async () => {
      if (server !== undefined) return;
      const started = await launch(dir, port);
      if (!started.ok) throw new Error(`sshd did not start again on port ${port}: ${started.log.text.trim().slice(-1_000)}`);
      server = started.child;
      log = started.log;
    },
    stop: () => {
      stopped ??= (async () => {
        await takeDown();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** Resolves once a process is gone (or ms passed). */
async function gone(pid: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline && (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)) !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A port on 127.0.0.1 nobody listens on now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function childrenOf(parent: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    if (ppid === String(parent)) children.push(Number(entry));
  }
  return children;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** A binary on PATH; never the wrapper of another LocalSshd (a spec may have put its binDir first). */
function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '' && !dir.includes('/dps-sshd-'))) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}
