/**
 * The only module that starts `docker` processes. Every call passes an argv array (never a shell
 * string) and every failure becomes a typed error carrying the command and the CLI's stderr.
 *
 * Which engine a call reaches is set through the child's environment: DOCKER_HOST for an address
 * (DOCKER_CONTEXT removed, or it could win), DOCKER_CONTEXT for a context (DOCKER_HOST removed:
 * the CLI lets it override any context). After open(), an ssh:// engine (given, from DOCKER_HOST,
 * or a context's endpoint) is reached through one ssh connection kept open (lib/docker/ssh-tunnel.ts),
 * and a plain tcp:// one has been warned about.
 *
 * The binary may be Podman's CLI (`dockerPath: 'podman'`, or a `docker` that is Podman): open() finds
 * out once (lib/docker/engine-flavour.ts). Podman is driven on this machine only: it reads neither
 * DOCKER_HOST nor Docker contexts, so a `dockerHost` or `context` with it is refused rather than
 * silently ignored.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { debug, debugEnabled, swallowed } from '../debug.js';
import { DockerCliError, EngineUnavailableError, SandboxOptionsError } from '../errors.js';
import { parseEngineAddress } from '../engine-address.js';
import {
  CONTEXT_INSPECT_FORMAT,
  CONTEXT_NOT_FOUND,
  contextFromEnvironment,
  contextNotFoundMessage,
  endpointOfContext,
  hostFromEnvironment,
  tlsFromEnvironment,
  warnPlaintextTcpOnce,
  type Endpoint,
} from './engine-endpoint.js';
import { flavourOfVersion, guessFlavour, type EngineFlavour } from './engine-flavour.js';
import { formatCommand } from './format-command.js';
import { SshTunnel } from './ssh-tunnel.js';

export interface DockerCliConfig {
  /** The docker binary to run. */
  binary: string;
  /** Engine address for this CLI (DOCKER_HOST); undefined keeps the environment's. */
  host: string | undefined;
  /** A Docker context to use instead of `host` (never both). */
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
/** The Podman CLI's working directory (DockerCli's #workingDirectory), made once. */
let podmanDirectory: string | undefined;
/** `<binary> --version` asks no engine: it answers in milliseconds. */
const VERSION_TIMEOUT_MS = 10_000;
const STDERR_IN_MESSAGE = 4_000;

/** Engine-down messages of the docker CLI (unix socket, TCP, ssh and Windows pipe forms). */
const ENGINE_DOWN =
  /Cannot connect to the Docker daemon|Cannot connect to Podman|error during connect|Is the docker daemon running|connect: no such file or directory|connect: connection refused|dial unix .*: connect/i;
/** A TLS engine asked without TLS (what Go's TLS server answers to plain HTTP). */
const TLS_EXPECTED = /Client sent an HTTP request to an HTTPS server/i;
/** TLS set up wrong on either side: certificates missing, unreadable, not trusted, or refused. */
const TLS_FAILED =
  /\bx509: |\btls: |could not read (CA|certificate|key)|unable to (load|read) .*(certificate|key)|certificate signed by unknown authority|first record does not look like a TLS handshake/i;

/** Environment variables that choose the engine or its TLS: a call's route sets or removes them. */
const TLS_VARIABLES = ['DOCKER_TLS', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH'] as const;

/** How a call reaches its engine: variables set in, and removed from, the CLI's environment. */
interface Route {
  readonly set: Readonly<Record<string, string>>;
  readonly unset: readonly string[];
}

/** The route of a config before open(): its address or context, else the environment as it is. */
function routeOf(config: DockerCliConfig): Route {
  if (config.host !== undefined) return { set: { DOCKER_HOST: config.host }, unset: ['DOCKER_CONTEXT'] };
  if (config.context !== undefined) return { set: { DOCKER_CONTEXT: config.context }, unset: ['DOCKER_HOST'] };
  return { set: {}, unset: [] };
}

/** The child's environment for a route; undefined means this process's own. Built per call: specs and apps may change process.env. */
function environmentOf(route: Route): NodeJS.ProcessEnv | undefined {
  if (route.unset.length === 0 && Object.keys(route.set).length === 0) return undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, ...route.set };
  for (const name of route.unset) delete env[name];
  return env;
}

