/**
 * Empty network namespaces for the pool to reuse. A container started with `--network none` costs
 * the engine about 105 ms of CPU to set up its namespace (dockerd re-executes itself as a prestart
 * hook); one that joins an existing namespace (`--network container:<holder>`) skips that.
 *
 * Isolation rules: a holder is an idle `sleep` container with no network of its own (only `lo`).
 * It is lent to ONE sandbox container at a time, and comes back only once that container has
 * exited, so no process of an earlier run is alive when the next one joins; programs have no
 * capabilities, so they cannot change the namespace (addresses, routes, firewall, sysctls). Every
 * slot's holder is its own namespace, so concurrent runs cannot reach each other.
 *
 * Holders expire: each one's command is `sleep <lifetime>` and it runs with `--rm`, so it removes
 * itself when the lifetime is over, whether or not its owner is still alive to do it. That is what
 * bounds the leftovers of an owner that died on an engine of another host, where no reaper can
 * check the owner's process. A holder is lent only with enough lifetime left for a container to
 * join it; one closer to its end is removed, and the die event of an expired one makes a new one.
 * A container that joined a holder keeps the namespace after the holder has gone (the namespace
 * lives as long as a process in it), so an expiry never disturbs a container or its run.
 *
 * Not on Podman (DockerEngine.netnsReuseUnsupported says why): there every container gets a
 * namespace of its own, as with `--network none` on Docker without holders.
 */
import type { ContainerLimits } from '../docker/container-args.js';
import type { DockerEngine } from '../docker/engine.js';
import type { EventListener } from './container-events.js';
import { debug, swallowed } from '../debug.js';

const RETRY_AFTER_FAILURE_MS = 5_000;
/**
 * Holder creations in flight at once. Each starts a docker CLI, whose spawn blocks this thread for
 * ~5-10 ms (a fork of the Node process): a new pool's 2 x poolSize holders started together held up
 * initialize()'s resolution, and the first runs, by 100-250 ms. Two at a time keep the engine
 * busy on two cores without that.
 */
const MAX_CREATIONS_IN_FLIGHT = 2;

/** How long holders live, and how much of it must be left for one to be lent. */
export interface HolderLifetime {
  lifetimeMs: number;
  /** Time a lent holder must still have for the container to start and join it. */
  lendMarginMs: number;
}

/**
 * Ten minutes bounds what a dead owner leaves on an engine nobody can reap for it (each holder is
 * gone at most this long after it was made, so after its owner died), and keeps renewal cheap: a
 * Sandbox makes its 2 x poolSize holders again once per lifetime even when idle, one
 * `docker run --detach` each (about 0.2 s of CPU with the CLI's, measured on 2 cores): 0.3% of a
 * core for a pool of 4. A much shorter life would spend more on renewal than reuse saves in a pool
 * that runs little. A container joins its holder as it starts, normally well under a second after
 * it was lent; one minute of margin covers a loaded engine's slow starts.
 */
export const DEFAULT_HOLDER_LIFETIME: HolderLifetime = { lifetimeMs: 10 * 60_000, lendMarginMs: 60_000 };

let holderLifetime = DEFAULT_HOLDER_LIFETIME;

/**
 * Changes the lifetime of holders made by NetnsHolders constructed from now on in this process.
 * Not an option: specs shorten it to watch holders expire. Returns a function that restores it.
 * @internal
 */
export function setHolderLifetime(lifetime: HolderLifetime): () => void {
  const previous = holderLifetime;
  holderLifetime = lifetime;
  return () => {
    holderLifetime = previous;
  };
}

/** A free holder and when it ends (performance.now() time, counted from before it was asked for). */
export interface FreeHolder {
  name: string;
  expiresAt: number;
}

/**
 * The lending rule: holders with less than `marginMs` of life left are expiring (to be removed,
 * never lent); of the others, the one that ends soonest is lent, so fresher ones are kept for later.
 */
export function pickLendable(free: readonly FreeHolder[], now: number, marginMs: number): { lend: FreeHolder | undefined; expiring: FreeHolder[] } {
  const expiring = free.filter((holder) => holder.expiresAt - now < marginMs);
  const lend = free
    .filter((holder) => holder.expiresAt - now >= marginMs)
    .reduce<FreeHolder | undefined>((soonest, holder) => (soonest === undefined || holder.expiresAt < soonest.expiresAt ? holder : soonest), undefined);
  return { lend, expiring };
}

export interface HolderSettings {
  image: string;
  labels: Readonly<Record<string, string>>;
  limits: ContainerLimits;
  namePrefix: string;
}

/** Where holders are followed: the engine's die event of one means it is gone (removed from outside, say). */
export interface HolderWatch {
  watch(listener: EventListener): void;
  unwatch(listener: EventListener): void;
}

export class NetnsHolders {
  readonly #engine: DockerEngine;
  readonly #settings: HolderSettings;
  readonly #target: number;
  readonly #lifetime: HolderLifetime;
  /** Free holders, in the order they came back. */
  readonly #free: FreeHolder[] = [];
  /** When each live holder ends. */
  readonly #expiresAt = new Map<string, number>();
  readonly #all = new Set<string>();
  readonly #watch: HolderWatch;
  /** The die-event listener of each live holder. */
  readonly #listeners = new Map<string, EventListener>();
  /** Holder creations and removals under way: stop() waits for all of them. */
  readonly #pending = new Set<Promise<void>>();
  #sequence = 0;
  #creating = 0;
  #enabled = false;
  #stopped = false;
  #lastFailure = Number.NEGATIVE_INFINITY;

