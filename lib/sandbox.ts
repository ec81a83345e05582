/**
 * The public facade: the original library's `new Sandbox(options)`, `initialize()`, `run()` and
 * `cleanup()`, each usable with a callback or as a promise. It validates input, owns the pool and
 * turns executions into results; it knows nothing of Docker commands.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { settle, type Callback } from './callback.js';
import { AbortError, NotInitializedError, SandboxClosedError } from './errors.js';
import { parseRunParams, parseSandboxOptions, type ResolvedSandboxOptions, type RunParams, type SandboxOptions } from './options.js';
import { Pool, type PoolStats } from './pool/pool.js';
import { toRunResult, type RunResult } from './result.js';
import { ContainerFleet } from './runner/container-fleet.js';
import type { WarmContainer } from './runner/warm-container.js';

export type SandboxState = 'created' | 'initializing' | 'ready' | 'closed';

export class Sandbox implements AsyncDisposable {
  /** The validated options, with defaults filled in. */
  readonly options: Readonly<ResolvedSandboxOptions>;
  /** Labels this Sandbox's containers (`docker-python-sandbox.sandbox=<id>`). */
  readonly id: string;
  readonly #fleet: ContainerFleet;
  readonly #closer = new AbortController();
  #pool: Pool<WarmContainer> | undefined;
  #initializing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #state: SandboxState = 'created';

  /** Validates the options (throws SandboxOptionsError); starts nothing. */
  constructor(options?: SandboxOptions) {
    this.options = Object.freeze(parseSandboxOptions(options));
    this.id = randomBytes(6).toString('hex');
    this.#fleet = new ContainerFleet(this.options, this.id);
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

  /** Removes every container of this Sandbox; runs in flight and queued are settled. Idempotent. */
  cleanup(): Promise<void>;
  cleanup(callback: Callback<void>): void;
  cleanup(callback?: Callback<void>): Promise<void> | void {
    this.#closing ??= this.#cleanup();
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
    await this.#pool?.whenQuiet();
  }

  /** Counts of containers by state and of queued runs. */
  stats(): PoolStats {
    return this.#pool?.stats() ?? { size: this.options.poolSize, ready: 0, leased: 0, starting: 0, queued: 0 };
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
    await this.#fleet.start();
    const pool = new Pool(this.#fleet, { size: this.options.poolSize });
    await pool.start().catch(async (error: unknown) => {
      await this.#fleet.stop().catch(() => {});
      throw error;
    });
    if (this.#closer.signal.aborted) {
      await pool.close();
      throw new SandboxClosedError();
    }
    this.#pool = pool;
    this.#state = 'ready';
    this.#fleet.enableNamespaceReuse();
  }

  async #run(param: RunParams): Promise<RunResult> {
    const params = parseRunParams(param, this.options);
    if (this.#state === 'closed') throw new SandboxClosedError();
    if (params.signal?.aborted) throw new AbortError(params.signal.reason, false);
    if (this.#state === 'initializing') await this.#initializing;
    const pool = this.#pool;
    if (pool === undefined) throw new NotInitializedError();
    const signal = params.signal === undefined ? this.#closer.signal : AbortSignal.any([this.#closer.signal, params.signal]);
    const queuedAt = performance.now();
    const container = await this.#acquire(pool, signal, params.signal);
    const queuedMs = performance.now() - queuedAt;
    try {
      const execution = await container.execute(params.code, {
        timeoutMs: params.timeoutMs,
        memoryLimitMb: params.memoryLimitMb,
        cpus: params.cpus,
        maxOutputBytes: this.options.maxOutputBytes,
        stdin: params.stdin,
        files: params.files,
        argv: params.argv,
        env: params.env,
        collect: params.collect.length === 0 ? undefined : { patterns: params.collect, maxBytes: this.options.maxCollectBytes },
        onStdout: params.onStdout,
        onStderr: params.onStderr,
        signal,
      });
      if (execution.reason === 'aborted') {
        if (params.signal?.aborted) throw new AbortError(params.signal.reason, true);
        throw new SandboxClosedError('The sandbox was cleaned up while this run was in flight.');
      }
      return toRunResult(execution, queuedMs);
    } finally {
      pool.release(container);
    }
  }

  /** A live container for one run; the run's own abort turns into an AbortError. */
  async #acquire(pool: Pool<WarmContainer>, signal: AbortSignal, own: AbortSignal | undefined): Promise<WarmContainer> {
    try {
      let container = await pool.acquire(signal);
      // A container that died while it waited (removed from outside, say) is replaced, not used.
      while (container.dead) {
        pool.release(container);
        container = await pool.acquire(signal);
      }
      return container;
    } catch (error) {
      if (own?.aborted) throw new AbortError(own.reason, false);
      throw error;
    }
  }

  async #cleanup(): Promise<void> {
    this.#state = 'closed';
    this.#closer.abort(new SandboxClosedError('The sandbox was cleaned up before this run started.'));
    await this.#initializing?.catch(() => {});
    await this.#pool?.close();
    await this.#fleet.stop();
  }
}
