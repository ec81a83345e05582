/**
 * The parameter of `sandbox.run(param)`: its documented type, its schema (kept alike by a
 * compile-time check), and the parser that checks it against the Sandbox's maxima.
 */
import { z } from 'zod';
import { RunParamsError } from '../errors.js';
import { relativePathProblem } from '../relative-path.js';
import { DAY_MS, described, toIssues, wholeNumber, type DifferingKeys, type NoDifference } from './schema-helpers.js';
import type { ResolvedSandboxOptions } from './sandbox-options.js';

/** Largest stdin a run may be given (it travels as a file, so pipe sizes do not matter). */
export const MAX_STDIN_BYTES = 64 * 1024 * 1024;
const MAX_COLLECT_PATTERNS = 100;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const noNul = (what: string) =>
  z.string({ error: `must be ${what}` }).refine((value) => !value.includes('\0'), { error: `must be ${what} without NUL characters` });
const callback = (name: string) =>
  z.custom<(chunk: string) => void>((value) => typeof value === 'function', {
    error: `must be a function (chunk: string) => void, called as ${name} output arrives`,
  });

/**
 * The object form of `run()`'s parameter. Bad parameters reject with a `RunParamsError` that names
 * them, and use no container.
 */
export type RunParamsObject = {
  /** The Python 3 program. */
  code: string;

  /**
   * Wall-clock limit for this run (default: the Sandbox's), at most the Sandbox's `maxTimeoutMs`.
   *
   * @default the Sandbox's `timeoutMs`
   */
  timeoutMs?: number;

  /**
   * Memory limit for this run only, at most the Sandbox's `maxMemoryLimitMb`; the warm container is
   * changed with `docker update` just before the program starts (about 50-80 ms more for that run).
   * Under gVisor, which cannot change a running sandbox, and wherever `docker update` fails, the run
   * gets a container started with its limits instead: a cold start. It holds a pool slot meanwhile,
   * so no more containers run than `poolSize`; the pool's containers keep the Sandbox's limits, and
   * the time limit counts from the program's start.
   *
   * @default the Sandbox's `memoryLimitMb`
   */
  memoryLimitMb?: number;

  /**
   * CPU quota for this run only, in cores, at most the Sandbox's `maxCpus`; the warm container is
   * changed with `docker update` just before the program starts (about 50-80 ms more for that run).
   * Under gVisor, which cannot change a running sandbox, and wherever `docker update` fails, the run
   * gets a container started with its limits instead: a cold start. It holds a pool slot meanwhile,
   * so no more containers run than `poolSize`; the pool's containers keep the Sandbox's limits, and
   * the time limit counts from the program's start.
   *
   * @default the Sandbox's `cpus`
   */
  cpus?: number;

  /**
   * A string or Buffer fed to the program (up to 64 MiB; it travels as a file, so pipe sizes do not
   * matter). Without it the program reads EOF at once, never the host's stdin.
   */
  stdin?: string | Buffer;

  /**
   * `{ 'data/in.csv': 'a,b', 'model.bin': buffer }` written into the work dir before the program
   * starts; nested dirs are made; the work dir is on `sys.path` right after the program's own dir,
   * so `import helper` finds a `helper.py` brought this way; absolute paths and `..` are refused;
   * at most the Sandbox's `maxFilesBytes` (10 MiB) in all.
   */
  files?: Record<string, string | Buffer>;

  /**
   * Array of strings: `sys.argv[1:]`.
   *
   * @default []
   */
  argv?: string[];

  /**
   * `{ NAME: 'value' }` set for the program on top of the image's variables; nothing of the host's
   * environment reaches it.
   *
   * @default {}
   */
  env?: Record<string, string>;

  /**
   * Paths or globs relative to the work dir (`['*.png', 'out/**', 'results']`) brought back after
   * the program ends, as `result.files`. Glob rules: `*`, `?`, `[...]` within a name, `**` for any
   * depth, a wildcard does not match a leading `.`; a directory brings its whole tree. Symbolic
   * links are never followed (they are listed in `skippedFiles`). At most `maxCollectBytes` in all,
   * filled in path order, and 1000 files; the rest is listed in `skippedFiles`. Absolute patterns
   * and `..` are refused.
   *
   * @default []
   */
  collect?: string[];

  /**
   * Called as stdout arrives while the program runs; the same text ends up in the result (up to
   * the output cap). An exception thrown by it surfaces like an event listener's.
   */
  onStdout?: (chunk: string) => void;

  /**
   * Called as stderr arrives while the program runs; the same text ends up in the result (up to
   * the output cap). An exception thrown by it surfaces like an event listener's.
   */
  onStderr?: (chunk: string) => void;

  /**
   * An `AbortSignal`: aborting removes a queued run from the queue, or kills a running one's
   * container; either way `run` rejects with an `AbortError` whose `cause` is the signal's reason.
   */
  signal?: AbortSignal;
};

/** `run()`'s parameter: the code as a string, or an object. */
export type RunParams = string | RunParamsObject;

