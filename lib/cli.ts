#!/usr/bin/env node
/**
 * The `docker-python-sandbox` command: run one Python file in a fresh sandbox container.
 * The program's output goes to this process's stdout and stderr and its exit code becomes ours
 * (124 on timeout, 125 when the sandbox itself failed, 2 for a usage error or a bad option).
 * `cleanup` removes the containers and temp dirs that killed processes left behind; `image load`
 * copies the sandbox image onto another engine.
 * The CLI owns its process, so it answers SIGINT and SIGTERM (the library never installs handlers).
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { ImageTransfer } from './docker/image-transfer.js';
import { LABEL } from './docker/labels.js';
import { ImageNotFoundError, RunParamsError, SandboxError, SandboxOptionsError } from './errors.js';
import { DEFAULT_IMAGE } from './options.js';
import { removeOrphans } from './runner/orphan-reaper.js';
import { Sandbox } from './sandbox.js';
import type { RunResult } from './result.js';
import { formatBytes as formatSize, TransferProgress } from './transfer-progress.js';
import { serve, SERVE_USAGE, ServeUsageError } from './serve-command.js';
import { doctor, DOCTOR_USAGE, DoctorUsageError } from './doctor-command.js';
import { ServiceOptionsError, type SandboxService } from './server/server.js';

export const EXIT_TIMEOUT = 124;
export const EXIT_SANDBOX_FAILED = 125;
export const EXIT_USAGE = 2;

const USAGE = `Usage: docker-python-sandbox run <file.py | -> [options]
       docker-python-sandbox cleanup [--all] [--docker-host <address> | --context <name>] [--docker <path>]
       docker-python-sandbox image load (--docker-host <address> | --context <name>) [--image <name>]
       docker-python-sandbox serve [options]   (see: docker-python-sandbox serve --help)
       docker-python-sandbox doctor [options]  (see: docker-python-sandbox doctor --help)
       docker-python-sandbox --version

run: runs a Python 3 program in a fresh, locked-down Docker container (no network).
The program's stdout and stderr are printed as they are, as the program writes them; the exit
code is the program's, 124 when it timed out, 125 when the sandbox could not run it.
Ctrl-C (SIGINT) or SIGTERM stops the program and removes its container before exiting 130 / 143.

cleanup: removes the sandbox containers whose owner process is gone (killed before it could
clean up) and their temp dirs on this host; containers of live processes are left alone.
With --all, it says how many containers carry the label docker-python-sandbox, then removes
every one of them, live sandboxes' included. Exits 0, or 125 when no engine answers.

image load: copies the sandbox image from this machine's engine (the one docker uses here by
default) to the engine named by --docker-host or --context (docker save | docker load, progress
on stderr); nothing is sent when that engine already has the same image id. Exits 0, or 125 when
the image is not here (run \`npm run setup\` first) or an engine fails.

Options:
  --timeout <ms>    wall-clock limit (default 10000)
  --memory <mb>     memory limit in MiB, no swap (default 50)
  --image <name>    sandbox image (default docker-python-sandbox:latest)
  --runtime <name>  OCI runtime, e.g. runsc for gVisor (default: the engine's)
  --stdin <file>    feed this file to the program's stdin (default: empty)
  --arg <value>     an argument for the program (sys.argv[1:]); repeat for more
  --env <NAME=VAL>  an environment variable for the program; repeat for more
  --file <PATH=LOCAL>
                    put the local file LOCAL at PATH in the program's work dir; repeat for more
  --collect <glob>  bring back work-dir files matching this path or glob after the run
                    (e.g. '*.png', 'out/**'); repeat for more; needs --out (or --json)
  --out <dir>       write the collected files here, under their work-dir paths
  --json            print the whole result as JSON instead of the program's output
                    (collected files as base64 under "files")
  --docker-host <address>
                    the engine to use, e.g. ssh://user@host or tcp://host:2376
                    (default: DOCKER_HOST, else the default socket)
  --context <name>  the Docker context to reach the engine through (docker context ls);
                    not with --docker-host (default: DOCKER_CONTEXT, else the current one)
  --docker <path>   the docker binary, or podman (run and cleanup; default: docker on PATH)
  --all             cleanup only: remove every container of the library, not just orphans
  --version         print the version of docker-python-sandbox
  -h, --help        show this help
`;

class UsageError extends Error {}

/**
 * Set by the first SIGINT or SIGTERM. From then on the signal decides the exit code, and nothing
 * reports the run it cut short (its SandboxClosedError is not a sandbox failure).
 */