  constructor(engine: DockerEngine, settings: HolderSettings, target: number, watch: HolderWatch) {
    this.#engine = engine;
    this.#watch = watch;
    this.#settings = settings;
    this.#target = target;
    this.#lifetime = holderLifetime;
  }

  /**
   * Lets holders be made from now on. Called once the first pool is ready, so that making holders
   * never slows the pool's start; the first are made on the next turn of the event loop, once
   * whoever waited for the pool has been told.
   */
  enable(): void {
    const unsupported = this.#engine.netnsReuseUnsupported;
    if (unsupported !== undefined) {
      debug('network namespaces are not reused: %s', unsupported);
      return;
    }
    this.#enabled = true;
    this.#stopped = false;
    this.#track(new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.fill()));
  }

  /**
   * A free holder with enough life left to join, or undefined (the container then gets
   * `--network none`). Removes the holders about to expire; tops up in the background.
   */
  take(): string | undefined {
    const { lend, expiring } = pickLendable(this.#free, performance.now(), this.#lifetime.lendMarginMs);
    for (const holder of expiring) this.discard(holder.name);
    if (lend !== undefined) this.#free.splice(this.#free.indexOf(lend), 1);
    this.fill();
    return lend?.name;
  }

  /** Lends a holder back, once the container that used it has exited. */
  give(holder: string): void {
    const expiresAt = this.#expiresAt.get(holder);
    if (this.#stopped || !this.#all.has(holder) || expiresAt === undefined) return;
    this.#free.push({ name: holder, expiresAt });
  }

  /** A holder that failed a container start (or died) is not trusted again: it is forgotten and removed. */
  discard(holder: string): void {
    if (!this.#forget(holder)) return;
    this.#track(this.#remove(holder));
    this.fill();
  }

  /**
   * Adds a new holder to those free, and follows its death: the engine removes a dead holder by
   * itself (--rm), so it is only forgotten, and a new one is made in its place.
   */
  #adopt(holder: string, expiresAt: number): void {
    const listener: EventListener = {
      name: holder,
      noteOom: () => {},
      noteDied: () => {
        if (this.#forget(holder)) this.fill();
      },
    };
    this.#listeners.set(holder, listener);
    this.#watch.watch(listener);
    this.#all.add(holder);
    this.#expiresAt.set(holder, expiresAt);
    this.#free.push({ name: holder, expiresAt });
  }

  /** Stops lending a holder; false if it was not one (any more). */
  #forget(holder: string): boolean {
    const listener = this.#listeners.get(holder);
    if (listener !== undefined) this.#watch.unwatch(listener);
    this.#listeners.delete(holder);
    this.#expiresAt.delete(holder);
    const index = this.#free.findIndex((free) => free.name === holder);
    if (index >= 0) this.#free.splice(index, 1);
    return this.#all.delete(holder);
  }

  #remove(holder: string): Promise<void> {
    return this.#engine.removeContainers([holder]).then(() => undefined, swallowed(`removing holder ${holder}`));
  }

  #track(work: Promise<void>): void {
    const tracked = work.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Starts holders in the background (MAX_CREATIONS_IN_FLIGHT at a time) until there are as many as the target. */
  fill(): void {
    // After a failure, wait a while before asking an engine that refuses again.
    if (!this.#enabled || performance.now() - this.#lastFailure < RETRY_AFTER_FAILURE_MS) return;
    while (!this.#stopped && this.#all.size + this.#creating < this.#target && this.#creating < MAX_CREATIONS_IN_FLIGHT) {
      this.#creating += 1;
      const name = `${this.#settings.namePrefix}${++this.#sequence}`;
      // Counted from before the request: the sleep starts later, so the holder never ends sooner.
      const expiresAt = performance.now() + this.#lifetime.lifetimeMs;
      const creation = this.#engine
        .runDetached({
          name,
          image: this.#settings.image,
          labels: this.#settings.labels,
          limits: { ...this.#settings.limits, network: 'none', memoryLimitMb: 16, pidsLimit: 8 },
          command: ['sleep', String(this.#lifetime.lifetimeMs / 1000)],
        })
        .then(
          async () => {
            this.#creating -= 1;
            if (this.#stopped) return this.#remove(name);
            this.#adopt(name, expiresAt);
            this.fill(); // the next ones (tracked before this creation stops being pending)
          },
          async (error: unknown) => {
            // Without holders the pool still works, with --network none; a later take() tries again.
            swallowed(`creating holder ${name}`)(error);
            this.#creating -= 1;
            this.#lastFailure = performance.now();
            return this.#remove(name);
          },
        );
      this.#track(creation);
    }
  }

  /** Resolves once no holder creation or removal is under way (each is bounded by the CLI's timeout). */
  async whenSettled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** Removes every holder (containers using them must be gone first). */
  async stop(): Promise<void> {
    this.#stopped = true;
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    const holders = [...this.#all];
    for (const holder of holders) this.#forget(holder);
    await this.#engine.removeContainers(holders).catch(swallowed('removing the holders'));
  }
}
