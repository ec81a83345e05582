/**
 * A fixed-size pool of single-use resources. Whoever acquires a resource uses it once and hands it
 * back with release(): the pool destroys it and starts a replacement in the background. Waiters
 * are served in FIFO order. All scheduling happens in #pump(), which runs after every change.
 *
 * The pool knows nothing of Docker: a factory creates and destroys its resources.
 */
import { QueueFullError, QueueTimeoutError, SandboxClosedError } from '../errors.js';
import { debug, swallowed } from '../debug.js';

export interface PoolResourceFactory<T> {
  create(): Promise<T>;
  /** Destroys a batch at once (one `docker rm -f` for many containers is much cheaper). Must not reject. */
  destroy(items: readonly T[]): Promise<void>;
}

export interface PoolOptions {
  size: number;
  /** First delay before retrying after a failed create; doubles up to retryMaxMs. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Most waiters; one more is refused at once with QueueFullError. @default Infinity */
  maxQueue?: number;
  /**
   * How long a waiter waits; then it rejects with the last creation failure if creations are
   * failing, else with QueueTimeoutError. 0: no limit. @default 0
   */
  queueTimeoutMs?: number;
  /**
   * Creation failures that retrying will not mend soon (a missing image, say): waiters are
   * rejected with them at once, and so are new acquires while nothing is ready. Others (the
   * engine restarting) leave waiters waiting for the retries, up to queueTimeoutMs.
   */
  isLasting?: (error: unknown) => boolean;
}

export interface PoolStats {
  size: number;
  /** Resources ready for a run. */
  ready: number;
  /** Resources in use by a run. */
  busy: number;
  /** Resources being created. */
  starting: number;
  /** Acquires waiting for a resource. */
  queued: number;
  /** The last creation failed, and none has succeeded since. */
  failing: boolean;
  /** Creation failures in a row (0 when the last creation succeeded). */
  consecutiveFailures: number;
  /** The last creation failure while failing, else null. */
  lastError: unknown;
}

interface Waiter<T> {
  resolve(item: T): void;
  reject(error: unknown): void;
}

export class Pool<T> {
  readonly #factory: PoolResourceFactory<T>;
  readonly #size: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #ready: T[] = [];
  readonly #leased = new Set<T>();
  readonly #creations = new Set<Promise<void>>();
  readonly #destructions = new Set<Promise<void>>();
  #waiters: Waiter<T>[] = [];
  #toDestroy: T[] = [];
  #destroyScheduled = false;
  #failures = 0;
  #lastError: unknown = undefined;
  readonly #maxQueue: number;
  readonly #queueTimeoutMs: number;
  readonly #isLasting: (error: unknown) => boolean;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #leasesDrained: (() => void) | undefined;
  #quietListeners: Array<() => void> = [];

  constructor(factory: PoolResourceFactory<T>, options: PoolOptions) {
    this.#factory = factory;
    this.#size = options.size;
    this.#retryMinMs = options.retryMinMs ?? 250;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#maxQueue = options.maxQueue ?? Infinity;
    this.#queueTimeoutMs = options.queueTimeoutMs ?? 0;
    this.#isLasting = options.isLasting ?? (() => true);
  }

