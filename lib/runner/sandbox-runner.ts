/**
 * Runs a Sandbox's programs on its containers: the pool of warm containers (lib/pool, which knows
 * nothing of Docker), the fleet that makes and removes them, and the rules between the two:
 * - a container found gone before its program started ran nothing: the run moves to another
 *   (at most MAX_LOST_CONTAINERS times);
 * - a run whose memory or CPU limits a warm container cannot take gets a container of its own,
 *   while it holds a pool slot, so no more containers run than the pool has;
 * - which creation failures are lasting (waiting runs get them at once) and how retries back off.
 */
import { ContainerStartError, ImageNotFoundError, RuntimeNotFoundError } from '../errors.js';
import { swallowed } from '../debug.js';
import type { ResolvedSandboxOptions } from '../options.js';
import { Pool, type PoolStats } from '../pool/pool.js';
import { ContainerFleet } from './container-fleet.js';
import { ContainerLostError, LimitsNotAppliedError, type ExecuteOptions, type Execution, type WarmContainer } from './warm-container.js';

/** Runs of a container found gone before the program started, before the run gives up. */
const MAX_LOST_CONTAINERS = 3;
/** Container creation retries back off from this delay... */
const RETRY_MIN_MS = 250;
/** ...doubling up to this one: an engine coming back is noticed within seconds, and a down one is asked rarely. */
const RETRY_MAX_MS = 5_000;

/** Failures that retrying will not mend soon: waiting runs get them at once instead of waiting. */
function isLasting(error: unknown): boolean {
  return error instanceof ImageNotFoundError || error instanceof RuntimeNotFoundError || error instanceof ContainerStartError;
}

export interface ProgramRun {
  execution: Execution;
  /** How long the run waited for a container. */
  queuedMs: number;
}

export class SandboxRunner {
  readonly #options: ResolvedSandboxOptions;
  readonly #fleet: ContainerFleet;
  #pool: Pool<WarmContainer> | undefined;

  constructor(options: ResolvedSandboxOptions, sandboxId: string) {
    this.#options = options;
    this.#fleet = new ContainerFleet(options, sandboxId);
  }

  /**
   * Checks the engine, image and runtime, and starts the whole pool; on failure removes what it
   * made and rejects (EngineUnavailableError, ImageNotFoundError, ...). `closing` says whether the
   * Sandbox was cleaned up meanwhile: then the pool is closed again and this resolves false.
   */
  async start(closing: () => boolean): Promise<boolean> {
    await this.#fleet.start();
    const pool = new Pool(this.#fleet, {
      size: this.#options.poolSize,
      maxQueue: this.#options.maxQueue,
      queueTimeoutMs: this.#options.queueTimeoutMs,
      retryMinMs: RETRY_MIN_MS,
      retryMaxMs: RETRY_MAX_MS,
      isLasting,
    });
    await pool.start().catch(async (error: unknown) => {
      await this.#fleet.stop().catch(swallowed('removing what a failed start made'));
      throw error;
    });
    if (closing()) {
      await pool.close();
      return false;
    }
    this.#pool = pool;
    this.#fleet.enableNamespaceReuse();
    return true;
  }

  /**
   * Runs one program: waits (FIFO) for a container, runs it there (or on a container of its own
   * when its limits need one), and hands the container back. The signal leaves the queue, or kills
   * the running program (the execution then ends with reason 'aborted').
   */
  async run(code: string, options: ExecuteOptions): Promise<ProgramRun> {
    const pool = this.#pool;
    if (pool === undefined) throw new Error('internal error: run() before start()');
    const ownLimits = options.memoryLimitMb !== this.#options.memoryLimitMb || options.cpus !== this.#options.cpus;
    const dedicated = ownLimits && !this.#fleet.canUpdateLimits;
    const queuedAt = performance.now();
    for (let attempt = 1; ; attempt++) {
      const container = await acquireLive(pool, options.signal);
      const queuedMs = performance.now() - queuedAt;
      try {
        const execution = dedicated ? await this.#fleet.executeDedicated(code, options) : await this.#execute(container, code, options);
        return { execution, queuedMs };
      } catch (error) {
        // The container was gone before the program started: nothing ran, so run it on another.
        if (!(error instanceof ContainerLostError)) throw error;
        if (attempt === MAX_LOST_CONTAINERS) {
          throw new ContainerStartError(`${attempt} containers in a row were gone before the program could start; is something removing them?`, {
            cause: error,
          });
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

  /** The pool's counters; undefined before start. */
  stats(): PoolStats | undefined {
    return this.#pool?.stats();
  }

  /** Resolves when every slot holds a ready container and nothing is being removed. */
  async whenQuiet(): Promise<void> {
    await this.#pool?.whenQuiet();
  }

  /** Settles runs (the pool waits for them), then removes every container of the Sandbox. */
  async close(): Promise<void> {
    await this.#pool?.close();
    await this.#fleet.stop();
  }
}

/** A container for one run; one that died while it waited (removed from outside, say) is replaced, not used. */
async function acquireLive(pool: Pool<WarmContainer>, signal: AbortSignal | undefined): Promise<WarmContainer> {
  let container = await pool.acquire(signal);
  while (container.dead) {
    pool.release(container);
    container = await pool.acquire(signal);
  }
  return container;
}
