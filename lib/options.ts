/**
 * The public options of a Sandbox and the parameters of a run, validated once at the boundary.
 * Internal modules receive the parsed (defaulted) values and never check again.
 */
import { inspect } from 'node:util';
import { z } from 'zod';
import { RunParamsError, SandboxOptionsError, type ValidationIssue } from './errors.js';
import { relativePathProblem } from './relative-path.js';

export const DEFAULT_IMAGE = 'docker-python-sandbox:latest';
const DAY_MS = 24 * 60 * 60 * 1000;
const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function wholeNumber(min: number, max: number, unit = ''): z.ZodNumber {
  const rule = `must be a whole number from ${min} to ${max}${unit}`;
  return z.number({ error: rule }).int({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

function nonEmptyString(what: string): z.ZodString {
  return z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });
}

/** gVisor's own threads count against the pids cgroup (see MIN_RUNSC_PIDS_LIMIT): it gets more room. */
export const DEFAULT_PIDS_LIMIT = { runc: 64, runsc: 256 } as const;

/**
 * The smallest `pidsLimit` accepted under runtime "runsc". gVisor's sandbox and gofer processes are
 * in the container's pids cgroup with all their Go threads, and the program's processes and threads
 * take host threads too. Measured with scripts/measure-runsc-pids.ts (runsc 20221219, 2 CPUs,
 * `print(1)` and a program starting one subprocess, each in a fresh container): a warm, idle
 * container already holds 56-63 pids; 67 and above worked every time (15 of 15 at 67), 63-66 only
 * sometimes (the container dies mid-run), 62 and below never; below about 57 the container does not
 * start (at 10: "cannot read client sync file"), and once, at 32, `runsc start` hung and left a
 * container `docker rm` could not remove. The minimum is about twice 67 because the Go runtimes'
 * threads grow with the engine host's CPUs (GOMAXPROCS): a busy container took about 3 pids more on 2
 * CPUs than on 1, so 128 leaves room for roughly 20 more; larger hosts need the default 256 or more.
 */
export const MIN_RUNSC_PIDS_LIMIT = 128;

/**
 * Defaults of the Sandbox's own limits. When the caller sets a smaller maximum for runs (say
 * maxTimeoutMs: 5000), the default is that maximum instead: a default never conflicts with an option
 * the caller gave.
 */
export const DEFAULT_LIMITS = { timeoutMs: 10_000, memoryLimitMb: 50, cpus: 1 } as const;

const sandboxOptionsShape = z
  .object({
    /** Containers kept warm; runs beyond them wait in a FIFO queue. @default 1 */
    poolSize: wholeNumber(1, 64).default(1),
    /** Wall-clock limit of a run, unless the run sets its own. @default 10000, or maxTimeoutMs when that is smaller */
    timeoutMs: wholeNumber(1, DAY_MS, ' (milliseconds)').optional(),
    /** Memory limit of each container, with no swap on top. Python needs about 10 MB. @default 50, or maxMemoryLimitMb when that is smaller */
    memoryLimitMb: wholeNumber(16, 1024 * 1024, ' (MiB; Python itself needs about 10)').optional(),
    /** The sandbox image; it must provide `python3`. @default 'docker-python-sandbox:latest' */
    image: nonEmptyString('an image name, e.g. "docker-python-sandbox:latest"').default(DEFAULT_IMAGE),
    /** The docker CLI binary. @default 'docker' */
    dockerPath: nonEmptyString('the path or name of the docker binary').default('docker'),
    /** Engine address for this Sandbox's docker calls (like DOCKER_HOST). @default the environment's */
    dockerHost: nonEmptyString('an engine address such as "unix:///var/run/docker.sock"').optional(),
    /** How long a new container may take to become ready. @default 60000 */
    startTimeoutMs: wholeNumber(1_000, 10 * 60_000, ' (milliseconds)').default(60_000),

    /** OCI runtime (`docker run --runtime`), e.g. 'runsc' for gVisor. @default the engine's default (runc) */
    runtime: z
      .string({ error: 'must be a runtime name registered with the engine, e.g. "runsc"' })
      .regex(/^[\w.-]+$/, { error: 'must be a runtime name registered with the engine, e.g. "runsc"' })
      .optional(),
    /** Network of the containers. Anything but 'none' lets untrusted code reach a network. @default 'none' */
    network: nonEmptyString('a docker network name; "none" (the default) gives no network').default('none'),
    /** User the program runs as, `uid[:gid]`; root is refused. @default '1000:1000' */
    user: z
      .string({ error: 'must be a non-root "uid" or "uid:gid", e.g. "1000:1000"' })
      .regex(/^(?!0+(:|$))\d+(:\d+)?$/, { error: 'must be a non-root "uid" or "uid:gid", e.g. "1000:1000"' })
      .default('1000:1000'),
    /** CPU quota of each container, in cores (`--cpus`). @default 1, or maxCpus when that is smaller */
    cpus: z
      .number({ error: 'must be a number of cores from 0.01 to 64' })
      .min(0.01, { error: 'must be a number of cores from 0.01 to 64' })
      .max(64, { error: 'must be a number of cores from 0.01 to 64' })
      .optional(),
    /**
     * Most processes and threads in a container (fork bombs). Under runsc gVisor's own threads count
     * too, so it must be at least MIN_RUNSC_PIDS_LIMIT (128) there. @default 64 (256 under runsc)
     */
    pidsLimit: wholeNumber(8, 65_536).optional(),
    /** Root filesystem read-only; /tmp and the work dir are size-capped tmpfs. @default true */
    readOnlyRoot: z.boolean({ error: 'must be true or false' }).default(true),
    /** Size cap of the /tmp tmpfs (counts against the memory limit). @default 16 */
    tmpSizeMb: wholeNumber(1, 65_536, ' (MiB)').default(16),
    /** Size cap of the work dir (/sandbox) tmpfs (counts against the memory limit). @default 16 */
    workdirSizeMb: wholeNumber(1, 65_536, ' (MiB)').default(16),
    /** Largest file a program may write (RLIMIT_FSIZE). @default 16 */
    fileSizeLimitMb: wholeNumber(1, 65_536, ' (MiB)').default(16),
    /** Most open files per process (RLIMIT_NOFILE). @default 256 */
    openFilesLimit: wholeNumber(16, 1_048_576).default(256),
    /** Most a run may ask for with its own `timeoutMs`. @default 600000 (10 minutes) */
    maxTimeoutMs: wholeNumber(1, DAY_MS, ' (milliseconds)').default(600_000),
    /** Most a run may ask for with its own `memoryLimitMb`. @default 4096 */
    maxMemoryLimitMb: wholeNumber(16, 1024 * 1024, ' (MiB)').default(4096),
    /** Most a run may ask for with its own `cpus`. @default 4 */
    maxCpus: z
      .number({ error: 'must be a number of cores from 0.01 to 64' })
      .min(0.01, { error: 'must be a number of cores from 0.01 to 64' })
      .max(64, { error: 'must be a number of cores from 0.01 to 64' })
      .default(4),
    /** Total size of the `files` a run may bring into its work dir. @default 10485760 (10 MiB) */
    maxFilesBytes: wholeNumber(0, 1024 * 1024 * 1024, ' (bytes)').default(10 * 1024 * 1024),
    /** Output cap, stdout and stderr together: at the cap the program is stopped. @default 1048576 */
    maxOutputBytes: wholeNumber(1_024, 1024 * 1024 * 1024, ' (bytes)').default(1024 * 1024),
    /** Most runs waiting for a container; one more rejects at once with QueueFullError. @default no limit */
    maxQueue: wholeNumber(0, 1_000_000).optional(),
    /**
     * Longest a run waits in the queue for a container; then it rejects with QueueTimeoutError, or
     * with the reason containers cannot be made (e.g. EngineUnavailableError) while that is so.
     * 0: wait forever. @default 60000
     */
    queueTimeoutMs: wholeNumber(0, DAY_MS, ' (milliseconds; 0 waits forever)').default(60_000),
    /** Total size of the files a run may bring back with `collect`; what is over it is listed in `skippedFiles`. @default 10485760 (10 MiB) */
    maxCollectBytes: wholeNumber(0, 1024 * 1024 * 1024, ' (bytes)').default(10 * 1024 * 1024),
    /**
     * Remove the library's containers and temp dirs whose owner process is gone (killed before it
     * could clean up): at initialize(), then every reapIntervalMs while the Sandbox lives. Never a
     * live process's. @default true
     */
    reapOrphans: z.boolean({ error: 'must be true or false' }).default(true),
    /** How often a live Sandbox reaps dead owners' leftovers (one `docker ps` a round). @default 60000 */
    reapIntervalMs: wholeNumber(1_000, DAY_MS, ' (milliseconds)').default(60_000),
    /**
     * Python modules each container imports before it is ready (e.g. ['numpy', 'pandas']), so a
     * program's own import of them is instant. They count against the memory limit. @default []
     */
    preload: z
      .array(
        z
          .string({ error: 'must be a module name like "numpy" or "matplotlib.pyplot"' })
          .regex(MODULE_NAME, { error: 'must be a module name like "numpy" or "matplotlib.pyplot"' }),
        {
          error: 'must be an array of module names, e.g. ["numpy", "pandas"]',
        },
      )
      .max(64, { error: 'must have at most 64 modules' })
      .default([]),
  })
  .strict();

const LIMIT_MAXIMA = [
  ['timeoutMs', 'maxTimeoutMs'],
  ['memoryLimitMb', 'maxMemoryLimitMb'],
  ['cpus', 'maxCpus'],
] as const;

export const sandboxOptionsSchema = sandboxOptionsShape
  .superRefine((options, context) => {
    // The Sandbox's own limits must fit under the maxima it sets for runs. Only values the caller
    // gave are checked: the defaults shrink to fit (see the transform below).
    for (const [name, max] of LIMIT_MAXIMA) {
      const value = options[name];
      if (value !== undefined && value > options[max]) {
        context.addIssue({ code: 'custom', path: [name], message: `must not exceed ${max} (${options[max]}); raise ${max} too, or lower ${name}` });
      }
    }
    // Below this, a gVisor container fails at initialize() with a raw OCI error, or its programs
    // cannot start a subprocess: say so now, with the number that works.
    if (options.runtime === 'runsc' && options.pidsLimit !== undefined && options.pidsLimit < MIN_RUNSC_PIDS_LIMIT) {
      context.addIssue({
        code: 'custom',
        path: ['pidsLimit'],
        message:
          `must be at least ${MIN_RUNSC_PIDS_LIMIT} under runtime "runsc" (gVisor's own threads count against it; ` +
          `smaller limits fail to start the container or the program's subprocesses: 67 was the least that ` +
          `always worked on a 2-CPU host, and hosts with more CPUs need more); raise it, or leave it out for the default ${DEFAULT_PIDS_LIMIT.runsc}`,
      });
    }
  })
  .transform((options) => ({
    ...options,
    timeoutMs: options.timeoutMs ?? Math.min(DEFAULT_LIMITS.timeoutMs, options.maxTimeoutMs),
    memoryLimitMb: options.memoryLimitMb ?? Math.min(DEFAULT_LIMITS.memoryLimitMb, options.maxMemoryLimitMb),
    cpus: options.cpus ?? Math.min(DEFAULT_LIMITS.cpus, options.maxCpus),
    pidsLimit: options.pidsLimit ?? (options.runtime === 'runsc' ? DEFAULT_PIDS_LIMIT.runsc : DEFAULT_PIDS_LIMIT.runc),
  }));

export type SandboxOptions = z.input<typeof sandboxOptionsSchema>;
export type ResolvedSandboxOptions = z.output<typeof sandboxOptionsSchema>;

/** Largest stdin a run may be given (it travels as a file, so pipe sizes do not matter). */
export const MAX_STDIN_BYTES = 64 * 1024 * 1024;
const MAX_COLLECT_PATTERNS = 100;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const noNul = (what: string) => z.string({ error: `must be ${what}` }).refine((value) => !value.includes('\0'), { error: `must be ${what} without NUL characters` });
const callback = (name: string) =>
  z.custom<(chunk: string) => void>((value) => typeof value === 'function', { error: `must be a function (chunk: string) => void, called as ${name} output arrives` });

const runObjectSchema = z
  .object({
    /** The Python 3 program. */
    code: z.string({ error: 'must be a string of Python code' }),
    /** Wall-clock limit for this run. @default the Sandbox's timeoutMs */
    timeoutMs: wholeNumber(1, DAY_MS, ' (milliseconds)').optional(),
    /** Memory limit for this run only (the warm container is updated before the program starts). */
    memoryLimitMb: wholeNumber(16, 1024 * 1024, ' (MiB)').optional(),
    /** CPU quota for this run only, in cores. */
    cpus: z
      .number({ error: 'must be a number of cores from 0.01 to 64' })
      .min(0.01, { error: 'must be a number of cores from 0.01 to 64' })
      .max(64, { error: 'must be a number of cores from 0.01 to 64' })
      .optional(),
    /** Fed to the program's stdin. Without it the program reads EOF at once. */
    stdin: z
      .union([z.string(), z.instanceof(Buffer)], { error: 'must be a string or a Buffer' })
      .refine((value) => Buffer.byteLength(value) <= MAX_STDIN_BYTES, { error: `must be at most ${MAX_STDIN_BYTES} bytes` })
      .optional(),
    /** Files written into the work dir before the program starts: `{ 'data/in.csv': '...' }`. */
    files: z
      .record(z.string(), z.union([z.string(), z.instanceof(Buffer)], { error: 'must be a string or a Buffer (the file\'s contents)' }), {
        error: 'must be an object of relative paths to string or Buffer contents, e.g. { "data.csv": "a,b" }',
      })
      .superRefine((files, context) => {
        for (const path of Object.keys(files)) {
          const problem = relativePathProblem(path);
          if (problem !== undefined) context.addIssue({ code: 'custom', path: [path], message: problem });
        }
      })
      .optional(),
    /** The program's arguments: `sys.argv[1:]`. */
    argv: z.array(noNul('a string'), { error: 'must be an array of strings' }).max(4096).optional(),
    /** Environment variables for the program, on top of the image's (nothing of the host's). */
    env: z
      .record(z.string(), noNul('a string'), { error: 'must be an object of string values, e.g. { MODE: "test" }' })
      .superRefine((env, context) => {
        for (const name of Object.keys(env)) {
          if (!ENV_NAME.test(name)) context.addIssue({ code: 'custom', path: [name], message: 'is not a variable name: use letters, digits and _, like MY_VAR' });
        }
      })
      .optional(),
    /**
     * Paths or globs relative to the work dir (`['*.png', 'out/**']`) brought back after the
     * program ends, as `result.files`; a directory brings its whole tree.
     */
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
    /** Called with each piece of stdout as it arrives (also kept in the result, up to the cap). */
    onStdout: callback('stdout').optional(),
    /** Called with each piece of stderr as it arrives (also kept in the result, up to the cap). */
    onStderr: callback('stderr').optional(),
    /** Aborting removes a queued run, or kills a running one; run() then rejects with an AbortError. */
    signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  })
  .strict();

export type RunParams = string | z.input<typeof runObjectSchema>;
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

export function parseSandboxOptions(input: unknown): ResolvedSandboxOptions {
  const parsed = sandboxOptionsSchema.safeParse(input ?? {});
  if (!parsed.success) throw new SandboxOptionsError(toIssues(parsed.error, input, Object.keys(sandboxOptionsShape.shape)));
  return parsed.data;
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
      { path: 'files', message: `total ${filesBytes} bytes, more than the Sandbox's maxFilesBytes (${defaults.maxFilesBytes}); raise maxFilesBytes to allow more` },
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

const removeOrphansShape = z
  .object({
    /** Remove every container with the library's label, whoever owns it, live Sandboxes included. @default false */
    all: z.boolean({ error: 'must be true or false' }).optional(),
    /** The docker CLI binary. @default 'docker' */
    dockerPath: nonEmptyString('the path or name of the docker binary').default('docker'),
    /** Engine address (like DOCKER_HOST). @default the environment's */
    dockerHost: nonEmptyString('an engine address such as "unix:///var/run/docker.sock"').optional(),
    /** Called with how many containers carry the label and how many will go, before any is removed. */
    beforeRemoving: z
      .custom<(found: { labelled: number; removing: number }) => void>((value) => typeof value === 'function', {
        error: 'must be a function ({ labelled, removing }) => void',
      })
      .optional(),
  })
  .strict();

export type RemoveOrphansOptions = z.input<typeof removeOrphansShape>;
export type ResolvedRemoveOrphansOptions = z.output<typeof removeOrphansShape>;

/** Validates `removeOrphans()` options the way Sandbox options are: SandboxOptionsError naming each problem. */
export function parseRemoveOrphansOptions(input: unknown): ResolvedRemoveOrphansOptions {
  const parsed = removeOrphansShape.safeParse(input ?? {});
  if (!parsed.success) throw new SandboxOptionsError(toIssues(parsed.error, input, Object.keys(removeOrphansShape.shape)));
  return parsed.data;
}

function toIssues(error: z.ZodError, input: unknown, known: readonly string[]): ValidationIssue[] {
  return error.issues.flatMap((issue): ValidationIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: key, message: `is not a known option; known options are ${known.join(', ')}` }));
    }
    const path = issue.path.map(String).join('.');
    return [{ path, message: `${issue.message} (${described(valueAt(input, issue.path))})` }];
  });
}

/** "got 5", or "not given" for a value the caller left out: a message never says "got undefined". */
function described(value: unknown): string {
  return value === undefined ? 'not given' : `got ${show(value)}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined), input);
}

function show(value: unknown): string {
  // One line, and short: a long array is cut rather than printed in full on many lines.
  return inspect(value, { depth: 0, breakLength: Infinity, compact: true, maxStringLength: 40, maxArrayLength: 10 });
}