let interruptedBy: NodeJS.Signals | undefined;
/** The Sandbox a signal must clean up: set once it may have started containers. */
let activeSandbox: Sandbox | undefined;
/** The image transfer a signal must close (its ssh connections), while `image load` runs. */
let activeTransfer: ImageTransfer | undefined;
/** The HTTP service `serve` runs: a signal shuts it down gracefully, and the exit is 0. */
let activeService: SandboxService | undefined;

/** The shell's convention for a process ended by a signal: 128 + its number (SIGINT 130, SIGTERM 143). */
function exitCodeOfSignal(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * First signal: remove everything this invocation started (the running container, its
 * network-namespace holders, its temp dirs: cleanup() aborts the run and waits for all of it),
 * then exit. A second signal does not wait for that.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (interruptedBy !== undefined) process.exit(exitCodeOfSignal(interruptedBy));
  interruptedBy = signal;
  if (activeService !== undefined) {
    // Stop accepting, let runs in flight finish (bounded), remove the containers: a clean stop.
    void activeService.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`docker-python-sandbox: ${signal}: the service did not close cleanly: ${(error as Error).message}
`);
        process.exit(EXIT_SANDBOX_FAILED);
      },
    );
    return;
  }
  const code = exitCodeOfSignal(signal);
  // A load cut short loads nothing (docker load gets a truncated stream): only its connections are left to close.
  if (activeTransfer !== undefined) void activeTransfer.close().finally(() => process.exit(code));
  if (activeSandbox === undefined) {
    if (activeTransfer === undefined) process.exit(code);
    return;
  }
  activeSandbox
    .cleanup()
    .catch((error: unknown) =>
      process.stderr.write(`docker-python-sandbox: ${signal}: could not remove the sandbox's containers: ${(error as Error).message}\n`),
    )
    .finally(() => process.exit(code));
}

