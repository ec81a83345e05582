/**
 * Type tests of the public API, as a consumer of the package sees it. Nothing here runs: the file is
 * checked by `tsc -p tsconfig.json --noEmit` (`npm run typecheck`), and a wrong expectation is a
 * compile error. `// @ts-expect-error` marks what must NOT compile; it fails the check when the line
 * compiles after all.
 */
import Sandbox, {
  AbortError,
  CONTAINER_LABEL,
  ContainerStartError,
  DockerCliError,
  EngineUnavailableError,
  ImageNotFoundError,
  NotInitializedError,
  QueueFullError,
  QueueTimeoutError,
  RunParamsError,
  RuntimeNotFoundError,
  SandboxClosedError,
  SandboxError,
  SandboxOptionsError,
  Sandbox as NamedSandbox,
  removeOrphans,
  type Callback,
  type CommonJsExports,
  type EngineOptions,
  type EngineStats,
  type InputTransfer,
  type OrphanReport,
  type RemoveOrphansOptions,
  type ResolvedSandboxOptions,
  type RunParams,
  type RunResult,
  type RunStatus,
  type RunTimings,
  type RunUsage,
  type SandboxErrorCode,
  type SandboxOptions,
  type SandboxStats,
  type SkippedFile,
  type ValidationIssue,
} from '../../lib/index.js';
// Not (yet) exported by lib/index.ts: the object form of RunParams.
import type { RunParamsObject } from '../../lib/options.js';

// ---------------------------------------------------------------------------------------------
// expectTypeOf-style helpers (type-level only; like the expect-type package, without the dependency)

/** True when A and B are the same type, not merely assignable each way. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** An argument list that is empty when the check holds, and impossible to satisfy when it does not. */
type Proof<Holds extends boolean, Expected, Actual> = Holds extends true ? [] : [mismatch: { expected: Expected; actual: Actual }];

interface TypeExpectation<Actual> {
  /** Compiles only when the value's type is exactly Expected. */
  toEqualTypeOf<Expected>(...proof: Proof<Equals<Actual, Expected>, Expected, Actual>): void;
  /** Compiles only when the value's type is assignable to Expected. */
  toMatchTypeOf<Expected>(...proof: Proof<[Actual] extends [Expected] ? true : false, Expected, Actual>): void;
}

/** `expectTypeOf(value).toEqualTypeOf<T>()`; never called at run time (the file only compiles). */
declare function expectTypeOf<Actual>(value: Actual): TypeExpectation<Actual>;
/** `expectType<T>().toEqualTypeOf<U>()` for a type with no value at hand. */
declare function expectType<Actual>(): TypeExpectation<Actual>;

declare const sandbox: Sandbox;
declare const code: string;

// ---------------------------------------------------------------------------------------------
// The default export and the named Sandbox are the same class.

expectType<typeof NamedSandbox>().toEqualTypeOf<typeof Sandbox>();
expectTypeOf(new Sandbox()).toEqualTypeOf<Sandbox>();
expectTypeOf(new Sandbox({ poolSize: 2, timeoutMs: 5_000, preload: ['numpy'] })).toEqualTypeOf<Sandbox>();

// ---------------------------------------------------------------------------------------------
// run(): a promise without a callback, void with one; the callback gets (error, result?).

expectTypeOf(sandbox.run(code)).toEqualTypeOf<Promise<RunResult>>();
expectTypeOf(sandbox.run({ code })).toEqualTypeOf<Promise<RunResult>>();
expectTypeOf(
  sandbox.run(code, (error, result) => {
    expectTypeOf(error).toEqualTypeOf<Error | null>();
    expectTypeOf(result).toEqualTypeOf<RunResult | undefined>();
  }),
).toEqualTypeOf<void>();
expectType<Callback<RunResult>>().toEqualTypeOf<(error: Error | null, result?: RunResult) => void>();
declare const runCallback: (error: Error | null, result?: RunResult) => void;
expectTypeOf(sandbox.run({ code, timeoutMs: 1_000 }, runCallback)).toEqualTypeOf<void>();
// @ts-expect-error: the callback's result may be undefined (when there is an error), so it is optional
sandbox.run(code, (error: Error | null, result: RunResult) => {});

// ---------------------------------------------------------------------------------------------
// initialize() and cleanup(): the same two forms, with no value.