/** Validates RunParamsObject (documented there; a check below keeps the two alike). */
const runObjectSchema = z
  .object({
    code: z.string({ error: 'must be a string of Python code' }),
    timeoutMs: wholeNumber(1, DAY_MS, ' (milliseconds)').optional(),
    memoryLimitMb: wholeNumber(16, 1024 * 1024, ' (MiB)').optional(),
    cpus: z
      .number({ error: 'must be a number of cores from 0.01 to 64' })
      .min(0.01, { error: 'must be a number of cores from 0.01 to 64' })
      .max(64, { error: 'must be a number of cores from 0.01 to 64' })
      .optional(),
    stdin: z
      .union([z.string(), z.instanceof(Buffer)], { error: 'must be a string or a Buffer' })
      .refine((value) => Buffer.byteLength(value) <= MAX_STDIN_BYTES, { error: `must be at most ${MAX_STDIN_BYTES} bytes` })
      .optional(),
    files: z
      .record(z.string(), z.union([z.string(), z.instanceof(Buffer)], { error: "must be a string or a Buffer (the file's contents)" }), {
        error: 'must be an object of relative paths to string or Buffer contents, e.g. { "data.csv": "a,b" }',
      })
      .superRefine((files, context) => {
        for (const path of Object.keys(files)) {
          const problem = relativePathProblem(path);
          if (problem !== undefined) context.addIssue({ code: 'custom', path: [path], message: problem });
        }
      })
      .optional(),
    argv: z.array(noNul('a string'), { error: 'must be an array of strings' }).max(4096).optional(),
    env: z
      .record(z.string(), noNul('a string'), { error: 'must be an object of string values, e.g. { MODE: "test" }' })
      .superRefine((env, context) => {
        for (const name of Object.keys(env)) {
          if (!ENV_NAME.test(name))
            context.addIssue({ code: 'custom', path: [name], message: 'is not a variable name: use letters, digits and _, like MY_VAR' });
        }
      })
      .optional(),
    collect: z
      .array(
        z.string({ error: 'must be a path or glob relative to the work dir, e.g. "*.png"' }).superRefine((pattern, context) => {
          const problem = relativePathProblem(pattern);
          if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
        }),
        { error: 'must be an array of paths or globs relative to the work dir, e.g. ["*.png", "out/**"]' },
      )
      .max(MAX_COLLECT_PATTERNS, { error: `must have at most ${MAX_COLLECT_PATTERNS} patterns` })
      .optional(),
    onStdout: callback('stdout').optional(),
    onStderr: callback('stderr').optional(),
    signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  })
  .strict();

// Compilation fails here when RunParamsObject and what the schema accepts differ (see SandboxOptions).
type _RunParamsMatchSchema = NoDifference<DifferingKeys<RunParamsObject, z.input<typeof runObjectSchema>>>;

export interface ResolvedRunParams {
  code: string;
  files: Map<string, Buffer>;
  timeoutMs: number;
  memoryLimitMb: number;
  cpus: number;
  stdin: Buffer | undefined;
  argv: string[];
  env: Record<string, string>;
  collect: string[];
  onStdout: ((chunk: string) => void) | undefined;
  onStderr: ((chunk: string) => void) | undefined;
  signal: AbortSignal | undefined;
}

export function parseRunParams(input: unknown, defaults: ResolvedSandboxOptions): ResolvedRunParams {
  const parsed = runObjectSchema.safeParse(typeof input === 'string' ? { code: input } : input);
  if (!parsed.success) {
    const issues = toIssues(parsed.error, input, Object.keys(runObjectSchema.shape));
    if (input === null || typeof input !== 'object') {
      issues.splice(0, issues.length, { path: '', message: `must be a code string or { code, timeoutMs?, stdin?, ... } (${described(input)})` });
    }
    throw new RunParamsError(issues);
  }
  const params = parsed.data;
  const beyond = (
    [
      ['timeoutMs', params.timeoutMs, 'maxTimeoutMs', defaults.maxTimeoutMs],
      ['memoryLimitMb', params.memoryLimitMb, 'maxMemoryLimitMb', defaults.maxMemoryLimitMb],
      ['cpus', params.cpus, 'maxCpus', defaults.maxCpus],
    ] as const
  ).filter(([, value, , max]) => value !== undefined && value > max);
  const files = new Map(Object.entries(params.files ?? {}).map(([path, content]) => [path, Buffer.from(content)]));
  const filesBytes = [...files.values()].reduce((total, content) => total + content.length, 0);
  if (filesBytes > defaults.maxFilesBytes) {
    throw new RunParamsError([
      {
        path: 'files',
        message: `total ${filesBytes} bytes, more than the Sandbox's maxFilesBytes (${defaults.maxFilesBytes}); raise maxFilesBytes to allow more`,
      },
    ]);
  }
  if (beyond.length > 0) {
    throw new RunParamsError(
      beyond.map(([name, value, maxName, max]) => ({
        path: name,
        message: `must be at most ${max}, the Sandbox's ${maxName} (got ${value}); raise ${maxName} to allow more`,
      })),
    );
  }
  return {
    code: params.code,
    files,
    timeoutMs: params.timeoutMs ?? defaults.timeoutMs,
    memoryLimitMb: params.memoryLimitMb ?? defaults.memoryLimitMb,
    cpus: params.cpus ?? defaults.cpus,
    stdin: params.stdin === undefined ? undefined : Buffer.from(params.stdin),
    argv: params.argv ?? [],
    env: params.env ?? {},
    collect: params.collect ?? [],
    onStdout: params.onStdout,
    onStderr: params.onStderr,
    signal: params.signal,
  };
}
