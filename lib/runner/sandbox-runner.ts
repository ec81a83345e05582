/**
 * Runs a Sandbox's programs on its containers: the pool of warm containers (lib/pool, which knows
 * nothing of Docker; one group per engine), the fleets that make and remove them (one per
 * engine), and the rules between the two:
 * - a run that finds its engine not answering fails with EngineUnavailableError naming the engine
 *   (it may have started: it is never run twice); the engine is marked down, so queued runs go to
 *   the others until a creation on it succeeds again;
 * - a container found gone before its program started ran nothing: the run moves to another
 *   (at most MAX_LOST_CONTAINERS times);
 * - a run whose memory or CPU limits a warm container cannot take gets a container of its own,
 *   while it holds a pool slot, so no more containers run than the pool has;
 * - which creation failures are lasting (waiting runs get them at once) and how retries back off.
 */
import { ContainerStartError, EngineUnavailableError, ImageNotFoundError, RuntimeNotFoundError } from '../errors.js';
import { swallowed } from '../debug.js';
import type { ResolvedSandboxOptions } from '../options.js';
import { Pool, type PoolGroupStats, type PoolStats } from '../pool/pool.js';
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
  /** The name of the engine that ran it. */
  engine: string;
}

export class SandboxRunner {
  readonly #options: ResolvedSandboxOptions;
  readonly #fleets: ReadonlyMap<string, ContainerFleet>;
  #pool: Pool<WarmContainer> | undefined;

  constructor(options: ResolvedSandboxOptions, sandboxId: string) {
    this.#options = options;
    this.#fleets = new Map(options.engines.map((engine) => [engine.name, new ContainerFleet(options, sandboxId, engine)]));
  }

  /**
   * Checks the engine, image and runtime, and starts the whole pool; on failure removes what it
   * made and rejects (EngineUnavailableError, ImageNotFoundError, ...). `closing` says whether the
   * Sandbox was cleaned up meanwhile: then the pool is closed again and this resolves false.
   */
  async start(closing: () => boolean): Promise<boolean> {
    const fleets = [...this.#fleets.values()];
    const started = await Promise.allSettled(fleets.map((fleet) => fleet.start()));
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) {
      await this.#stopFleets().catch(swallowed('removing what a failed start made'));
      throw failed.reason;
    }
    const pool = new Pool(
      fleets.map((fleet) => ({ name: fleet.name, factory: fleet, size: this.#sizeOf(fleet.name) })),
      {
        size: this.#options.poolSize,
        maxQueue: this.#options.maxQueue,
        queueTimeoutMs: this.#options.queueTimeoutMs,
        retryMinMs: RETRY_MIN_MS,
        retryMaxMs: RETRY_MAX_MS,
        isLasting,
        isDown: (error) => error instanceof EngineUnavailableError,
      },
    );
    await pool.start().catch(async (error: unknown) => {
      await this.#stopFleets().catch(swallowed('removing what a failed start made'));
      throw error;
    });
    if (closing()) {
      await pool.close();
      return false;
    }
    this.#pool = pool;
    for (const fleet of fleets) {
      fleet.enableNamespaceReuse();
      // A ready container that ends by itself (idle limit, removed from outside) is replaced now.
      fleet.onGone = (container) => pool.discard(container);
    }
    return true;
  }

  #sizeOf(engine: string): number {
    return this.#options.engines.find((candidate) => candidate.name === engine)?.poolSize ?? 0;
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
    const queuedAt = performance.now();
    for (let attempt = 1; ; attempt++) {
      const container = await acquireLive(pool, options.signal);
      const queuedMs = performance.now() - queuedAt;
      const engine = pool.groupOf(container) ?? '';
      const fleet = this.#fleets.get(engine);
      if (fleet === undefined) throw new Error(`internal error: no fleet for engine "${engine}"`);
      const dedicated = ownLimits && !fleet.canUpdateLimits;
      try {
        const execution = dedicated ? await fleet.executeDedicated(code, options) : await this.#execute(fleet, container, code, options);
        return { execution, queuedMs, engine };
      } catch (error) {
        if (error instanceof EngineUnavailableError) {
          // Runs waiting now go to the other engines; this one is probed until it answers.
          fleet.noteUnavailable();
          pool.markDown(engine, error);
          throw error.fromEngine(engine, this.#options.engines.length > 1);
        }
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
  async #execute(fleet: ContainerFleet, container: WarmContainer, code: string, options: ExecuteOptions): Promise<Execution> {
    try {
      return await container.execute(code, options);
    } catch (error) {
      if (!(error instanceof LimitsNotAppliedError)) throw error;
      return fleet.executeDedicated(code, options);
    }
  }

  /** The pool's counters; undefined before start. */
  stats(): PoolStats | undefined {
    return this.#pool?.stats();
  }

  /** Each engine's counters and state; undefined before start. */
  engineStats(): PoolGroupStats[] | undefined {
    return this.#pool?.groupStats();
  }

  /**
   * Resolves when every slot holds a ready container, nothing is being removed, and no
   * network-namespace holder is being made (a first pool's are made once it is ready). An engine
   * that is down is not waited for, as in Pool.whenQuiet().
   */
  async whenQuiet(): Promise<void> {
    const pool = this.#pool;
    if (pool === undefined) return;
    await pool.whenQuiet();
    const up = new Set(pool.groupStats().flatMap((group) => (group.state === 'down' ? [] : [group.name])));
    await Promise.all([...this.#fleets.values()].filter((fleet) => up.has(fleet.name)).map((fleet) => fleet.whenHoldersSettled()));
  }

  /** Settles runs (the pool waits for them), then removes every container of the Sandbox. */
  async close(): Promise<void> {
    await this.#pool?.close();
    await this.#stopFleets();
  }

  /** Stops every fleet (all are tried); rejects with the first failure, e.g. an engine that does not answer. */
  async #stopFleets(): Promise<void> {
    const stopped = await Promise.allSettled([...this.#fleets.values()].map((fleet) => fleet.stop()));
    const failed = stopped.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
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