expectTypeOf(sandbox.initialize()).toEqualTypeOf<Promise<void>>();
expectTypeOf(
  sandbox.initialize((error) => {
    expectTypeOf(error).toEqualTypeOf<Error | null>();
  }),
).toEqualTypeOf<void>();
expectTypeOf(sandbox.cleanup()).toEqualTypeOf<Promise<void>>();
expectTypeOf(
  sandbox.cleanup((error) => {
    expectTypeOf(error).toEqualTypeOf<Error | null>();
  }),
).toEqualTypeOf<void>();
expectType<Parameters<Sandbox['whenWarm']>>().toEqualTypeOf<[]>();
expectTypeOf(sandbox.whenWarm()).toEqualTypeOf<Promise<void>>();
expectTypeOf(sandbox[Symbol.asyncDispose]()).toEqualTypeOf<Promise<void>>();
expectTypeOf(sandbox.options).toEqualTypeOf<Readonly<ResolvedSandboxOptions>>();
expectTypeOf(sandbox.options.poolSize).toEqualTypeOf<number>();
// Defaults are filled in: the resolved options have no optional limits left...
expectTypeOf(sandbox.options.timeoutMs).toEqualTypeOf<number>();
expectTypeOf(sandbox.options.pidsLimit).toEqualTypeOf<number>();
// ...except those whose default is "none".
expectTypeOf(sandbox.options.maxQueue).toEqualTypeOf<number | undefined>();

// ---------------------------------------------------------------------------------------------
// CommonJS: `require('docker-python-sandbox')` is the class, carrying every named export.

declare const commonJs: CommonJsExports;
expectTypeOf(new commonJs()).toEqualTypeOf<Sandbox>();
expectTypeOf(new commonJs({ poolSize: 2 })).toEqualTypeOf<Sandbox>();
expectTypeOf(commonJs.Sandbox).toEqualTypeOf<typeof Sandbox>();
expectTypeOf(commonJs.removeOrphans).toEqualTypeOf<typeof removeOrphans>();
expectType<typeof commonJs.CONTAINER_LABEL>().toEqualTypeOf<typeof CONTAINER_LABEL>();
expectTypeOf(commonJs.SandboxError).toEqualTypeOf<typeof SandboxError>();
expectTypeOf(commonJs.SandboxOptionsError).toEqualTypeOf<typeof SandboxOptionsError>();
expectTypeOf(commonJs.RunParamsError).toEqualTypeOf<typeof RunParamsError>();
expectTypeOf(commonJs.DockerCliError).toEqualTypeOf<typeof DockerCliError>();
expectTypeOf(commonJs.EngineUnavailableError).toEqualTypeOf<typeof EngineUnavailableError>();
expectTypeOf(commonJs.ImageNotFoundError).toEqualTypeOf<typeof ImageNotFoundError>();
expectTypeOf(commonJs.RuntimeNotFoundError).toEqualTypeOf<typeof RuntimeNotFoundError>();
expectTypeOf(commonJs.ContainerStartError).toEqualTypeOf<typeof ContainerStartError>();
expectTypeOf(commonJs.NotInitializedError).toEqualTypeOf<typeof NotInitializedError>();
expectTypeOf(commonJs.SandboxClosedError).toEqualTypeOf<typeof SandboxClosedError>();
expectTypeOf(commonJs.AbortError).toEqualTypeOf<typeof AbortError>();
expectTypeOf(commonJs.QueueFullError).toEqualTypeOf<typeof QueueFullError>();
expectTypeOf(commonJs.QueueTimeoutError).toEqualTypeOf<typeof QueueTimeoutError>();
// The class's own statics are there too: it is the class itself, not a namespace holding it.
expectType<CommonJsExports>().toMatchTypeOf<typeof Sandbox>();

// ---------------------------------------------------------------------------------------------
// removeOrphans()

expectTypeOf(removeOrphans()).toEqualTypeOf<Promise<OrphanReport>>();
expectTypeOf(removeOrphans({ all: true, dockerHost: 'unix:///var/run/docker.sock' })).toEqualTypeOf<Promise<OrphanReport>>();
expectType<OrphanReport>().toMatchTypeOf<{ containers: number; tempDirs: number }>();
expectType<Parameters<typeof removeOrphans>>().toEqualTypeOf<[options?: RemoveOrphansOptions]>();
removeOrphans({
  beforeRemoving: (found) => {
    expectTypeOf(found).toEqualTypeOf<{ labelled: number; removing: number }>();
  },
});
// @ts-expect-error: unknown key
removeOrphans({ everything: true });

