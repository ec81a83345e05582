/**
 * The options of `new Sandbox(options)`: their documented type, their schema (kept alike by a
 * compile-time check), the defaults that depend on other options, and the parser.
 */
import { z } from 'zod';
import { SandboxOptionsError } from '../errors.js';
import { DAY_MS, engineAddress, MODULE_NAME, nonEmptyString, toIssues, wholeNumber, type DifferingKeys, type NoDifference } from './schema-helpers.js';

export const DEFAULT_IMAGE = 'docker-python-sandbox:latest';

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

/**
 * Options of `new Sandbox(options?)`. They are validated when the Sandbox is made: a bad value or an
 * unknown key throws a `SandboxOptionsError` whose message names each option and the rule it
 * breaks; nothing is started.
 *
 * A default never conflicts with an option you set: `new Sandbox({ maxTimeoutMs: 5000 })` runs with
 * `timeoutMs` 5000. A `timeoutMs`, `memoryLimitMb` or `cpus` you set yourself must not exceed its
 * maximum (`maxTimeoutMs`, `maxMemoryLimitMb`, `maxCpus`).
 */
export type SandboxOptions = {
  /**
   * Containers kept warm (1 to 64); runs beyond them wait in FIFO order. With `engines`, each
   * engine's own `poolSize` counts instead.
   *
   * @default 1
   */
  poolSize?: number;

  /**
   * Wall-clock limit of a run, unless the run sets its own.
   *
   * @default 10000, or `maxTimeoutMs` if that is smaller
   */
  timeoutMs?: number;

  /**
   * Memory limit of each container, with no swap on top (16 MiB at least).
   *
   * @default 50, or `maxMemoryLimitMb` if that is smaller
   */
  memoryLimitMb?: number;

  /**
   * The sandbox image; any image with `python3` works.
   *
   * @default 'docker-python-sandbox:latest'
   */
  image?: string;

  /**
   * The docker CLI binary, or `'podman'` (see [Podman](#podman)).
   *
   * @default 'docker'
   */
  dockerPath?: string;

  /**
   * Engine address for this Sandbox's docker calls: `unix://...`, `ssh://user@host[:port]`
   * (one connection per engine, kept open by the Sandbox) or `tcp://host:2376` (TLS from
   * `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`).
   *
   * @default the environment's `DOCKER_HOST`
   */
  dockerHost?: string;

  /**
   * A Docker context (`docker context ls`) to reach the engine through, instead of `dockerHost`.
   *
   * @default the environment's (`DOCKER_CONTEXT`, or the CLI's current context)
   */
  context?: string;

  /**
   * Several engines sharing one queue: `[{ name, dockerHost or context, poolSize }]`. Each run goes
   * to the least-loaded engine that is up; `result.engine` names it. Not with `dockerHost`,
   * `context` or `poolSize`.
   *
   * @default one engine: `dockerHost` or `context`, with `poolSize` containers
   */
  engines?: EngineOptions[];

  /**
   * How code, stdin and files reach a container: `'mount'` (a read-only bind mount of a host temp
   * dir: the engine must see this host's files), `'stdin'` (in-band on the container's attached
   * stdin: works with any engine) or `'auto'` (checked once per engine at `initialize()`).
   *
   * @default 'auto'
   */
  inputTransfer?: InputTransfer;

  /**
   * How long a new container may take to become ready.
   *
   * @default 60000
   */
  startTimeoutMs?: number;

  /**
   * OCI runtime, e.g. `'runsc'` for gVisor.
   *
   * @default the engine's (runc)
   */
  runtime?: string;

  /**
   * Docker network of the containers; anything else lets code reach a network.
   *
   * @default 'none'
   */
  network?: string;

  /**
   * `uid[:gid]` the program runs as; root is refused.
   *
   * @default '1000:1000'
   */
  user?: string;

  /**
   * CPU quota of each container, in cores.
   *
   * @default 1, or `maxCpus` if that is smaller
   */
  cpus?: number;

  /**
   * Most processes and threads in a container; under runsc at least `128`.
   *
   * @default 64 (256 under runsc)
   */
  pidsLimit?: number;

  /**
   * Root filesystem read-only.
   *
   * @default true
   */
  readOnlyRoot?: boolean;

  /**
   * Size cap of the `/tmp` tmpfs.
   *
   * @default 16
   */
  tmpSizeMb?: number;

  /**
   * Size cap of the work dir (`/sandbox`) tmpfs.
   *
   * @default 16
   */
  workdirSizeMb?: number;

  /**
   * Largest file a program may write (RLIMIT_FSIZE).
   *
   * @default 16
   */
  fileSizeLimitMb?: number;

  /**
   * Most open files per process (RLIMIT_NOFILE).
   *
   * @default 256
   */
  openFilesLimit?: number;

  /**
   * The most a single run may ask for with its own `timeoutMs`; more rejects with a
   * `RunParamsError` naming the maximum.
   *
   * @default 600000
   */
  maxTimeoutMs?: number;

  /**
   * The most a single run may ask for with its own `memoryLimitMb`; more rejects with a
   * `RunParamsError` naming the maximum.
   *
   * @default 4096
   */
  maxMemoryLimitMb?: number;

  /**
   * The most a single run may ask for with its own `cpus`; more rejects with a `RunParamsError`
   * naming the maximum.
   *
   * @default 4
   */
  maxCpus?: number;

  /**
   * Total size of a run's `files`.
   *
   * @default 10485760 (10 MiB)
   */
  maxFilesBytes?: number;

  /**
   * Stdout and stderr together; at the cap the program is stopped.
   *
   * @default 1048576 (1 MiB)
   */
  maxOutputBytes?: number;

  /**
   * Most runs waiting for a container; one more rejects at once with `QueueFullError`.
   *
   * @default no limit
   */
  maxQueue?: number;

  /**
   * Longest a run waits for a container (0: forever); then `QueueTimeoutError`, or the reason
   * containers cannot be made.
   *
   * @default 60000
   */
  queueTimeoutMs?: number;

  /**
   * Total size of the files a run brings back with `collect`; what is over it is listed in
   * `skippedFiles`.
   *
   * @default 10485760 (10 MiB)
   */
  maxCollectBytes?: number;

  /**
   * Remove the containers and temp dirs of dead owners (processes killed before their `cleanup()`)
   * at `initialize()` and then every `reapIntervalMs`; never a live process's.
   *
   * @default true
   */
  reapOrphans?: boolean;

  /**
   * How often a live Sandbox reaps (1000 at least).
   *
   * @default 60000
   */
  reapIntervalMs?: number;

  /**
   * Modules each container imports before it is ready (`['numpy', 'pandas']`), so a program's own
   * `import` of them costs nothing; they count against the memory limit. A module the image lacks
   * fails `initialize` with a `ContainerStartError` naming it.
   *
   * @default []
   */
  preload?: string[];
};

