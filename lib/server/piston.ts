/**
 * Piston v2 compatibility for Python, without HTTP: the runtimes list, the execute request turned
 * into run parameters, and a run's result turned into Piston's response, so Piston clients (such
 * as the npm package piston-client) work unchanged. The rules and messages follow Piston's own
 * code (engineer-man/piston, api/src/api/v2.js, job.js and runtime.js), and the run's status
 * codes and messages follow isolate, the sandbox Piston runs programs in, whose words Piston
 * passes on.
 */
import { constants } from 'node:os';
import { posix } from 'node:path';
import { z } from 'zod';
import type { RunParamsObject } from '../options/run-params.js';
import { relativePathProblem } from '../relative-path.js';
import type { RunResult } from '../result.js';
import { satisfiesRange } from './semver-range.js';

const LANGUAGE = 'python';
const MIB = 1024 * 1024;
/** The library's smallest memory limit: Python itself needs about 10 MiB. */
const MIN_MEMORY_BYTES = 16 * MIB;
/** Piston's encodings of file contents; any other value is taken as utf8, as Piston does. */
const ENCODINGS = ['base64', 'hex', 'utf8'] as const;
type Encoding = (typeof ENCODINGS)[number];

/** One entry of `GET /api/v2/runtimes`. Piston adds `runtime` only when a language has several. */
export interface PistonRuntime {
  language: string;
  version: string;
  aliases: string[];
  runtime?: string;
}

/** The body of `GET /api/v2/runtimes`: Python, with the aliases of Piston's python package. */
export function pistonRuntimes(pythonVersion: string): PistonRuntime[] {
  return [{ language: LANGUAGE, version: pythonVersion, aliases: pythonAliases(pythonVersion) }];
}

/** As Piston's packages/python/3.x/metadata.json: py, py3, python3 and python3.N. */
function pythonAliases(pythonVersion: string): string[] {
  const majorMinor = /^(\d+\.\d+)/.exec(pythonVersion)?.[1];
  return ['py', 'py3', 'python3', ...(majorMinor === undefined ? [] : [`python${majorMinor}`])];
}

/** What the service allows; a request over it gets Piston's "cannot exceed the configured limit". */
export interface PistonSettings {
  /** The image's Python version, e.g. "3.12.3": what `version` (a semver range) must match. */
  pythonVersion: string;
  /** The Sandbox's maxTimeoutMs: the largest `run_timeout`. */
  maxTimeoutMs: number;
  /** The Sandbox's maxMemoryLimitMb: the largest `run_memory_limit` is this many MiB, in bytes. */
  maxMemoryLimitMb: number;
}

// Messages hold %s where the field's path goes ("files[0].content"), in Piston's words.
const REQUIRED_STRING = '%s is required as a string';
const falsyOr = (type: 'string' | 'number', message: string) => z.unknown().refine((value) => !value || typeof value === type, { error: message });
const constraint = falsyOr('number', 'If specified, %s must be a number').optional();

/**
 * Piston's execute request. Loose like Piston: unknown keys are ignored. Falsy limits count as
 * absent, as in Piston (`if (!constraint_value) continue`).
 */
export const pistonExecuteSchema = z.looseObject({
  language: z.string({ error: REQUIRED_STRING }).min(1, { error: REQUIRED_STRING }),
  version: z.string({ error: REQUIRED_STRING }).min(1, { error: REQUIRED_STRING }),
  files: z.array(
    z.looseObject(
      {
        // Piston names a file without a name `file${i}.code`.
        name: falsyOr('string', '%s must be a string').optional(),
        content: z.string({ error: REQUIRED_STRING }),
        encoding: z.unknown().optional(),
      },
      { error: '%s.content is required as a string' },
    ),
    { error: '%s is required as an array' },
  ),
  stdin: z.string({ error: '%s must be a string' }).nullish(),
  args: z
    .array(
      z.string({ error: '%s must be a string' }).refine((arg) => !arg.includes('\0'), { error: '%s must not contain NUL characters' }),
      {
        error: '%s must be an array of strings',
      },
    )
    .nullish(),
  compile_memory_limit: constraint,
  run_memory_limit: constraint,
  compile_timeout: constraint,
  run_timeout: constraint,
  compile_cpu_time: constraint,
  run_cpu_time: constraint,
});