function version(): string {
  // lib/cli.ts under tsx and dist/cli.js once built both sit one directory below package.json.
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** The options each command takes (--help and --version go anywhere). */
const OPTIONS_OF: Record<'run' | 'cleanup' | 'image load', readonly string[]> = {
  run: ['timeout', 'memory', 'image', 'runtime', 'stdin', 'arg', 'env', 'file', 'collect', 'out', 'json', 'docker-host', 'context', 'docker'],
  cleanup: ['all', 'docker-host', 'context', 'docker'],
  'image load': ['docker-host', 'context', 'image'],
};

/** Where a command's docker calls go: `dockerHost` or `context` (never both), or the environment's engine. */
type EngineChoice = { dockerHost?: string; context?: string; dockerPath?: string };

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'serve') {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(SERVE_USAGE);
      return 0;
    }
    activeService = await serve(argv.slice(1), process.env);
    return 0; // the server keeps the process alive until a signal
  }
  if (argv[0] === 'doctor') {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(DOCTOR_USAGE);
      return 0;
    }
    return doctor(argv.slice(1), process.env, process.stdout);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      tokens: true,
      options: {
        timeout: { type: 'string' },
        memory: { type: 'string' },
        image: { type: 'string' },
        runtime: { type: 'string' },
        stdin: { type: 'string' },
        arg: { type: 'string', multiple: true },
        env: { type: 'string', multiple: true },
        file: { type: 'string', multiple: true },
        collect: { type: 'string', multiple: true },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        'docker-host': { type: 'string' },
        docker: { type: 'string' },
        context: { type: 'string' },
        all: { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const [command, file, ...rest] = positionals;
  const name = command === 'image' ? `image ${file ?? ''}`.trim() : command;
  if (name === 'run' || name === 'cleanup' || name === 'image load') {
    const given = new Set(tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : [])));
    for (const option of given) {
      if (option === 'all' && name !== 'cleanup') throw new UsageError('--all is an option of "cleanup"');
      if (!OPTIONS_OF[name].includes(option)) throw new UsageError(`--${option} is not an option of "${name}"`);
    }
  }
  const engine = engineChoice(values['docker-host'], values.context, values.docker);
  if (command === 'cleanup') {
    if (positionals.length > 1) throw new UsageError(`"cleanup" takes no arguments, got "${positionals.slice(1).join(' ')}"`);
    return cleanup(values.all, engine);
  }
  if (command === 'image') {
    if (file !== 'load' || rest.length > 0) throw new UsageError(`expected "image load", got "${positionals.join(' ')}"`);
    if (engine.dockerHost === undefined && engine.context === undefined) {
      throw new UsageError('"image load" needs the engine to load the image onto: --docker-host <address> or --context <name>');
    }
    return loadImage(values.image ?? DEFAULT_IMAGE, engine);
  }
  if (command !== 'run' || file === undefined || rest.length > 0) {
    throw new UsageError(
      command === undefined ? 'missing command' : `expected "run <file.py | ->", "cleanup [--all]" or "image load", got "${positionals.join(' ')}"`,
    );
  }

  // Usage errors that need no input are refused first: `run -` must not wait for stdin to refuse them.
  if (file === '-' && values.stdin === '-') throw new UsageError('the program and --stdin cannot both come from standard input');
  const env = Object.fromEntries((values.env ?? []).map((pair) => splitPair('--env', pair, 'NAME=VALUE')));
  const localFiles = (values.file ?? []).map((pair) => splitPair('--file', pair, 'PATH=LOCAL'));
  const collect = values.collect ?? [];
  if (collect.length > 0 && values.out === undefined && !values.json)
    throw new UsageError('--collect needs --out <dir> to write the files to (or --json to print them)');
  if (values.out !== undefined && collect.length === 0) throw new UsageError('--out needs at least one --collect <glob> saying which files to bring back');
  const sandbox = new Sandbox({
    poolSize: 1,
    ...(values.timeout !== undefined && { timeoutMs: toNumber('--timeout', values.timeout) }),
    ...(values.memory !== undefined && { memoryLimitMb: toNumber('--memory', values.memory) }),
    ...(values.image !== undefined && { image: values.image }),
    ...(values.runtime !== undefined && { runtime: values.runtime }),
    ...engine,
  });

  const code = file === '-' ? await readStdin() : await readCode(file);
  const stdin = values.stdin === undefined ? undefined : values.stdin === '-' ? Buffer.from(await readStdin()) : await readInput(values.stdin);
  const files: Record<string, Buffer> = {};
  for (const [path, local] of localFiles) files[path] = await readInput(local);
  // Without --json, the output is passed on as it arrives; the result then only adds what is left.
  const streamed = values.json ? undefined : new StreamedOutput();
  activeSandbox = sandbox;
  try {
    await sandbox.initialize();
    const result = await sandbox.run({ code, stdin, argv: values.arg ?? [], env, files, collect, ...streamed?.callbacks() });
    if (interruptedBy !== undefined) return exitCodeOfSignal(interruptedBy);
    if (values.out !== undefined) await writeCollected(values.out, result.files);
    if (streamed === undefined) process.stdout.write(`${JSON.stringify(asJson(result), null, 2)}\n`);
    else await writeOutput(result, streamed, sandbox.options.timeoutMs);
    return exitCodeOf(result);
  } finally {
    await sandbox.cleanup();
  }
}