/** See SandboxOptions.inputTransfer. */
export type InputTransfer = 'auto' | 'mount' | 'stdin';

/** One engine of `SandboxOptions.engines`. */
export type EngineOptions = {
  /** Names the engine in `result.engine`, `stats().engines` and errors; unique in the Sandbox. */
  name: string;
  /** The engine's address (as `dockerHost`); leave out both this and `context` for the environment's. */
  dockerHost?: string;
  /** A Docker context to reach the engine through; not with `dockerHost`. */
  context?: string;
  /** Containers kept warm on this engine (1 to 64). @default 1 */
  poolSize?: number;
};

/** An engine of `sandbox.options.engines`: validated, with its pool size. */
export type ResolvedEngineOptions = {
  name: string;
  dockerHost?: string;
  context?: string;
  poolSize: number;
};

const ENGINE_NAME = /^[A-Za-z0-9][\w.-]{0,62}$/;
const CONTEXT_RULE = 'a Docker context name (see `docker context ls`)';
const CONTEXT_NAME = /^[A-Za-z0-9][\w.+-]*$/;

const engineShape = z
  .object(
    {
      name: z
        .string({ error: 'must be a name of letters, digits, ".", "_" or "-", e.g. "local" or "gpu-host-2"' })
        .regex(ENGINE_NAME, { error: 'must be a name of letters, digits, ".", "_" or "-", e.g. "local" or "gpu-host-2"' }),
      dockerHost: engineAddress().optional(),
      context: z
        .string({ error: `must be ${CONTEXT_RULE}` })
        .regex(CONTEXT_NAME, { error: `must be ${CONTEXT_RULE}` })
        .optional(),
      poolSize: wholeNumber(1, 64).default(1),
    },
    { error: 'must be an object { name, dockerHost or context, poolSize }' },
  )
  .strict();