export class DockerCli {
  readonly #config: DockerCliConfig;
  #route: Route;
  /** The ssh connection of an ssh:// engine, between open() and close(). */
  #tunnel: SshTunnel | undefined;
  #opening: Promise<void> | undefined;
  /** Docker or Podman: guessed from the binary's name until open() has asked it. */
  #flavour: EngineFlavour;
  #flavourFound = false;

  constructor(config: DockerCliConfig) {
    this.#config = config;
    this.#route = routeOf(config);
    this.#flavour = guessFlavour(config.binary);
  }

  /** The binary this CLI runs (as given: a name on PATH or a path). */
  get binary(): string {
    return this.#config.binary;
  }

  /** Which engine the binary drives (Docker or Podman): asked at open(), guessed from the binary's name before. */
  get flavour(): EngineFlavour {
    return this.#flavour;
  }

  /** How errors name the engine: the address or context as the user gave it. */
  get engineAddress(): string {
    const { host, context } = this.#config;
    if (this.#flavour.kind === 'podman') return podmanAddress();
    if (this.#tunnel !== undefined) return this.#tunnel.display;
    if (host !== undefined) return host;
    if (context !== undefined) return `the Docker context "${context}"`;
    const fromEnvironment = hostFromEnvironment(process.env);
    if (fromEnvironment !== undefined) return fromEnvironment;
    const current = contextFromEnvironment(process.env);
    return current === undefined ? 'the default socket (unix:///var/run/docker.sock)' : `the Docker context "${current}"`;
  }

  /**
   * Gets ready for many calls: finds the engine's address (a context's endpoint included; a missing
   * context is an EngineUnavailableError naming it), warns once about a plain tcp:// engine, and
   * for an ssh:// engine opens the one ssh connection its calls will use. Idempotent; without it
   * every call works too, an ssh:// one through a new ssh connection of the docker CLI's own.
   */
  async open(): Promise<void> {
    this.#opening ??= this.#open().catch(async (error: unknown) => {
      this.#opening = undefined;
      await this.#closeTunnel();
      throw error;
    });
    return this.#opening;
  }

  /** Closes what open() opened (the ssh connection and its temp dir). Idempotent; open() may follow. */
  async close(): Promise<void> {
    const opening = this.#opening;
    this.#opening = undefined;
    await opening?.catch(() => undefined);
    await this.#closeTunnel();
  }

  async #open(): Promise<void> {
    await this.#findFlavour();
    if (this.#flavour.kind === 'podman') return this.#refuseEngineChoice();
    const endpoint = await this.#endpoint();
    if (endpoint === undefined) return; // the default local socket
    const address = parseEngineAddress(endpoint.address);
    if (address.kind === 'invalid') {
      const shown = endpoint.display.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@'); // never a password in a message
      throw new EngineUnavailableError(`${shown} is not an engine address: ${address.reason}.`, { command: '', stderr: '' });
    }
    if (address.kind === 'tcp' && !endpoint.tls) warnPlaintextTcpOnce(endpoint);
    if (address.kind !== 'ssh') return;
    const tunnel = new SshTunnel(address, endpoint.display);
    this.#tunnel = tunnel;
    await tunnel.open();
    // The tunnel's local end is a unix socket: no context and no TLS settings apply to it.
    this.#route = { set: { DOCKER_HOST: `unix://${tunnel.socketPath}` }, unset: ['DOCKER_CONTEXT', ...TLS_VARIABLES] };
  }