  /** Creates the whole pool in parallel. If any creation fails, destroys the others and rejects. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(Array.from({ length: this.#size }, () => this.#factory.create()));
    const created = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined || this.#closed) {
      await this.#factory.destroy(created);
      throw failure !== undefined ? failure.reason : new SandboxClosedError();
    }
    this.#ready.push(...created);
  }

  /** Resolves with a resource for one use; waits in FIFO order while none is free. */
  acquire(signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new SandboxClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const item = this.#ready.shift();
    if (item !== undefined) {
      this.#leased.add(item);
      this.#pump();
      return Promise.resolve(item);
    }
    if (this.#failing && this.#isLasting(this.#lastError)) return Promise.reject(this.#lastError);
    if (this.#waiters.length >= this.#maxQueue) return Promise.reject(new QueueFullError(this.#maxQueue));
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      const onAbort = (): void => {
        leave();
        reject(signal?.reason);
      };
      const waiter: Waiter<T> = {
        resolve: (value) => {
          leave();
          resolve(value);
        },
        reject: (error) => {
          leave();
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.#queueTimeoutMs > 0) {
        timer = setTimeout(() => waiter.reject(this.#failing ? this.#lastError : new QueueTimeoutError(this.#queueTimeoutMs)), this.#queueTimeoutMs);
      }
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  get #failing(): boolean {
    return this.#failures > 0;
  }

  /** Hands back a used resource: it is destroyed and replaced. */
  release(item: T): void {
    if (!this.#leased.delete(item)) return;
    this.#scheduleDestroy(item);
    if (this.#leased.size === 0) this.#leasesDrained?.();
    this.#pump();
  }

  /**
   * Hands back a resource that was leased but not used (nothing was given to it): it serves the
   * next waiter, or waits ready at the front of the line. After close it is destroyed.
   */
  putBack(item: T): void {
    if (!this.#leased.has(item)) return;
    if (this.#closed) return this.release(item);
    this.#leased.delete(item);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#leased.add(item);
      waiter.resolve(item);
      return;
    }
    this.#ready.unshift(item);
    this.#notifyIfQuiet();
  }

  /**
   * Resolves once the pool is quiet: every slot holds a ready resource and no used one is still
   * being destroyed (at once if that holds now, or after close).
   */
  whenQuiet(): Promise<void> {
    if (this.#isQuiet() || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#quietListeners.push(resolve));
  }

  #isQuiet(): boolean {
    return this.#ready.length === this.#size && this.#toDestroy.length === 0 && this.#destructions.size === 0;
  }

  #notifyIfQuiet(): void {
    if (this.#isQuiet()) for (const listener of this.#quietListeners.splice(0)) listener();
  }

  stats(): PoolStats {
    return {
      size: this.#size,
      ready: this.#ready.length,
      busy: this.#leased.size,
      starting: this.#creations.size,
      queued: this.#waiters.length,
      failing: this.#failing,
      consecutiveFailures: this.#failures,
      lastError: this.#failing ? this.#lastError : null,
    };
  }

  /**
   * Refuses new work, rejects waiters, destroys idle resources, waits for creations in flight and
   * for leased resources to come back, then destroys those. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    for (const listener of this.#quietListeners.splice(0)) listener();
    for (const waiter of [...this.#waiters]) waiter.reject(new SandboxClosedError());
    for (const item of this.#ready.splice(0)) this.#scheduleDestroy(item);
    if (this.#leased.size > 0) await new Promise<void>((resolve) => (this.#leasesDrained = resolve));
    while (this.#creations.size > 0) await Promise.all(this.#creations);
    this.#flushDestroy();
    while (this.#destructions.size > 0) await Promise.all(this.#destructions);
  }

  #pump(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    const missing = this.#size - this.#ready.length - this.#leased.size - this.#creations.size;
    for (let i = 0; i < missing; i++) this.#createOne();
  }

  #createOne(): void {
    const creation = this.#factory.create().then(
      (item) => {
        this.#failures = 0;
        this.#lastError = undefined;
        if (this.#closed) return this.#scheduleDestroy(item);
        const waiter = this.#waiters.shift();
        if (waiter === undefined) {
          this.#ready.push(item);
          this.#notifyIfQuiet();
          return;
        }
        this.#leased.add(item);
        waiter.resolve(item);
      },
      (error: unknown) => {
        this.#failures++;
        this.#lastError = error;
        // With nothing ready or starting, waiters would wait for a retry that will fail again.
        if (this.#ready.length === 0 && this.#creations.size === 1 && this.#isLasting(error)) {
          for (const waiter of [...this.#waiters]) waiter.reject(error);
        }
        const wait = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** (this.#failures - 1));
        debug('creating a resource failed (%d in a row), retrying in %d ms: %s', this.#failures, wait, error instanceof Error ? error.message : String(error));
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#pump();
        }, wait); // not unref'd: a queued run may be waiting for this retry
      },
    );
    const tracked = creation.finally(() => {
      this.#creations.delete(tracked);
      this.#pump();
    });
    this.#creations.add(tracked);
  }

  #scheduleDestroy(item: T): void {
    this.#toDestroy.push(item);
    if (this.#destroyScheduled) return;
    this.#destroyScheduled = true;
    // Runs that end together are removed together: one CLI call for the batch.
    setImmediate(() => this.#flushDestroy());
  }

  #flushDestroy(): void {
    this.#destroyScheduled = false;
    const batch = this.#toDestroy.splice(0);
    if (batch.length === 0) return;
    const destruction = this.#factory.destroy(batch).catch(swallowed('destroying used resources'));
    const tracked = destruction.finally(() => {
      this.#destructions.delete(tracked);
      this.#notifyIfQuiet();
    });
    this.#destructions.add(tracked);
  }
}
