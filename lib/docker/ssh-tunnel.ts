/**
 * One ssh connection per ssh:// engine, kept open while the engine is in use: `ssh -N -L
 * <local socket>:<engine socket>` forwards a unix socket in a private temp dir (0700, the socket
 * 0600) to the engine's socket on the remote host, and every docker call of the engine goes to
 * unix://<local socket>. A docker call then costs a channel on the open connection (a round trip)
 * instead of a new ssh handshake and a remote `docker system dial-stdio` process.
 *
 * - The user's ssh setup is used as it is (~/.ssh/config host aliases, keys, ports, ssh-agent,
 *   known_hosts), in batch mode: no prompt ever, a host not in known_hosts is refused.
 * - If ssh exits, it is started again at once, then with backoff; meanwhile calls fail with
 *   EngineUnavailableError naming the ssh:// address and what ssh said.
 * - The ssh process must not outlive its owner: on Linux it is started through `setpriv
 *   --pdeathsig TERM`, so the kernel ends it when the owner dies, even by SIGKILL. The temp dir's
 *   name carries the owner (lib/owner.ts), so reaping removes it, and kills such an ssh still
 *   running where setpriv is missing (lib/runner/orphaned-tunnels.ts).
 * - The process and its stderr pipe are unref'd: a tunnel alone never keeps Node running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { dir as makeTempDir } from 'tmp-promise';
import { debug, swallowed } from '../debug.js';
import { EngineUnavailableError } from '../errors.js';
import { ownerTempDirTemplate } from '../owner.js';
import type { SshAddress } from '../engine-address.js';
import { formatCommand } from './format-command.js';

/** The local end's file name in the tunnel's temp dir; lib/runner/orphaned-tunnels.ts looks for it. */
export const TUNNEL_SOCKET_NAME = 'docker.sock';

/** How long ssh may take to connect and listen (its own ConnectTimeout is 10 s). */
const READY_TIMEOUT_MS = 20_000;
/** How long the engine may take to answer the first ping through a new tunnel. */
const PING_TIMEOUT_MS = 5_000;
/** Restarts after a failed start back off from this delay, doubling up to the next one. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 2_000;
/** How long close() waits for ssh to exit after SIGTERM, and then after SIGKILL. */
const EXIT_WAIT_MS = 2_000;
/** How much of ssh's stderr is kept for error messages. */
const STDERR_KEPT = 4_000;

interface Launch {
  process: ChildProcess;
  /** Settles (never rejects) when ssh has exited. */
  exited: Promise<string>;
  /** Set once exited: how ssh ended ("exit code 255", "signal SIGTERM"). */
  exit: string | undefined;
}

export class SshTunnel {
  /** The address as the user gave it: every error names it. */
  readonly display: string;
  readonly #address: SshAddress;
  readonly #binary: string;
  #dir: string | undefined;
  #launch: Launch | undefined;
  /** ssh is running and its socket accepts connections. */
  #listening = false;
  #starting: Promise<void> | undefined;
  #open = false;
  #failures = 0;
  #retryAt = 0;
  #stderr = '';
  /** How the last ssh process ended, for errors while it is down. */
  #lastExit: string | undefined;

  constructor(address: SshAddress, display: string, binary = 'ssh') {
    this.#address = address;
    this.display = display;
    this.#binary = binary;
  }