  /**
   * Asks the binary what it is, once (`--version`: no engine needed). A binary that cannot say (a
   * wrapper printing something else) keeps the guess; one that cannot run fails the next call anyway.
   */
  async #findFlavour(): Promise<void> {
    if (this.#flavourFound) return;
    try {
      const { stdout } = await this.#execute(['--version'], { timeoutMs: VERSION_TIMEOUT_MS }, { set: {}, unset: [] });
      this.#flavour = flavourOfVersion(stdout, this.#config.binary) ?? this.#flavour;
      this.#flavourFound = true;
    } catch (error) {
      debug('%s --version failed (%s); taking it for %s', this.#config.binary, (error as Error).message, this.#flavour.kind);
    }
  }

  /**
   * Where the binary runs: this process's working directory for Docker; for Podman a directory of
   * the library's own, because Podman's conmon writes a file named `oom` into the podman CLI's
   * working directory whenever a container is OOM-killed (seen with Debian's Podman 4.3): it must
   * not land in the user's. One fixed directory under the temp dir, so that it never piles up.
   */
  #workingDirectory(): string | undefined {
    if (this.#flavour.kind !== 'podman') return undefined;
    if (podmanDirectory === undefined) {
      podmanDirectory = join(tmpdir(), 'docker-python-sandbox-podman');
      mkdirSync(podmanDirectory, { recursive: true, mode: 0o700 });
    }
    return podmanDirectory;
  }

  /** Podman goes to its own engine whatever DOCKER_HOST or a Docker context says: an address given for it would be ignored. */
  #refuseEngineChoice(): void {
    const { host, context } = this.#config;
    if (host === undefined && context === undefined) return;
    throw new SandboxOptionsError([
      {
        path: host !== undefined ? 'dockerHost' : 'context',
        message:
          `"${this.#config.binary}" is Podman, which this library drives on this machine only: it reads neither DOCKER_HOST nor Docker contexts, ` +
          'so the engine named here would be ignored. Leave dockerHost and context unset to use the local Podman, or use the docker CLI for another engine',
      },
    ]);
  }