/**
 * Writes the program's output to ours as it arrives, and counts what it wrote, so that the end of
 * the run only adds what the stream could not give (a split UTF-8 character at the very end).
 * Once a signal arrived it writes nothing more: the run is being stopped.
 */
class StreamedOutput {
  readonly written = { stdout: 0, stderr: 0 };

  callbacks(): { onStdout: (chunk: string) => void; onStderr: (chunk: string) => void } {
    return {
      onStdout: (chunk) => this.#pass(process.stdout, 'stdout', chunk),
      onStderr: (chunk) => this.#pass(process.stderr, 'stderr', chunk),
    };
  }

  #pass(stream: NodeJS.WriteStream, name: 'stdout' | 'stderr', chunk: string): void {
    if (interruptedBy !== undefined) return;
    this.written[name] += chunk.length;
    stream.write(chunk);
  }
}

/** `cleanup [--all]`: removes orphans (or every labelled container) and says how many went. */
async function cleanup(all: boolean, engine: EngineChoice): Promise<number> {
  const removed = await removeOrphans({
    all,
    ...engine,
    beforeRemoving: ({ labelled }) => {
      if (all) process.stdout.write(`found ${count(labelled, 'container')} with the label ${LABEL}; removing them all\n`);
    },
  });
  const what = all ? count(removed.containers, 'container') : count(removed.containers, 'orphaned container');
  process.stdout.write(`removed ${what} and ${count(removed.tempDirs, 'temp dir')}\n`);
  return 0;
}

/**
 * `image load`: copies the image from this machine's engine to the chosen one, unless that one
 * already has the same image id. Progress goes to stderr, the outcome to stdout.
 */
async function loadImage(image: string, engine: EngineChoice): Promise<number> {
  const target = engine.context !== undefined ? `context "${engine.context}"` : (engine.dockerHost ?? '');
  // The source is the environment's engine; the target gets DOCKER_HOST or a context of its own.
  const transfer = new ImageTransfer(
    image,
    { binary: 'docker', host: undefined },
    { binary: 'docker', host: engine.dockerHost, ...(engine.context !== undefined && { context: engine.context }) },
  );
  activeTransfer = transfer;
  try {
    await transfer.open();
    return await sendImage(transfer, target);
  } finally {
    await transfer.close();
  }
}

async function sendImage(transfer: ImageTransfer, target: string): Promise<number> {
  const image = transfer.image;
  let plan;
  try {
    plan = await transfer.plan();
  } catch (error) {
    if (!(error instanceof ImageNotFoundError)) throw error;
    const how = image === DEFAULT_IMAGE ? 'build it with `npm run setup`' : `build or pull it (e.g. \`docker pull ${image}\`)`;
    process.stderr.write(`docker-python-sandbox: the image ${image} is not on this machine's engine, so there is nothing to load: ${how}, then try again\n`);
    return EXIT_SANDBOX_FAILED;
  }
  const id = plan.id.replace(/^sha256:/, '').slice(0, 12);
  if (plan.alreadyThere) {
    process.stdout.write(`${image} is already on ${target} (same image id ${id}); nothing sent\n`);
    return 0;
  }
  process.stderr.write(`sending ${image} (${id}, about ${formatSize(plan.size)}) to ${target}\n`);
  const progress = new TransferProgress(process.stderr, plan.size);
  let bytes: number;
  try {
    bytes = await transfer.send(plan, (sent) => progress.update(sent));
  } catch (error) {
    progress.abandon();
    throw error;
  }
  process.stdout.write(`loaded ${image} (${id}) onto ${target}: ${progress.finish(bytes)}\n`);
  return 0;
}

