/**
 * The only module that starts `docker` processes. Every call passes an argv array (never a shell
 * string) and every failure becomes a typed error carrying the command and the CLI's stderr.
 */
import { execa, type ResultPromise } from 'execa';
import type { Readable, Writable } from 'node:stream';
import { debug, debugEnabled } from '../debug.js';
import { DockerCliError, EngineUnavailableError } from '../errors.js';
import { formatCommand } from './format-command.js';

export interface DockerCliConfig {
  /** The docker binary to run. */
  binary: string;
  /** Engine address for this CLI (DOCKER_HOST); undefined keeps the environment's. */
  host: string | undefined;
  /** A Docker context to use instead of `host`. */
  context?: string | undefined;
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

export interface RunCommandOptions {
  /** Kill the CLI process after this long; the engine-side operation may still finish. */
  timeoutMs?: number;
}

/** A long-lived `docker` process whose streams the caller reads and writes. */
export interface AttachedProcess {
  readonly command: string;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles when the CLI process has exited; never rejects. */
  readonly exited: Promise<{ exitCode: number | undefined; signal: string | undefined }>;
  kill(): void;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const STDERR_IN_MESSAGE = 4_000;

/** Engine-down messages of the docker CLI (unix socket, TCP, ssh and Windows pipe forms). */
const ENGINE_DOWN =
  /Cannot connect to the Docker daemon|error during connect|Is the docker daemon running|connect: no such file or directory|connect: connection refused|dial unix .*: connect/i;

export class DockerCli {
  readonly #config: DockerCliConfig;
  readonly #env: Record<string, string> | undefined;

  constructor(config: DockerCliConfig) {
    this.#config = config;
    this.#env = config.host === undefined ? undefined : { DOCKER_HOST: config.host };
  }

  get engineAddress(): string {
    return this.#config.host ?? process.env.DOCKER_HOST ?? 'the default socket (unix:///var/run/docker.sock)';
  }

  /** Runs one docker command to completion. Rejects with EngineUnavailableError or DockerCliError. */
  async run(args: readonly string[], options: RunCommandOptions = {}): Promise<CommandOutput> {
    const command = formatCommand(this.#config.binary, args);
    const started = performance.now();
    const result = await execa(this.#config.binary, args, {
      reject: false,
      stdin: 'ignore',
      env: this.#env,
      cleanup: false, // execa's cleanup installs signal handlers; the library must not.
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      forceKillAfterDelay: 2_000,
    });
    const stdout = String(result.stdout ?? '');
    const stderr = String(result.stderr ?? '');
    logEnded(command, started, result);
    if (!result.failed) return { stdout, stderr };
    throw this.failure(command, result.exitCode, stderr, result.timedOut, result.cause ?? result);
  }

  /** Starts a docker command with piped streams, for the caller to drive. */
  spawn(args: readonly string[]): AttachedProcess {
    const command = formatCommand(this.#config.binary, args);
    const started = performance.now();
    debug('started %s', command);
    const subprocess: ResultPromise = execa(this.#config.binary, args, {
      reject: false,
      buffer: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      env: this.#env,
      cleanup: false,
    });
    const exited = subprocess.then(
      (result) => {
        logEnded(command, started, result);
        return { exitCode: result.exitCode, signal: result.signal };
      },
      () => ({ exitCode: undefined, signal: undefined }),
    );
    // A write to a CLI that already died must not become an unhandled 'error' event.
    subprocess.stdin?.on('error', () => {});
    return {
      command,
      stdin: subprocess.stdin!,
      stdout: subprocess.stdout!,
      stderr: subprocess.stderr!,
      exited,
      kill: () => {
        subprocess.kill('SIGKILL');
      },
    };
  }

  /** Turns a failed CLI call into the error a user can act on. */
  failure(command: string, exitCode: number | undefined, stderr: string, timedOut = false, cause?: unknown): Error {
    const code = (cause as { code?: string } | undefined)?.code;
    if (code === 'ENOENT') {
      return new EngineUnavailableError(
        `The docker CLI ("${this.#config.binary}") was not found. Install Docker ` +
          '(on Debian as root: `npm run setup`), or set the `dockerPath` option to the docker binary.',
        { command, stderr, cause },
      );
    }
    if (ENGINE_DOWN.test(stderr)) {
      return new EngineUnavailableError(
        `No Docker engine answers at ${this.engineAddress}. Start the engine (as root on Debian: ` +
          '`npm run setup`), or point the `dockerHost` option or DOCKER_HOST at a running one. ' +
          `docker said: ${firstLine(stderr)}`,
        { command, stderr: capped(stderr), cause },
      );
    }
    const reason = timedOut ? 'timed out' : `failed with exit code ${exitCode ?? '?'}`;
    return new DockerCliError(`${command} ${reason}: ${capped(stderr).trim() || '(no stderr)'}`, {
      command,
      exitCode,
      timedOut,
      stderr: capped(stderr),
      cause,
    });
  }
}

/** Logs how a docker command ended and how long it took (formatCommand already shortens long arguments). */
function logEnded(command: string, started: number, result: { exitCode?: number | undefined; signal?: string | undefined; timedOut?: boolean }): void {
  if (!debugEnabled()) return;
  const end = result.timedOut === true ? 'timed out' : result.exitCode !== undefined ? `exit ${result.exitCode}` : `signal ${result.signal ?? '?'}`;
  debug('%s: %s in %d ms', command, end, Math.round(performance.now() - started));
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

function capped(text: string): string {
  return text.length > STDERR_IN_MESSAGE ? `${text.slice(0, STDERR_IN_MESSAGE)}…` : text;
}