  /** The local socket, for DOCKER_HOST=unix://...; the same path across restarts. */
  get socketPath(): string {
    if (this.#dir === undefined) throw new Error('internal error: the ssh tunnel is not open');
    return join(this.#dir, TUNNEL_SOCKET_NAME);
  }

  /** Whether ssh runs and listens now. */
  get up(): boolean {
    return this.#listening;
  }

  /**
   * Makes the temp dir, starts ssh and waits until the engine answers through it. Rejects with
   * EngineUnavailableError (and leaves nothing behind) when ssh cannot connect or the engine does
   * not answer.
   */
  async open(): Promise<void> {
    if (this.#open) return this.ensure();
    this.#open = true;
    try {
      this.#dir = (await makeTempDir({ template: ownerTempDirTemplate() })).path;
      await this.#start();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * Resolves when ssh listens: at once when it does, after the start under way, or after a new
   * start. While a failed start's backoff lasts, rejects at once with EngineUnavailableError.
   */
  async ensure(): Promise<void> {
    if (!this.#open) throw new Error('internal error: the ssh tunnel is not open');
    if (this.#listening) return;
    if (this.#starting !== undefined) return this.#starting;
    if (performance.now() < this.#retryAt) throw this.#downError(`retrying in ${Math.ceil(this.#retryAt - performance.now())} ms`);
    return this.#start();
  }

  /** Stops ssh (SIGTERM, then SIGKILL) and removes the temp dir. Idempotent. */
  async close(): Promise<void> {
    this.#open = false;
    const launch = this.#launch;
    if (launch !== undefined && launch.exit === undefined) {
      launch.process.kill('SIGTERM');
      if (!(await settlesWithin(launch.exited, EXIT_WAIT_MS))) {
        launch.process.kill('SIGKILL');
        await settlesWithin(launch.exited, EXIT_WAIT_MS);
      }
    }
    await this.#starting?.catch(() => undefined);
    this.#listening = false;
    const dir = this.#dir;
    this.#dir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }

  /**
   * The error for a docker call that failed because of this tunnel, or of the engine behind it:
   * names the ssh:// address, the tunnel's state and what ssh said.
   */
  unavailable(command: string, dockerStderr: string, cause?: unknown): EngineUnavailableError {
    const state = this.#listening
      ? `the ssh connection is up, but the engine's socket ${this.#address.socketPath} on ${this.#address.host} did not answer` +
        ' (is the engine running there, and is that its socket? Name another one in the address: ssh://user@host/path/to/docker.sock)'
      : `the ssh connection is down (${this.#lastExit ?? 'not started'})`;
    return new EngineUnavailableError(
      `No Docker engine answers at ${this.display}: ${state}.${this.#sshSaid()} docker said: ${firstLine(this.scrub(dockerStderr))}`,
      { command, stderr: this.scrub(dockerStderr), cause },
    );
  }

  /** Text from a docker call with the local socket's path replaced by the ssh:// address. */
  scrub(text: string): string {
    if (this.#dir === undefined) return text;
    const socket = this.socketPath;
    return text.replaceAll(`unix://${socket}`, this.display).replaceAll(encodeURIComponent(socket), this.display).replaceAll(socket, this.display);
  }

  #start(): Promise<void> {
    const starting = this.#startOnce().finally(() => {
      if (this.#starting === starting) this.#starting = undefined;
    });
    this.#starting = starting;
    return starting;
  }

  async #startOnce(): Promise<void> {
    this.#stderr = '';
    const launch = this.#spawn();
    try {
      await this.#waitListening(launch);
    } catch (error) {
      launch.process.kill('SIGKILL');
      this.#backOff();
      throw error;
    }
    this.#listening = true;
    this.#failures = 0;
    debug('ssh tunnel to %s listening on %s (pid %d)', this.display, this.socketPath, launch.process.pid);
    await this.#ping(launch);
  }

  #spawn(): Launch {
    const args = this.#sshArgs();
    const [command, ...rest] = withParentDeathSignal([this.#binary, ...args]);
    debug('starting %s', formatCommand(command!, rest));
    // detached: its own session, so that a Ctrl-C meant for the owner does not cut the engine off
    // while the owner cleans up; setpriv's death signal ends it with the owner.
    const child = spawn(command!, rest, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const launch: Launch = { process: child, exited: Promise.resolve(''), exit: undefined };
    launch.exited = new Promise<string>((resolve) => {
      child.once('error', (error) => {
        launch.exit ??= `could not be started: ${error.message}`;
        resolve(launch.exit);
      });
      child.once('exit', (code, signal) => {
        launch.exit ??= code === null ? `killed by ${signal ?? '?'}` : `exited with code ${code}`;
        resolve(launch.exit);
      });
    }).then((exit) => {
      this.#onExit(launch, exit);
      return exit;
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEPT);
      debug('ssh to %s: %s', this.display, chunk.trim());
    });
    (child.stderr as Socket | null)?.unref();
    child.unref();
    this.#launch = launch;
    return launch;
  }

  #sshArgs(): string[] {
    const address = this.#address;
    // prettier-ignore
    return [
      '-N', '-T',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=10',
      '-o', 'ExitOnForwardFailure=yes',
      '-o', 'ServerAliveInterval=10',
      '-o', 'ServerAliveCountMax=3',
      '-o', 'StreamLocalBindUnlink=yes',
      '-o', 'StreamLocalBindMask=0177',
      // Its own connection, whatever ~/.ssh/config says of ControlMaster: its lifetime is the engine's.
      '-o', 'ControlMaster=no',
      '-o', 'ControlPath=none',
      '-L', `${this.socketPath}:${address.socketPath}`,
      ...(address.user === undefined ? [] : ['-l', address.user]),
      ...(address.port === undefined ? [] : ['-p', String(address.port)]),
      '--', address.host,
    ];
  }

  #onExit(launch: Launch, exit: string): void {
    if (this.#launch !== launch) return;
    const wasListening = this.#listening;
    this.#listening = false;
    this.#lastExit = `ssh ${exit}${this.#stderr.trim() === '' ? '' : `: ${lastLines(this.#stderr)}`}`;
    if (!this.#open) return;
    debug('ssh tunnel to %s ended: %s', this.display, this.#lastExit);
    // A connection that was up and dropped is started again at once; a failed start backs off.
    if (wasListening && this.#starting === undefined) void this.#start().catch(swallowed(`restarting the ssh connection to ${this.display}`));
  }

  /** Waits (bounded) until ssh accepts connections on the local socket; rejects if ssh exits first. */
  async #waitListening(launch: Launch): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    let pauseMs = 5;
    for (;;) {
      if (launch.exit !== undefined) throw this.#downError();
      if (!this.#open) throw this.#downError('the engine was closed');
      if (await canConnect(this.socketPath)) return;
      if (performance.now() > deadline) throw this.#downError(`ssh did not connect within ${READY_TIMEOUT_MS / 1000} s`);
      await Promise.race([delay(pauseMs), launch.exited]);
      pauseMs = Math.min(100, pauseMs * 2);
    }
  }

  /** One GET /_ping through the tunnel: rejects with EngineUnavailableError if the engine does not answer. */
  async #ping(launch: Launch): Promise<void> {
    const answer = await httpPing(this.socketPath, PING_TIMEOUT_MS);
    if (answer === undefined) return;
    // ssh writes why a forwarded connection failed (e.g. "open failed: connect failed: No such file or directory") a moment later.
    await Promise.race([delay(50), launch.exited]);
    throw this.unavailable(formatCommand(this.#binary, this.#sshArgs()), answer);
  }

  #backOff(): void {
    this.#failures += 1;
    this.#retryAt = performance.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.#failures - 1));
  }

  #downError(why?: string): EngineUnavailableError {
    const exit = this.#launch?.exit === undefined ? undefined : `ssh ${this.#launch.exit}`;
    const reason = [why, exit ?? (why === undefined ? this.#lastExit : undefined)].filter(Boolean).join('; ');
    return new EngineUnavailableError(
      `Could not keep an ssh connection to ${this.display}: ${reason || 'ssh is not running'}.${this.#sshSaid()} ` +
        `Check that \`${this.#manualCommand()}\` works without a prompt (a key in ssh-agent or ~/.ssh/config, the host in known_hosts).`,
      { command: formatCommand(this.#binary, this.#dir === undefined ? [] : this.#sshArgs()), stderr: this.#stderr },
    );
  }

  #sshSaid(): string {
    const said = lastLines(this.#stderr);
    return said === '' ? '' : ` ssh said: ${said}.`;
  }

  /** The command a person would type to check the connection. */
  #manualCommand(): string {
    const { user, host, port } = this.#address;
    return formatCommand('ssh', [...(port === undefined ? [] : ['-p', String(port)]), user === undefined ? host : `${user}@${host}`, 'true']);
  }
}

/**
 * The command prefixed with `setpriv --pdeathsig TERM --` where setpriv exists (Linux,
 * util-linux): the kernel then signals the command when the process that started it dies.
 */
function withParentDeathSignal(command: readonly string[]): string[] {
  const setpriv = findSetpriv();
  return setpriv === undefined ? [...command] : [setpriv, '--pdeathsig', 'TERM', '--', ...command];
}

let setprivPath: { value: string | undefined } | undefined;

function findSetpriv(): string | undefined {
  if (setprivPath === undefined) {
    let value: string | undefined;
    if (process.platform === 'linux') {
      const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
      for (const dir of dirs.filter(Boolean)) {
        try {
          accessSync(join(dir, 'setpriv'), constants.X_OK);
          value = join(dir, 'setpriv');
          break;
        } catch {
          // not in this directory
        }
      }
    }
    setprivPath = { value };
  }
  return setprivPath.value;
}

/** Whether a unix socket accepts a connection now. */
function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * GET /_ping on the engine's API through a unix socket. Resolves undefined when it answers 200,
 * else with what went wrong (a sentence, like a docker CLI's stderr).
 */
function httpPing(path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let response = '';
    const finish = (problem: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(`error during connect: no answer to GET /_ping within ${timeoutMs} ms`), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk: string) => {
      response += chunk;
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1];
      if (status !== undefined) finish(status === '200' ? undefined : `error during connect: GET /_ping answered ${status}`);
    });
    socket.once('error', (error) => finish(`error during connect: ${error.message}`));
    socket.once('end', () => finish(`error during connect: the connection was closed before an answer${response === '' ? '' : `: ${response.slice(0, 200)}`}`));
  });
}

/** A pause of the start's bounded readiness wait (awaited, so never unref'd). */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true), late]);
  clearTimeout(timer);
  return settled;
}

function lastLines(text: string, count = 3): string {
  return text
    .trim()
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' / ');
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