// ---------------------------------------------------------------------------------------------
// Errors: every class is a SandboxError with a `code` (typed as the union, not per class) and its
// own fields.

expectTypeOf(new QueueFullError(1).code).toEqualTypeOf<SandboxErrorCode>();
expectTypeOf(new QueueFullError(1)).toMatchTypeOf<SandboxError>();
expectTypeOf(new QueueFullError(1).maxQueue).toEqualTypeOf<number>();
expectTypeOf(new QueueTimeoutError(1).queueTimeoutMs).toEqualTypeOf<number>();
expectTypeOf(new SandboxOptionsError([]).issues).toEqualTypeOf<readonly ValidationIssue[]>();
expectTypeOf(new RunParamsError([]).issues).toEqualTypeOf<readonly ValidationIssue[]>();
expectTypeOf(new NotInitializedError().command).toEqualTypeOf<string | undefined>();
declare const error: SandboxError;
expectTypeOf(error.code).toEqualTypeOf<SandboxErrorCode>();
// The codes README's table lists, no more and no fewer.
expectType<SandboxErrorCode>().toEqualTypeOf<
  | 'ERR_SANDBOX_OPTIONS'
  | 'ERR_RUN_PARAMS'
  | 'ERR_ENGINE_UNAVAILABLE'
  | 'ERR_IMAGE_NOT_FOUND'
  | 'ERR_RUNTIME_NOT_FOUND'
  | 'ERR_CONTAINER_START'
  | 'ERR_DOCKER_CLI'
  | 'ERR_NOT_INITIALIZED'
  | 'ERR_SANDBOX_CLOSED'
  | 'ERR_ABORTED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_QUEUE_TIMEOUT'
>();
if (error.code === 'ERR_QUEUE_FULL') {
  // Narrowing on a code works as with any string union.
  expectTypeOf(error.code).toEqualTypeOf<'ERR_QUEUE_FULL'>();
}
// @ts-expect-error: not a code
if (error.code === 'ERR_QUEUE_FULLL') {
}

// ---------------------------------------------------------------------------------------------
// Options: documented interfaces; unknown keys and wrong types do not compile.

// @ts-expect-error: unknown option (a typo of poolSize)
new Sandbox({ poolSizee: 1 });
// @ts-expect-error: wrong type
new Sandbox({ poolSize: '1' });
// @ts-expect-error: wrong type
new Sandbox({ preload: 'numpy' });
expectType<SandboxOptions>().toMatchTypeOf<object>();
expectType<{}>().toMatchTypeOf<SandboxOptions>(); // every option may be left out
expectType<SandboxOptions['poolSize']>().toEqualTypeOf<number | undefined>();
expectType<SandboxOptions['preload']>().toEqualTypeOf<string[] | undefined>();
expectType<SandboxOptions['readOnlyRoot']>().toEqualTypeOf<boolean | undefined>();
expectType<RemoveOrphansOptions['all']>().toEqualTypeOf<boolean | undefined>();
// Plain object types, as the z.input<> types they replace were: they fit an index signature.
expectType<SandboxOptions>().toMatchTypeOf<Record<string, unknown>>();
expectType<RemoveOrphansOptions>().toMatchTypeOf<Record<string, unknown>>();
expectType<ResolvedSandboxOptions>().toMatchTypeOf<Record<string, unknown>>();
expectType<RunParamsObject>().toMatchTypeOf<Record<string, unknown>>();
// The resolved options are the options with every default filled in; only those whose default is
// to leave them unset stay optional.
expectType<ResolvedSandboxOptions>().toMatchTypeOf<SandboxOptions>();
expectType<{ [K in keyof ResolvedSandboxOptions]-?: undefined extends ResolvedSandboxOptions[K] ? K : never }[keyof ResolvedSandboxOptions]>().toEqualTypeOf<
  'runtime' | 'dockerHost' | 'context' | 'maxQueue'
>();

// ---------------------------------------------------------------------------------------------
// RunParams: a code string, or an object with at least `code`.