/** `--docker-host` or `--context`, each only when given with a value; both is a usage error. */
function engineChoice(dockerHost: string | undefined, context: string | undefined, dockerPath: string | undefined): EngineChoice {
  if (dockerHost === '') throw new UsageError('--docker-host expects an engine address, e.g. ssh://user@host, got ""');
  if (context === '') throw new UsageError('--context expects a Docker context name (docker context ls), got ""');
  if (dockerPath === '') throw new UsageError('--docker expects the docker binary (a name on PATH or a path, e.g. podman), got ""');
  if (dockerHost !== undefined && context !== undefined) throw new UsageError('--docker-host and --context both name the engine: give one of them');
  return { ...(dockerHost !== undefined && { dockerHost }), ...(context !== undefined && { context }), ...(dockerPath !== undefined && { dockerPath }) };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function exitCodeOf(result: RunResult): number {
  if (result.timedOut) return EXIT_TIMEOUT;
  return result.exitCode ?? EXIT_SANDBOX_FAILED;
}

/** What the stream left out of the program's output, then why the run ended if it was cut short. */
async function writeOutput(result: RunResult, streamed: StreamedOutput, timeoutMs: number): Promise<void> {
  await Promise.all([write(process.stdout, result.stdout.slice(streamed.written.stdout)), write(process.stderr, result.stderr.slice(streamed.written.stderr))]);
  if (result.timedOut) process.stderr.write(`docker-python-sandbox: the program was stopped at its time limit (${timeoutMs} ms)\n`);
  else if (result.oomKilled) process.stderr.write('docker-python-sandbox: the program was killed at its memory limit (out of memory)\n');
  else if (result.truncated) process.stderr.write('docker-python-sandbox: the program was stopped at the output limit\n');
  else if (result.signal !== null) process.stderr.write(`docker-python-sandbox: the program was killed by ${result.signal}\n`);
  for (const skipped of result.skippedFiles) process.stderr.write(`docker-python-sandbox: not collected: ${skipped.path}: ${skipped.reason}\n`);
}

/** Collected files as base64, so that the JSON stays text. */
function asJson(result: RunResult): Omit<RunResult, 'files'> & { files: Record<string, string> } {
  return { ...result, files: Object.fromEntries(Object.entries(result.files).map(([path, content]) => [path, content.toString('base64')])) };
}

/** Writes each collected file under dir; the names were checked to be plain relative paths, and are again here. */
async function writeCollected(dir: string, files: Record<string, Buffer>): Promise<void> {
  const root = resolve(dir);
  for (const [path, content] of Object.entries(files)) {
    const target = resolve(root, path);
    if (!target.startsWith(root + sep)) throw new Error(`refusing to write ${path} outside ${root}`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

function splitPair(flag: string, pair: string, shape: string): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new UsageError(`${flag} expects ${shape}, got "${pair}"`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => (text === '' ? resolve() : stream.write(text, () => resolve())));
}

function toNumber(flag: string, value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number)) throw new UsageError(`${flag} expects a number, got "${value}"`);
  return number;
}

async function readCode(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

async function readInput(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (interruptedBy !== undefined) {
      // The run was cut short on purpose (SandboxClosedError): the signal handler is exiting.
      process.exitCode = exitCodeOfSignal(interruptedBy);
      return;
    }
    if (error instanceof ServeUsageError || error instanceof ServiceOptionsError) {
      process.stderr.write(`docker-python-sandbox serve: ${error.message}\n\n${SERVE_USAGE}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    if (error instanceof DoctorUsageError) {
      process.stderr.write(`docker-python-sandbox doctor: ${error.message}\n\n${DOCTOR_USAGE}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    if (error instanceof UsageError || error instanceof SandboxOptionsError || error instanceof RunParamsError) {
      process.stderr.write(`docker-python-sandbox: ${error.message}\n\n${USAGE}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    const prefix = error instanceof SandboxError ? `${error.name} (${error.code})` : 'error';
    process.stderr.write(`docker-python-sandbox: ${prefix}: ${(error as Error).message}\n`);
    process.exitCode = EXIT_SANDBOX_FAILED;
  },
);