export type PistonExecuteRequest = z.input<typeof pistonExecuteSchema>;

export type PistonExecuteParsed = { ok: true; params: RunParamsObject } | { ok: false; status: 400; message: string };

// The order in which Piston checks the request (v2.js get_job), so the first problem reported is
// the one Piston would report; then what Piston does not check before it runs.
const EARLY_FIELDS = ['language', 'version', 'files'];
const CONSTRAINTS = ['compile_memory_limit', 'run_memory_limit', 'compile_timeout', 'run_timeout', 'compile_cpu_time', 'run_cpu_time'] as const;

/**
 * Checks a Piston execute request and turns it into run parameters: the first utf8 file is the
 * program (as in Piston's job.js), the other files go into the work dir by name, `args` become
 * argv, `run_timeout` (ms) the time limit and `run_memory_limit` (bytes; -1 or absent: the
 * default) the memory limit, in MiB rounded up. Compile and CPU-time limits are accepted and
 * ignored: Python has no compile stage here, and the limit is wall-clock time. A bad request
 * gets `{ ok: false, status: 400, message }` with Piston's message for the first problem.
 */
export function parsePistonExecute(body: unknown, settings: PistonSettings): PistonExecuteParsed {
  // Piston destructures the body: an array or a string has no fields, so "language is required".
  const fields: Record<string, unknown> = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const parsed = pistonExecuteSchema.safeParse(fields);
  const issues = parsed.success ? [] : parsed.error.issues;
  const issueAt = (keys: readonly string[]) => issues.find((issue) => keys.includes(String(issue.path[0])));
  const fail = (message: string): PistonExecuteParsed => ({ ok: false, status: 400, message });
  // Piston checks each file's content, not its name (a bad name fails later, when it is written).
  const early = issues.find((issue) => EARLY_FIELDS.includes(String(issue.path[0])) && issue.path[2] !== 'name');
  if (early !== undefined) return fail(issueMessage(early));

  const { language, version, files } = fields as { language: string; version: string; files: { name?: unknown; content: string; encoding?: unknown }[] };
  if (!(language === LANGUAGE || pythonAliases(settings.pythonVersion).includes(language)) || !satisfiesRange(settings.pythonVersion, version)) {
    return fail(`${language}-${version} runtime is unknown`);
  }
  if (!files.some((file) => !file.encoding || file.encoding === 'utf8')) return fail('files must include at least one utf8 encoded file');

  let timeoutMs: number | undefined;
  let memoryLimitMb: number | undefined;
  for (const name of CONSTRAINTS) {
    const issue = issueAt([name]);
    if (issue !== undefined) return fail(issueMessage(issue));
    const value = fields[name];
    if (!value || typeof value !== 'number') continue;
    if (name === 'run_timeout') {
      const problem = limitProblem(name, value, settings.maxTimeoutMs);
      if (problem !== undefined) return fail(problem);
      timeoutMs = Math.ceil(value);
    }
    // -1 is Piston's "no limit": here the Sandbox's default.
    if (name === 'run_memory_limit' && value !== -1) {
      const problem = limitProblem(name, value, settings.maxMemoryLimitMb * MIB);
      if (problem !== undefined) return fail(problem);
      if (value < MIN_MEMORY_BYTES) return fail(`${name} must be at least ${MIN_MEMORY_BYTES} (16 MiB, in bytes) or -1 for the default`);
      memoryLimitMb = Math.ceil(value / MIB);
    }
  }
  const late = issues[0];
  if (late !== undefined) return fail(issueMessage(late));

  const written = workDirFiles(files);
  if (typeof written === 'string') return fail(written);
  const { stdin, args } = fields as { stdin?: string | null; args?: string[] | null };
  const params: RunParamsObject = { code: written.code, files: written.files, stdin: withFinalNewline(stdin ?? ''), argv: args ?? [] };
  if (timeoutMs !== undefined) params.timeoutMs = timeoutMs;
  if (memoryLimitMb !== undefined) params.memoryLimitMb = memoryLimitMb;
  return { ok: true, params };
}

