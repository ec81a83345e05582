/**
 * The public facade: the original library's `new Sandbox(options)`, `initialize()`, `run()` and
 * `cleanup()`, each usable with a callback or as a promise. It validates input, owns the pool and
 * turns executions into results; it knows nothing of Docker commands.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { settle, type Callback } from './callback.js';
import { AbortError, ContainerStartError, ImageNotFoundError, NotInitializedError, RuntimeNotFoundError, SandboxClosedError } from './errors.js';
import { parseRunParams, parseSandboxOptions, type ResolvedSandboxOptions, type RunParams, type SandboxOptions } from './options.js';
import { Pool, type PoolStats } from './pool/pool.js';
import { toRunResult, type RunResult } from './result.js';
import { ContainerFleet } from './runner/container-fleet.js';
import { ContainerLostError, LimitsNotAppliedError, type ExecuteOptions, type Execution, type WarmContainer } from './runner/warm-container.js';
import { swallowed } from './debug.js';

export type SandboxState = 'created' | 'initializing' | 'ready' | 'closed';

/** What `stats()` says: containers by state, queued runs, and whether new containers can be made. */
export interface SandboxStats extends Omit<PoolStats, 'lastError'> {
  /** Why the last container could not be made, while `failing` (e.g. EngineUnavailableError); else null. */
  lastError: Error | null;
}

/** Retries of a run whose container was found gone before the program started. */
const MAX_LOST_CONTAINERS = 3;
/** Container creation retries back off from this delay... */
const RETRY_MIN_MS = 250;
/** ...doubling up to this one: an engine coming back is noticed within seconds, and a down one is asked rarely. */
const RETRY_MAX_MS = 5_000;

/** Failures that retrying will not mend soon: waiting runs get them at once instead of waiting. */
function isLasting(error: unknown): boolean {
  return error instanceof ImageNotFoundError || error instanceof RuntimeNotFoundError || error instanceof ContainerStartError;
}

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
    await this.#pool?.whenQuiet();
  }

  /** Containers by state, queued runs, and whether new containers can be made (`failing`, `lastError`). */
  stats(): SandboxStats {
    const stats = this.#pool?.stats();
    if (stats === undefined) return { size: this.options.poolSize, ready: 0, busy: 0, starting: 0, queued: 0, failing: false, consecutiveFailures: 0, lastError: null };
    return { ...stats, lastError: stats.lastError instanceof Error ? stats.lastError : null };
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
    const pool = new Pool(this.#fleet, {
      size: this.options.poolSize,
      maxQueue: this.options.maxQueue,
      queueTimeoutMs: this.options.queueTimeoutMs,
      retryMinMs: RETRY_MIN_MS,
      retryMaxMs: RETRY_MAX_MS,
      isLasting,
    });
    await pool.start().catch(async (error: unknown) => {
      await this.#fleet.stop().catch(swallowed('removing what a failed start made'));
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
    const options: ExecuteOptions = {
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
    };
    // A run with limits a warm container cannot take (gVisor cannot change them) gets a container
    // of its own; it still holds a pool slot meanwhile, so no more containers run than the pool has.
    const ownLimits = params.memoryLimitMb !== this.options.memoryLimitMb || params.cpus !== this.options.cpus;
    const dedicated = ownLimits && !this.#fleet.canUpdateLimits;
    const queuedAt = performance.now();
    for (let attempt = 1; ; attempt++) {
      const container = await this.#acquire(pool, signal, params.signal);
      const queuedMs = performance.now() - queuedAt;
      try {
        const execution = dedicated ? await this.#fleet.executeDedicated(params.code, options) : await this.#execute(container, params.code, options);
        if (execution.reason === 'aborted') {
          if (params.signal?.aborted) throw new AbortError(params.signal.reason, true);
          throw new SandboxClosedError('The sandbox was cleaned up while this run was in flight.');
        }
        return toRunResult(execution, queuedMs);
      } catch (error) {
        // The container was gone before the program started: nothing ran, so run it on another.
        if (!(error instanceof ContainerLostError)) throw error;
        if (attempt === MAX_LOST_CONTAINERS) {
          throw new ContainerStartError(`${attempt} containers in a row were gone before the program could start; is something removing them?`, { cause: error });
        }
      } finally {
        if (dedicated) pool.putBack(container);
        else pool.release(container);
      }
    }
  }

  /** Runs on a warm container; when the engine cannot give it the run's limits, on a container started with them. */
  async #execute(container: WarmContainer, code: string, options: ExecuteOptions): Promise<Execution> {
    try {
      return await container.execute(code, options);
    } catch (error) {
      if (!(error instanceof LimitsNotAppliedError)) throw error;
      return this.#fleet.executeDedicated(code, options);
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