/**
 * Validates SandboxOptions (documented there; a check below keeps the two alike). The keys' order
 * here is the order error messages list the known options in.
 */
const sandboxOptionsShape = z
  .object({
    poolSize: wholeNumber(1, 64).optional(),
    timeoutMs: wholeNumber(1, DAY_MS, ' (milliseconds)').optional(),
    memoryLimitMb: wholeNumber(16, 1024 * 1024, ' (MiB; Python itself needs about 10)').optional(),
    image: nonEmptyString('an image name, e.g. "docker-python-sandbox:latest"').default(DEFAULT_IMAGE),
    dockerPath: nonEmptyString('the path or name of the docker binary').default('docker'),
    dockerHost: engineAddress().optional(),
    context: z
      .string({ error: `must be ${CONTEXT_RULE}` })
      .regex(CONTEXT_NAME, { error: `must be ${CONTEXT_RULE}` })
      .optional(),
    engines: z
      .array(engineShape, { error: 'must be an array of engines, e.g. [{ name: "a", dockerHost: "ssh://sandbox@a" }]' })
      .min(1, { error: 'must list at least one engine' })
      .max(16, { error: 'must list at most 16 engines' })
      .optional(),
    inputTransfer: z.enum(['auto', 'mount', 'stdin'], { error: 'must be "auto", "mount" or "stdin"' }).default('auto'),
    startTimeoutMs: wholeNumber(1_000, 10 * 60_000, ' (milliseconds)').default(60_000),

    runtime: z
      .string({ error: 'must be a runtime name registered with the engine, e.g. "runsc"' })
      .regex(/^[\w.-]+$/, { error: 'must be a runtime name registered with the engine, e.g. "runsc"' })
      .optional(),
    network: nonEmptyString('a docker network name; "none" (the default) gives no network').default('none'),
    user: z
      .string({ error: 'must be a non-root "uid" or "uid:gid", e.g. "1000:1000"' })
      .regex(/^(?!0+(:|$))\d+(:\d+)?$/, { error: 'must be a non-root "uid" or "uid:gid", e.g. "1000:1000"' })
      .default('1000:1000'),
    cpus: z
      .number({ error: 'must be a number of cores from 0.01 to 64' })
      .min(0.01, { error: 'must be a number of cores from 0.01 to 64' })
      .max(64, { error: 'must be a number of cores from 0.01 to 64' })
      .optional(),
    pidsLimit: wholeNumber(8, 65_536).optional(),
    readOnlyRoot: z.boolean({ error: 'must be true or false' }).default(true),
    tmpSizeMb: wholeNumber(1, 65_536, ' (MiB)').default(16),
    workdirSizeMb: wholeNumber(1, 65_536, ' (MiB)').default(16),
    fileSizeLimitMb: wholeNumber(1, 65_536, ' (MiB)').default(16),
    openFilesLimit: wholeNumber(16, 1_048_576).default(256),
    maxTimeoutMs: wholeNumber(1, DAY_MS, ' (milliseconds)').default(600_000),
    maxMemoryLimitMb: wholeNumber(16, 1024 * 1024, ' (MiB)').default(4096),
    maxCpus: z
      .number({ error: 'must be a number of cores from 0.01 to 64' })
      .min(0.01, { error: 'must be a number of cores from 0.01 to 64' })
      .max(64, { error: 'must be a number of cores from 0.01 to 64' })
      .default(4),
    maxFilesBytes: wholeNumber(0, 1024 * 1024 * 1024, ' (bytes)').default(10 * 1024 * 1024),
    maxOutputBytes: wholeNumber(1_024, 1024 * 1024 * 1024, ' (bytes)').default(1024 * 1024),
    maxQueue: wholeNumber(0, 1_000_000).optional(),
    queueTimeoutMs: wholeNumber(0, DAY_MS, ' (milliseconds; 0 waits forever)').default(60_000),
    maxCollectBytes: wholeNumber(0, 1024 * 1024 * 1024, ' (bytes)').default(10 * 1024 * 1024),
    reapOrphans: z.boolean({ error: 'must be true or false' }).default(true),
    reapIntervalMs: wholeNumber(1_000, DAY_MS, ' (milliseconds)').default(60_000),
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
    if (options.dockerHost !== undefined && options.context !== undefined) {
      context.addIssue({ code: 'custom', path: ['context'], message: 'must not be given with dockerHost; give one of them' });
    }
    if (options.engines !== undefined) {
      for (const key of ['dockerHost', 'context', 'poolSize'] as const) {
        if (options[key] !== undefined) {
          context.addIssue({ code: 'custom', path: [key], message: `must not be given with engines; set each engine's ${key} in engines instead` });
        }
      }
      const seen = new Set<string>();
      options.engines.forEach((engine, index) => {
        if (seen.has(engine.name))
          context.addIssue({ code: 'custom', path: ['engines', index, 'name'], message: `must be unique; "${engine.name}" is named twice` });
        seen.add(engine.name);
        if (engine.dockerHost !== undefined && engine.context !== undefined) {
          context.addIssue({ code: 'custom', path: ['engines', index, 'context'], message: 'must not be given with dockerHost; give one of them' });
        }
      });
    }
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
  .transform(({ engines, dockerHost, context, poolSize, ...options }) => ({
    ...options,
    ...(engines === undefined && dockerHost !== undefined && { dockerHost }),
    ...(engines === undefined && context !== undefined && { context }),
    poolSize: engines === undefined ? (poolSize ?? 1) : engines.reduce((total, engine) => total + engine.poolSize, 0),
    engines: engines ?? [
      { name: DEFAULT_ENGINE_NAME, poolSize: poolSize ?? 1, ...(dockerHost !== undefined && { dockerHost }), ...(context !== undefined && { context }) },
    ],
    timeoutMs: options.timeoutMs ?? Math.min(DEFAULT_LIMITS.timeoutMs, options.maxTimeoutMs),
    memoryLimitMb: options.memoryLimitMb ?? Math.min(DEFAULT_LIMITS.memoryLimitMb, options.maxMemoryLimitMb),
    cpus: options.cpus ?? Math.min(DEFAULT_LIMITS.cpus, options.maxCpus),
    pidsLimit: options.pidsLimit ?? (options.runtime === 'runsc' ? DEFAULT_PIDS_LIMIT.runsc : DEFAULT_PIDS_LIMIT.runc),
  }));

/** The options whose default is to leave them unset: the engine's runtime, its DOCKER_HOST or context, no queue limit. */
type UnsetByDefault = 'runtime' | 'dockerHost' | 'context' | 'maxQueue';

/**
 * The options as the Sandbox uses them (`sandbox.options`): validated, every default filled in.
 * Built from SandboxOptions so that each field keeps its documentation. `engines` always lists the
 * engines (one, named "default", when the options gave `dockerHost`/`context` or nothing) and
 * `poolSize` is their total.
 */
export type ResolvedSandboxOptions = Required<Omit<SandboxOptions, UnsetByDefault | 'engines'>> &
  Pick<SandboxOptions, UnsetByDefault> & { engines: ResolvedEngineOptions[] };

/** The name of the one engine of a Sandbox whose options do not list `engines`. */
export const DEFAULT_ENGINE_NAME = 'default';

// Compilation fails here when SandboxOptions and what the schema accepts differ in a key, its type
// or whether it may be left out: a new option needs both its rule above and its documentation.
type _SandboxOptionsMatchSchema = NoDifference<DifferingKeys<SandboxOptions, z.input<typeof sandboxOptionsSchema>>>;
// ...and here when the schema's output is not ResolvedSandboxOptions (a default added or removed).
type _ResolvedSandboxOptionsMatchSchema = NoDifference<DifferingKeys<ResolvedSandboxOptions, z.output<typeof sandboxOptionsSchema>>>;

export function parseSandboxOptions(input: unknown): ResolvedSandboxOptions {
  const parsed = sandboxOptionsSchema.safeParse(input ?? {});
  if (!parsed.success)
    throw new SandboxOptionsError(toIssues(parsed.error, input, Object.keys(sandboxOptionsShape.shape), { engines: Object.keys(engineShape.shape) }));
  return parsed.data;
}