/** Piston's checks of a limit against the configured one, in its order and words. */
function limitProblem(name: string, value: number, configured: number): string | undefined {
  if (value > configured) return `${name} cannot exceed the configured limit of ${configured}`;
  if (value < 0) return `${name} must be non-negative`;
  return undefined;
}

/** Piston feeds stdin with a newline at its end, added when missing (job.js), even to an empty one. */
function withFinalNewline(stdin: string): string {
  return stdin.endsWith('\n') ? stdin : `${stdin}\n`;
}

/**
 * The program (the first utf8 file, as job.js runs `code_files[0]`) and the other files by their
 * path in the work dir, or why a name is refused. Piston joins each name to its submission dir, so
 * "/a.py" and "./a.py" both mean "a.py", and refuses one whose relative path starts with "..".
 */
function workDirFiles(
  files: readonly { name?: unknown; content: string; encoding?: unknown }[],
): { code: string; files: Record<string, string | Buffer> } | string {
  let code: string | undefined;
  const contents: Record<string, string | Buffer> = {};
  for (const [index, file] of files.entries()) {
    const name = typeof file.name === 'string' && file.name !== '' ? file.name : `file${index}.code`;
    // path.relative(dir, path.join(dir, name)) for a dir deep enough that ".." never reaches the top.
    const relative = posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '').replace(/^\.$/, '');
    if (relative.startsWith('..')) return `File path "${name}" tries to escape parent directory: ${relative}`;
    const problem = relativePathProblem(relative);
    if (problem !== undefined) return `File path "${name}" ${problem}`;
    const encoding: Encoding = ENCODINGS.find((known) => known === file.encoding) ?? 'utf8';
    if (code === undefined && encoding === 'utf8') code = file.content;
    else contents[relative] = encoding === 'utf8' ? file.content : Buffer.from(file.content, encoding);
  }
  // parsePistonExecute made sure one file is utf8.
  return { code: code ?? '', files: contents };
}

