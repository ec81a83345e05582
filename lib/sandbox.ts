/**
 * The public facade: the original library's `new Sandbox(options)`, `initialize()`, `run()` and
 * `cleanup()`, each usable with a callback or as a promise. It validates input, keeps the
 * Sandbox's state, hands runs to its runner and shapes their results; it knows nothing of Docker
 * or of containers.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { settle, type Callback } from './callback.js';
import { AbortError, NotInitializedError, SandboxClosedError } from './errors.js';
import { parseRunParams, parseSandboxOptions, type ResolvedSandboxOptions, type RunParams, type SandboxOptions } from './options.js';
import type { PoolGroupState, PoolStats } from './pool/pool.js';
import { toRunResult, type RunResult } from './result.js';
import { SandboxRunner } from './runner/sandbox-runner.js';

export type SandboxState = 'created' | 'initializing' | 'ready' | 'closed';

/** What `stats()` says: containers by state, queued runs, and whether new containers can be made. */
export interface SandboxStats extends Omit<PoolStats, 'lastError'> {
  /** Why the last container could not be made, while `failing` (no engine can make one; e.g. EngineUnavailableError); else null. */
  lastError: Error | null;
  /** Each engine (one, `'default'`, unless the options list `engines`), in the order of the options. */
  engines: EngineStats[];
}

/**
 * One engine in `stats().engines`. `state`: `'up'` (its containers serve runs), `'failing'` (its
 * containers cannot be made, e.g. the image is missing there), `'down'` (it does not answer: no run
 * goes there; it is probed with backoff and re-admitted when it answers).
 */
export interface EngineStats {
  name: string;
  state: PoolGroupState;
  size: number;
  ready: number;
  busy: number;
  starting: number;
  consecutiveFailures: number;
  lastError: Error | null;
}

export class Sandbox implements AsyncDisposable {
  /** The validated options, with defaults filled in. */
  readonly options: Readonly<ResolvedSandboxOptions>;
  /** Labels this Sandbox's containers (`docker-python-sandbox.sandbox=<id>`). */
  readonly id: string;
  readonly #runner: SandboxRunner;
  readonly #closer = new AbortController();
  #initializing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #state: SandboxState = 'created';

  /** Validates the options (throws SandboxOptionsError); starts nothing. */
  constructor(options?: SandboxOptions) {
    this.options = Object.freeze(parseSandboxOptions(options));
    this.id = randomBytes(6).toString('hex');
    this.#runner = new SandboxRunner(this.options, this.id);
    // Every queued and running run listens for cleanup on this one signal: that is by design.
    setMaxListeners(0, this.#closer.signal);
  }

  get state(): SandboxState {
    return this.#state;
  }

  /** Starts `poolSize` containers in parallel; settles when all are ready. Safe to call twice. */
  initialize(): Promise<void>;
  initialize(callback: Callback<void>): void;
  initialize(callback?: Callback<void>): Promise<void> | void {
    return settle(this.#initialize(), callback);
  }

  /** Runs one Python program in a fresh container and resolves with its result. */
  run(param: RunParams): Promise<RunResult>;
  run(param: RunParams, callback: Callback<RunResult>): void;
  run(param: RunParams, callback?: Callback<RunResult>): Promise<RunResult> | void {
    return settle(this.#run(param), callback);
  }

  /**
   * Removes every container of this Sandbox; runs in flight and queued are settled. Idempotent once
   * it succeeded; when the engine could not be reached it rejects (EngineUnavailableError) and a
   * later call tries the removal again.
   */
  cleanup(): Promise<void>;
  cleanup(callback: Callback<void>): void;
  cleanup(callback?: Callback<void>): Promise<void> | void {
    this.#closing ??= this.#cleanup().catch((error: unknown) => {
      // The containers could not be removed (the engine is down, say): a later call tries again.
      this.#closing = undefined;
      throw error;
    });
    return settle(this.#closing, callback);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanup();
  }

  /**
   * Resolves when the pool is warm and quiet again: used containers are replaced and removed in
   * the background, and this waits for both. Useful before a latency-sensitive burst; resolves at
   * once after cleanup.
   */
  async whenWarm(): Promise<void> {
    await this.#initializing;
    await this.#runner.whenQuiet();
  }

  /** Containers by state, queued runs, and whether new containers can be made (`failing`, `lastError`). */
  stats(): SandboxStats {
    const stats = this.#runner.stats();
    const engines = this.#runner.engineStats()?.map((engine) => ({ ...engine, lastError: engine.lastError instanceof Error ? engine.lastError : null }));
    if (stats === undefined || engines === undefined) {
      const idle = { ready: 0, busy: 0, starting: 0, consecutiveFailures: 0, lastError: null };
      return {
        size: this.options.poolSize,
        ...idle,
        queued: 0,
        failing: false,
        engines: this.options.engines.map((engine) => ({ name: engine.name, state: 'up', size: engine.poolSize, ...idle })),
      };
    }
    return { ...stats, lastError: stats.lastError instanceof Error ? stats.lastError : null, engines };
  }

  #initialize(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new SandboxClosedError());
    this.#initializing ??= this.#startPool().catch((error: unknown) => {
      // A failed start leaves nothing behind and may be tried again.
      this.#initializing = undefined;
      if (this.#state !== 'closed') this.#state = 'created';
      throw error;
    });
    return this.#initializing;
  }

  async #startPool(): Promise<void> {
    this.#state = 'initializing';
    if (!(await this.#runner.start(() => this.#closer.signal.aborted))) throw new SandboxClosedError();
    this.#state = 'ready';
  }

  async #run(param: RunParams): Promise<RunResult> {
    const params = parseRunParams(param, this.options);
    if (this.#state === 'closed') throw new SandboxClosedError();
    if (params.signal?.aborted) throw new AbortError(params.signal.reason, false);
    if (this.#state === 'initializing') await this.#initializing;
    const state = this.#state as SandboxState; // it may have changed while initialize() was awaited
    if (state === 'closed') throw new SandboxClosedError();
    if (state !== 'ready') throw new NotInitializedError();
    const signal = params.signal === undefined ? this.#closer.signal : AbortSignal.any([this.#closer.signal, params.signal]);
    const collect = params.collect.length === 0 ? undefined : { patterns: params.collect, maxBytes: this.options.maxCollectBytes };
    let run;
    try {
      run = await this.#runner.run(params.code, { ...params, collect, signal, maxOutputBytes: this.options.maxOutputBytes });
    } catch (error) {
      // Left the queue (the pool rejects with the signal's reason): nothing ran.
      if (params.signal?.aborted) throw new AbortError(params.signal.reason, false);
      throw error;
    }
    if (run.execution.reason === 'aborted') {
      if (params.signal?.aborted) throw new AbortError(params.signal.reason, true);
      throw new SandboxClosedError('The sandbox was cleaned up while this run was in flight.');
    }
    return toRunResult(run.execution, run.queuedMs, run.engine);
  }

  async #cleanup(): Promise<void> {
    this.#state = 'closed';
    this.#closer.abort(new SandboxClosedError('The sandbox was cleaned up before this run started.'));
    await this.#initializing?.catch(() => {}); // its failure was its caller's
    await this.#runner.close();
  }
}