expectType<string>().toMatchTypeOf<RunParams>();
expectType<{ code: string }>().toMatchTypeOf<RunParams>();
expectType<RunParams>().toEqualTypeOf<string | RunParamsObject>();
expectType<RunParamsObject['code']>().toEqualTypeOf<string>();
expectType<RunParamsObject['stdin']>().toEqualTypeOf<string | Buffer | undefined>();
expectType<RunParamsObject['files']>().toEqualTypeOf<Record<string, string | Buffer> | undefined>();
expectType<RunParamsObject['onStdout']>().toEqualTypeOf<((chunk: string) => void) | undefined>();
expectType<RunParamsObject['signal']>().toEqualTypeOf<AbortSignal | undefined>();
const params: RunParams = {
  code: 'print(1)',
  timeoutMs: 1_000,
  memoryLimitMb: 64,
  cpus: 0.5,
  stdin: Buffer.from('x'),
  files: { 'in.csv': 'a,b', 'model.bin': Buffer.alloc(1) },
  argv: ['--verbose'],
  env: { MODE: 'test' },
  collect: ['*.png'],
  onStdout: (chunk) => expectTypeOf(chunk).toEqualTypeOf<string>(),
  onStderr: () => {},
  signal: AbortSignal.timeout(1_000),
};
expectTypeOf(sandbox.run(params)).toEqualTypeOf<Promise<RunResult>>();
// @ts-expect-error: code is required in the object form
sandbox.run({ timeoutMs: 1_000 });
// @ts-expect-error: unknown parameter (a typo of timeoutMs)
sandbox.run({ code, timeOut: 1_000 });
// @ts-expect-error: not a code string or an object
sandbox.run(42);

// ---------------------------------------------------------------------------------------------
// Results

expectType<RunResult['status']>().toEqualTypeOf<RunStatus>();
expectType<RunStatus>().toEqualTypeOf<'ok' | 'error' | 'timeout' | 'oom' | 'output_limit'>();
expectType<RunResult['exitCode']>().toEqualTypeOf<number | null>();
expectType<RunResult['signal']>().toEqualTypeOf<string | null>();
expectType<RunResult['timings']>().toEqualTypeOf<RunTimings>();
expectType<RunTimings>().toEqualTypeOf<{ queuedMs: number; runMs: number }>();
expectType<RunResult['usage']>().toEqualTypeOf<RunUsage | null>();
expectType<RunUsage>().toEqualTypeOf<{ cpuMs: number; peakMemoryBytes: number }>();
expectType<RunResult['files']>().toEqualTypeOf<Record<string, Buffer>>();
expectType<RunResult['skippedFiles']>().toEqualTypeOf<SkippedFile[]>();
expectType<SkippedFile>().toEqualTypeOf<{ path: string; reason: string }>();
expectType<keyof RunResult>().toEqualTypeOf<
  | 'stdout'
  | 'stderr'
  | 'combined'
  | 'isError'
  | 'timedOut'
  | 'status'
  | 'exitCode'
  | 'signal'
  | 'oomKilled'
  | 'truncated'
  | 'durationMs'
  | 'timings'
  | 'usage'
  | 'files'
  | 'skippedFiles'
  | 'engine'
>();
expectType<RunResult['engine']>().toEqualTypeOf<string>();

// ---------------------------------------------------------------------------------------------
// Several engines: the options, the per-engine stats, the transfer modes.

expectType<SandboxOptions['engines']>().toEqualTypeOf<EngineOptions[] | undefined>();
expectType<EngineOptions>().toEqualTypeOf<{ name: string; dockerHost?: string; context?: string; poolSize?: number }>();
expectType<ResolvedSandboxOptions['engines']>().toMatchTypeOf<Array<{ name: string; poolSize: number }>>();
expectType<InputTransfer>().toEqualTypeOf<'auto' | 'mount' | 'stdin'>();
expectType<SandboxStats['engines']>().toEqualTypeOf<EngineStats[]>();
expectType<EngineStats['state']>().toEqualTypeOf<'up' | 'failing' | 'down'>();
expectType<EngineStats['lastError']>().toEqualTypeOf<Error | null>();
expectType<SandboxError['engine']>().toEqualTypeOf<string | undefined>();
new Sandbox({
  engines: [
    { name: 'a', dockerHost: 'ssh://sandbox@a' },
    { name: 'b', context: 'b', poolSize: 4 },
  ],
  inputTransfer: 'stdin',
});
// @ts-expect-error an engine needs a name
new Sandbox({ engines: [{ dockerHost: 'ssh://sandbox@a' }] });
// @ts-expect-error not a transfer mode
new Sandbox({ inputTransfer: 'scp' });
