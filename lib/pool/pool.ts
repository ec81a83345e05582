/**
 * A fixed-size pool of single-use resources. Whoever acquires a resource uses it once and hands it
 * back with release(): the pool destroys it and starts a replacement in the background. Waiters
 * are served in FIFO order. All scheduling happens in #pump(), which runs after every change.
 *
 * The resources may come from several groups (one per Docker engine), each with its own factory,
 * size, failures and retries; the queue is one for all. A resource goes to the least-loaded group
 * that has one ready and is not down; a group marked down (its engine stopped answering) gets no
 * runs until a creation on it succeeds again.
 *
 * The pool knows nothing of Docker: factories create and destroy its resources.
 */
import { QueueFullError, QueueTimeoutError, SandboxClosedError } from '../errors.js';
import { debug, swallowed } from '../debug.js';

export interface PoolResourceFactory<T> {
  /** `recovering`: the group's last creation failed or it was marked down (check the engine first). */
  create(recovering: boolean): Promise<T>;
  /** Destroys a batch at once (one `docker rm -f` for many containers is much cheaper). Must not reject. */
  destroy(items: readonly T[]): Promise<void>;
}

/** One group of a pool: its resources come from its own factory. */
export interface PoolGroupConfig<T> {
  name: string;
  factory: PoolResourceFactory<T>;
  size: number;
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
  /** Creation failures that mean the group's engine is down (its state becomes 'down'). @default none */
  isDown?: (error: unknown) => boolean;
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

/** 'up': makes resources; 'failing': its creations fail; 'down': its engine does not answer (no runs go there). */
export type PoolGroupState = 'up' | 'failing' | 'down';

export interface PoolGroupStats extends Omit<PoolStats, 'queued' | 'failing'> {
  name: string;
  state: PoolGroupState;
}

interface Waiter<T> {
  resolve(item: T): void;
  reject(error: unknown): void;
}

/** One group's resources and the state of its creations. */
class Group<T> {
  readonly ready: T[] = [];
  readonly leased = new Set<T>();
  readonly creations = new Set<Promise<void>>();
  toDestroy: T[] = [];
  failures = 0;
  lastError: unknown = undefined;
  /** When the last failure happened (performance.now()), to tell which group failed last. */
  failedAt = 0;
  /** Marked down from outside, or the last creation failed with a down error. */
  down = false;
  retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    readonly factory: PoolResourceFactory<T>,
    readonly size: number,
  ) {}

  get failing(): boolean {
    return this.failures > 0 || this.down;
  }

  get load(): number {
    return this.leased.size / this.size;
  }
}

export class Pool<T> {
  readonly #groups: Group<T>[];
  readonly #groupOf = new Map<T, Group<T>>();
  readonly #size: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #destructions = new Set<Promise<void>>();
  #waiters: Waiter<T>[] = [];
  #destroyScheduled = false;
  readonly #maxQueue: number;
  readonly #queueTimeoutMs: number;
  readonly #isLasting: (error: unknown) => boolean;
  readonly #isDown: (error: unknown) => boolean;
  #closed = false;
  #closing: Promise<void> | undefined;
  #leasesDrained: (() => void) | undefined;
  #quietListeners: Array<() => void> = [];

  /** One factory of `options.size` resources, or several groups, each with its own factory and size. */
  constructor(factory: PoolResourceFactory<T> | readonly PoolGroupConfig<T>[], options: PoolOptions) {
    const groups = Array.isArray(factory)
      ? (factory as readonly PoolGroupConfig<T>[])
      : [{ name: 'default', factory: factory as PoolResourceFactory<T>, size: options.size }];
    this.#groups = groups.map((group) => new Group(group.name, group.factory, group.size));
    this.#size = this.#groups.reduce((total, group) => total + group.size, 0);
    this.#retryMinMs = options.retryMinMs ?? 250;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#maxQueue = options.maxQueue ?? Infinity;
    this.#queueTimeoutMs = options.queueTimeoutMs ?? 0;
    this.#isLasting = options.isLasting ?? (() => true);
    this.#isDown = options.isDown ?? (() => false);
  }