  async #closeTunnel(): Promise<void> {
    const tunnel = this.#tunnel;
    this.#tunnel = undefined;
    this.#route = routeOf(this.#config);
    await tunnel?.close();
  }

  /** Where the CLI would go, as it decides: the given address, the given context, DOCKER_HOST, DOCKER_CONTEXT, the current context. */
  async #endpoint(): Promise<Endpoint | undefined> {
    const { host, context } = this.#config;
    if (host !== undefined) return { address: host, display: host, tls: tlsFromEnvironment(process.env) };
    if (context !== undefined) return this.#contextEndpoint(context);
    const fromEnvironment = hostFromEnvironment(process.env);
    if (fromEnvironment !== undefined) return { address: fromEnvironment, display: fromEnvironment, tls: tlsFromEnvironment(process.env) };
    const current = contextFromEnvironment(process.env);
    return current === undefined ? undefined : this.#contextEndpoint(current);
  }

  async #contextEndpoint(name: string): Promise<Endpoint> {
    const args = ['context', 'inspect', '--format', CONTEXT_INSPECT_FORMAT, name];
    const { stdout } = await this.#execute(args, { timeoutMs: 30_000 }, { set: {}, unset: ['DOCKER_HOST', 'DOCKER_CONTEXT'] });
    const endpoint = endpointOfContext(name, stdout);
    if (endpoint !== undefined) return endpoint;
    throw new EngineUnavailableError(
      `The Docker context "${name}" has no docker endpoint (\`docker context inspect ${name}\` shows it): ${stdout.trim().slice(0, 300)}`,
      {
        command: formatCommand(this.#config.binary, args),
        stderr: '',
      },
    );
  }

  /** Runs one docker command to completion. Rejects with EngineUnavailableError or DockerCliError. */
  async run(args: readonly string[], options: RunCommandOptions = {}): Promise<CommandOutput> {
    // An ssh:// engine's connection dropped: wait for its restart, or fail at once while it backs off.
    await this.#tunnel?.ensure();
    return this.#execute(args, options, this.#route);
  }

  async #execute(args: readonly string[], options: RunCommandOptions, route: Route): Promise<CommandOutput> {
    const command = formatCommand(this.#config.binary, args);
    const started = performance.now();
    const env = environmentOf(route);
    const result = await execa(this.#config.binary, args, {
      reject: false,
      stdin: 'ignore',
      cwd: this.#workingDirectory(),
      env,
      extendEnv: env === undefined,
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
    // A dropped ssh connection is started again meanwhile; this CLI then fails as with an engine down.
    const tunnel = this.#tunnel;
    if (tunnel !== undefined && !tunnel.up) void tunnel.ensure().catch(swallowed(`reconnecting to ${tunnel.display}`));
    const env = environmentOf(this.#route);
    const subprocess: ResultPromise = execa(this.#config.binary, args, {
      reject: false,
      buffer: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      cwd: this.#workingDirectory(),
      env,
      extendEnv: env === undefined,
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
  failure(command: string, exitCode: number | undefined, rawStderr: string, timedOut = false, cause?: unknown): Error {
    const tunnel = this.#tunnel;
    // Errors name the address the user gave, never the tunnel's local socket.
    const stderr = tunnel?.scrub(rawStderr) ?? rawStderr;
    const code = (cause as { code?: string } | undefined)?.code;
    if (code === 'ENOENT' && this.#flavour.kind === 'podman') {
      return new EngineUnavailableError(
        `The podman CLI ("${this.#config.binary}") was not found. Install Podman (on Debian as root: \`npm run setup:podman\`), ` +
          'or set the `dockerPath` option to the podman or docker binary.',
        { command, stderr, cause },
      );
    }
    if (code === 'ENOENT') {
      return new EngineUnavailableError(
        `The docker CLI ("${this.#config.binary}") was not found. Install Docker ` +
          '(on Debian as root: `npm run setup`), or set the `dockerPath` option to the docker binary.',
        { command, stderr, cause },
      );
    }
    const missingContext = CONTEXT_NOT_FOUND.exec(stderr);
    if (missingContext !== null) return new EngineUnavailableError(contextNotFoundMessage(missingContext[1] ?? ''), { command, stderr: capped(stderr), cause });
    if (tunnel !== undefined && (ENGINE_DOWN.test(stderr) || !tunnel.up)) return tunnel.unavailable(command, capped(rawStderr), cause);
    if (TLS_EXPECTED.test(stderr)) {
      return new EngineUnavailableError(
        `The engine at ${this.engineAddress} speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (a directory with ca.pem, cert.pem and key.pem) ` +
          `in the environment, or use a context made with its certificates. docker said: ${firstLine(stderr)}`,
        { command, stderr: capped(stderr), cause },
      );
    }
    if (TLS_FAILED.test(stderr)) {
      return new EngineUnavailableError(
        `TLS with the engine at ${this.engineAddress} failed: check DOCKER_CERT_PATH (ca.pem: the CA that signed the engine's certificate; ` +
          `cert.pem and key.pem: a client certificate that CA signed) or the context's certificates. docker said: ${firstLine(stderr)}`,
        { command, stderr: capped(stderr), cause },
      );
    }
    if (ENGINE_DOWN.test(stderr) && this.#flavour.kind === 'podman') {
      return new EngineUnavailableError(
        `Podman does not answer at ${this.engineAddress}: check \`podman system connection list\` and CONTAINER_HOST. podman said: ${firstLine(stderr)}`,
        { command, stderr: capped(stderr), cause },
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

/** How errors name a Podman engine: its remote address, else the local one. */
function podmanAddress(): string {
  const remote = process.env.CONTAINER_HOST;
  return remote !== undefined && remote !== '' ? remote : 'the local Podman (podman info)';
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

function capped(text: string): string {
  return text.length > STDERR_IN_MESSAGE ? `${text.slice(0, STDERR_IN_MESSAGE)}…` : text;
}