/** A zod issue in Piston's words: the field's path where the message says %s. */
function issueMessage(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`)).join('');
  return issue.message.replace('%s', path);
}

/** One stage's result in Piston's response, as job.js's safe_call returns it. */
export interface PistonStageResult {
  stdout: string;
  stderr: string;
  /** stdout and stderr in the order their data came. */
  output: string;
  /** The exit code; null when a signal ended the program or it was stopped. */
  code: number | null;
  /** The signal's name ('SIGKILL' for Piston's own stops); null when it exited. */
  signal: string | null;
  /** Isolate's words: "Exited with error status 1", "Time limit exceeded (wall clock)", ...; null when it exited with 0. */
  message: string | null;
  /** 'RE' error exit, 'SG' signal, 'TO' timeout, 'OL'/'EL' stdout/stderr over the output cap, 'XX' internal error; null when it exited with 0. */
  status: PistonStatus | null;
  /** Peak memory in bytes. */
  memory: number | null;
  /** CPU time in ms. */
  cpu_time: number | null;
  /** Wall time in ms. */
  wall_time: number | null;
}

export type PistonStatus = 'RE' | 'SG' | 'TO' | 'OL' | 'EL' | 'XX';

/** The body of `POST /api/v2/execute`'s 200. Python has no compile stage, so no `compile` key. */
export interface PistonExecuteResponse {
  run: PistonStageResult;
  language: string;
  version: string;
}

/** A run's result as Piston reports it (job.js safe_call, with isolate's status and message). */
export function toPistonResponse(result: RunResult, version: string): PistonExecuteResponse {
  return {
    run: {
      stdout: result.stdout,
      stderr: result.stderr,
      output: result.combined,
      ...ending(result),
      memory: result.usage?.peakMemoryBytes ?? null,
      cpu_time: result.usage?.cpuMs ?? null,
      wall_time: result.durationMs,
    },
    language: LANGUAGE,
    version,
  };
}

function ending(result: RunResult): Pick<PistonStageResult, 'code' | 'signal' | 'message' | 'status'> {
  // Piston kills the program itself on a timeout or an output cap and reports SIGKILL for both.
  switch (result.status) {
    case 'timeout':
      // run_timeout is isolate's --wall-time, which reports this message.
      return { code: null, signal: 'SIGKILL', status: 'TO', message: 'Time limit exceeded (wall clock)' };
    case 'output_limit':
      return lastWriter(result) === 'stderr'
        ? { code: null, signal: 'SIGKILL', status: 'EL', message: 'stderr length exceeded' }
        : { code: null, signal: 'SIGKILL', status: 'OL', message: 'stdout length exceeded' };
    case 'oom':
      // The OOM killer's SIGKILL, which isolate reports as any fatal signal.
      return killedBy(constants.signals.SIGKILL);
    default: {
      const signal = signalNumber(result.signal);
      if (signal !== undefined) return killedBy(signal);
      if (result.exitCode === null) return { code: null, signal: null, status: 'XX', message: 'The program ended without an exit status' };
      if (result.exitCode === 0) return { code: 0, signal: null, status: null, message: null };
      return { code: result.exitCode, signal: null, status: 'RE', message: `Exited with error status ${result.exitCode}` };
    }
  }
}

function killedBy(signal: number): Pick<PistonStageResult, 'code' | 'signal' | 'message' | 'status'> {
  return { code: null, signal: PISTON_SIGNALS.get(signal) ?? null, status: 'SG', message: `Caught fatal signal ${signal}` };
}

/** The number of a signal the result names ('SIGKILL', or 'SIG34' for one Node has no name for). */
function signalNumber(name: string | null): number | undefined {
  if (name === null) return undefined;
  const known = (constants.signals as Record<string, number | undefined>)[name];
  if (known !== undefined) return known;
  const numbered = /^SIG(\d+)$/.exec(name);
  return numbered === null ? undefined : Number(numbered[1]);
}

/**
 * Which stream wrote last, so which one hit the cap (the library caps both together): the one
 * `combined` ends with. Piston caps each stream on its own and says which.
 */
function lastWriter(result: RunResult): 'stdout' | 'stderr' {
  const stdoutLast = result.stdout !== '' && result.combined.endsWith(result.stdout);
  const stderrLast = result.stderr !== '' && result.combined.endsWith(result.stderr);
  return stderrLast && !stdoutLast ? 'stderr' : 'stdout';
}

/** Piston's signal names by number (api/src/globals.js SIGNALS): SIGABRT for 6, SIGIO for 29. */
const PISTON_SIGNALS = new Map<number, string>([
  ...(
    [
      'SIGHUP',
      'SIGINT',
      'SIGQUIT',
      'SIGILL',
      'SIGTRAP',
      'SIGABRT',
      'SIGBUS',
      'SIGFPE',
      'SIGKILL',
      'SIGUSR1',
      'SIGSEGV',
      'SIGUSR2',
      'SIGPIPE',
      'SIGALRM',
      'SIGTERM',
      'SIGSTKFLT',
      'SIGCHLD',
      'SIGCONT',
      'SIGSTOP',
      'SIGTSTP',
      'SIGTTIN',
      'SIGTTOU',
      'SIGURG',
      'SIGXCPU',
      'SIGXFSZ',
      'SIGVTALRM',
      'SIGPROF',
      'SIGWINCH',
      'SIGIO',
      'SIGPWR',
      'SIGSYS',
    ] as const
  ).map((name, index) => [index + 1, name] as const),
  [34, 'SIGRTMIN'],
  ...Array.from({ length: 15 }, (_, index) => [35 + index, `SIGRTMIN+${index + 1}`] as const),
  ...Array.from({ length: 14 }, (_, index) => [50 + index, `SIGRTMAX-${14 - index}`] as const),
  [64, 'SIGRTMAX'],
]);