  /** Creates the whole pool in parallel. If any creation fails, destroys the others and rejects. */
  async start(): Promise<void> {
    const attempts = this.#groups.flatMap((group) => Array.from({ length: group.size }, () => ({ group, result: group.factory.create(false) })));
    const results = await Promise.allSettled(attempts.map((attempt) => attempt.result));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    for (const group of this.#groups) {
      const created = attempts.flatMap((attempt, index) => {
        const result = results[index];
        return attempt.group === group && result?.status === 'fulfilled' ? [result.value] : [];
      });
      if (failure !== undefined || this.#closed) await group.factory.destroy(created);
      else group.ready.push(...created);
    }
    if (failure !== undefined || this.#closed) throw failure !== undefined ? failure.reason : new SandboxClosedError();
  }

  /** Resolves with a resource for one use; waits in FIFO order while none is free. */
  acquire(signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new SandboxClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const item = this.#take();
    if (item !== undefined) {
      this.#pump();
      return Promise.resolve(item);
    }
    const lasting = this.#lastingFailure();
    if (lasting !== undefined) return Promise.reject(lasting.lastError);
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
        timer = setTimeout(() => waiter.reject(this.#latestFailure() ?? new QueueTimeoutError(this.#queueTimeoutMs)), this.#queueTimeoutMs);
      }
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /** The name of the group a leased resource came from. */
  groupOf(item: T): string | undefined {
    return this.#groupOf.get(item)?.name;
  }

  /** Hands back a used resource: it is destroyed and replaced. */
  release(item: T): void {
    const group = this.#groupOf.get(item);
    if (group === undefined || !group.leased.delete(item)) return;
    this.#groupOf.delete(item);
    this.#scheduleDestroy(group, item);
    if (this.#leasedCount === 0) this.#leasesDrained?.();
    this.#pump();
  }

  /**
   * Hands back a resource that was leased but not used (nothing was given to it): it serves the
   * next waiter, or waits ready at the front of the line. After close it is destroyed.
   */
  putBack(item: T): void {
    const group = this.#groupOf.get(item);
    if (group === undefined || !group.leased.has(item)) return;
    if (this.#closed || group.down) return this.release(item);
    group.leased.delete(item);
    this.#groupOf.delete(item);
    group.ready.unshift(item);
    this.#serveWaiters();
    this.#notifyIfQuiet();
  }

  /**
   * A ready resource that went bad by itself (its container ended while it waited): it is
   * destroyed and replaced now, not when a run would have found it. Leased or unknown: nothing.
   */
  discard(item: T): void {
    for (const group of this.#groups) {
      const index = group.ready.indexOf(item);
      if (index < 0) continue;
      group.ready.splice(index, 1);
      this.#scheduleDestroy(group, item);
      this.#pump();
      return;
    }
  }

  /**
   * The group's engine stopped answering: no run goes there, its ready resources are destroyed,
   * and it gets new ones (each creation told it is recovering) once its retries succeed.
   */
  markDown(name: string, error: unknown): void {
    const group = this.#groups.find((candidate) => candidate.name === name);
    if (group === undefined || this.#closed) return;
    const wasDown = group.down;
    group.down = true;
    group.lastError = error;
    group.failedAt = performance.now();
    for (const item of group.ready.splice(0)) this.#scheduleDestroy(group, item);
    if (!wasDown) {
      group.failures++;
      this.#scheduleRetry(group);
    }
    this.#notifyIfQuiet();
  }

  /**
   * Resolves once the pool is quiet: every slot holds a ready resource and no used one is still
   * being destroyed (at once if that holds now, or after close). The slots of a group that is
   * down do not count while another group is up: a lost engine does not hold up the others.
   */
  whenQuiet(): Promise<void> {
    if (this.#isQuiet() || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#quietListeners.push(resolve));
  }

  /** Quiet: every group is full or down (not all of them down), and nothing is being destroyed. */
  #isQuiet(): boolean {
    const full = (group: Group<T>): boolean => group.ready.length === group.size && group.toDestroy.length === 0;
    return this.#groups.every((group) => full(group) || group.down) && this.#groups.some((group) => !group.down) && this.#destructions.size === 0;
  }

  #notifyIfQuiet(): void {
    if (this.#isQuiet()) for (const listener of this.#quietListeners.splice(0)) listener();
  }

  /**
   * The whole pool's counters. It is `failing` when no group can make resources now; then
   * `lastError` is the latest failure and `consecutiveFailures` the fewest of any group.
   */
  stats(): PoolStats {
    const failing = this.#groups.every((group) => group.failing);
    return {
      size: this.#size,
      ready: this.#sum((group) => group.ready.length),
      busy: this.#leasedCount,
      starting: this.#sum((group) => group.creations.size),
      queued: this.#waiters.length,
      failing,
      consecutiveFailures: failing ? Math.min(...this.#groups.map((group) => group.failures)) : 0,
      lastError: failing ? (this.#latestFailure() ?? null) : null,
    };
  }

  /** Each group's counters and state. */
  groupStats(): PoolGroupStats[] {
    return this.#groups.map((group) => ({
      name: group.name,
      state: group.down ? 'down' : group.failures > 0 ? 'failing' : 'up',
      size: group.size,
      ready: group.ready.length,
      busy: group.leased.size,
      starting: group.creations.size,
      consecutiveFailures: group.failures,
      lastError: group.failing ? group.lastError : null,
    }));
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
    for (const group of this.#groups) clearTimeout(group.retryTimer);
    for (const listener of this.#quietListeners.splice(0)) listener();
    for (const waiter of [...this.#waiters]) waiter.reject(new SandboxClosedError());
    for (const group of this.#groups) for (const item of group.ready.splice(0)) this.#scheduleDestroy(group, item);
    if (this.#leasedCount > 0) await new Promise<void>((resolve) => (this.#leasesDrained = resolve));
    for (let creations = this.#allCreations(); creations.length > 0; creations = this.#allCreations()) await Promise.all(creations);
    this.#flushDestroy();
    while (this.#destructions.size > 0) await Promise.all(this.#destructions);
  }

  // --- scheduling -----------------------------------------------------------------------------

  /** A ready resource of the least-loaded group that is not down, now leased; undefined if none. */
  #take(): T | undefined {
    let best: Group<T> | undefined;
    for (const group of this.#groups) {
      if (group.down || group.ready.length === 0) continue;
      if (best === undefined || group.load < best.load) best = group;
    }
    const item = best?.ready.shift();
    if (best === undefined || item === undefined) return undefined;
    best.leased.add(item);
    this.#groupOf.set(item, best);
    return item;
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const item = this.#take();
      if (item === undefined) return;
      this.#waiters[0]?.resolve(item);
    }
  }

  #pump(): void {
    if (this.#closed) return;
    for (const group of this.#groups) {
      if (group.retryTimer !== undefined) continue;
      const missing = group.size - group.ready.length - group.leased.size - group.creations.size;
      for (let i = 0; i < missing; i++) this.#createOne(group);
    }
  }

  #createOne(group: Group<T>): void {
    const creation = group.factory.create(group.failing).then(
      (item) => {
        group.failures = 0;
        group.lastError = undefined;
        group.down = false;
        if (this.#closed) return this.#scheduleDestroy(group, item);
        group.ready.push(item);
        this.#serveWaiters();
        this.#notifyIfQuiet();
      },
      (error: unknown) => {
        group.failures++;
        group.lastError = error;
        group.failedAt = performance.now();
        if (this.#isDown(error)) {
          group.down = true;
          for (const item of group.ready.splice(0)) this.#scheduleDestroy(group, item);
        }
        // With nothing ready or starting anywhere, waiters would wait for retries that will fail again.
        const othersIdle = this.#groups.every((other) => other.ready.length === 0 && other.creations.size === (other === group ? 1 : 0));
        if (othersIdle && this.#lastingFailure() !== undefined) {
          for (const waiter of [...this.#waiters]) waiter.reject(error);
        }
        debug('creating a resource of %s failed (%d in a row): %s', group.name, group.failures, error instanceof Error ? error.message : String(error));
        this.#scheduleRetry(group);
      },
    );
    const tracked = creation.finally(() => {
      group.creations.delete(tracked);
      this.#pump();
    });
    group.creations.add(tracked);
  }

  #scheduleRetry(group: Group<T>): void {
    const wait = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** (Math.max(1, group.failures) - 1));
    clearTimeout(group.retryTimer);
    group.retryTimer = setTimeout(() => {
      group.retryTimer = undefined;
      this.#pump();
    }, wait); // not unref'd: a queued run may be waiting for this retry
  }

  /** The failure to report when every group fails lastingly (e.g. the image is missing everywhere); else undefined. */
  #lastingFailure(): Group<T> | undefined {
    if (!this.#groups.every((group) => group.failing && this.#isLasting(group.lastError))) return undefined;
    return this.#latestFailingGroup();
  }

  /** The latest creation failure, when every group is failing. */
  #latestFailure(): unknown {
    return this.#groups.every((group) => group.failing) ? this.#latestFailingGroup()?.lastError : undefined;
  }

  #latestFailingGroup(): Group<T> | undefined {
    return this.#groups
      .filter((group) => group.failing)
      .reduce<Group<T> | undefined>((latest, group) => (latest === undefined || group.failedAt > latest.failedAt ? group : latest), undefined);
  }

  #scheduleDestroy(group: Group<T>, item: T): void {
    group.toDestroy.push(item);
    if (this.#destroyScheduled) return;
    this.#destroyScheduled = true;
    // Runs that end together are removed together: one CLI call per group for the batch.
    setImmediate(() => this.#flushDestroy());
  }

  #flushDestroy(): void {
    this.#destroyScheduled = false;
    for (const group of this.#groups) {
      const batch = group.toDestroy.splice(0);
      if (batch.length === 0) continue;
      const destruction = group.factory.destroy(batch).catch(swallowed('destroying used resources'));
      const tracked = destruction.finally(() => {
        this.#destructions.delete(tracked);
        this.#notifyIfQuiet();
      });
      this.#destructions.add(tracked);
    }
  }

  get #leasedCount(): number {
    return this.#sum((group) => group.leased.size);
  }

  #sum(count: (group: Group<T>) => number): number {
    return this.#groups.reduce((total, group) => total + count(group), 0);
  }

  #allCreations(): Promise<void>[] {
    return this.#groups.flatMap((group) => [...group.creations]);
  }
}
