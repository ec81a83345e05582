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
 */
import type { ContainerLimits } from '../docker/container-args.js';
import type { DockerEngine } from '../docker/engine.js';
import type { EventListener } from './container-events.js';
import { swallowed } from '../debug.js';

const RETRY_AFTER_FAILURE_MS = 5_000;

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
  readonly #free: string[] = [];
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
  }

  /**
   * Lets holders be made from now on. Called once the first pool is ready, so that making holders
   * never slows the pool's start.
   */
  enable(): void {
    this.#enabled = true;
    this.#stopped = false;
    this.fill();
  }

  /** A free holder to join, or undefined (the container then gets `--network none`). Tops up in the background. */
  take(): string | undefined {
    const holder = this.#free.shift();
    this.fill();
    return holder;
  }

  /** Lends a holder back, once the container that used it has exited. */
  give(holder: string): void {
    if (this.#stopped || !this.#all.has(holder)) return;
    this.#free.push(holder);
  }

  /** A holder that failed a container start (or died) is not trusted again: it is forgotten and removed. */
  discard(holder: string): void {
    if (!this.#forget(holder)) return;
    this.#track(this.#remove(holder));
    this.fill();
  }

  /** Adds a new holder to those free, and follows its death. */
  #adopt(holder: string): void {
    const listener: EventListener = { name: holder, noteOom: () => {}, noteDied: () => this.discard(holder) };
    this.#listeners.set(holder, listener);
    this.#watch.watch(listener);
    this.#all.add(holder);
    this.#free.push(holder);
  }

  /** Stops lending a holder; false if it was not one (any more). */
  #forget(holder: string): boolean {
    const listener = this.#listeners.get(holder);
    if (listener !== undefined) this.#watch.unwatch(listener);
    this.#listeners.delete(holder);
    const index = this.#free.indexOf(holder);
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

  /** Starts holders in the background until there are as many as the target. */
  fill(): void {
    // After a failure, wait a while before asking an engine that refuses again.
    if (!this.#enabled || performance.now() - this.#lastFailure < RETRY_AFTER_FAILURE_MS) return;
    while (!this.#stopped && this.#all.size + this.#creating < this.#target) {
      this.#creating += 1;
      const name = `${this.#settings.namePrefix}${++this.#sequence}`;
      const creation = this.#engine
        .runDetached({
          name,
          image: this.#settings.image,
          labels: this.#settings.labels,
          limits: { ...this.#settings.limits, network: 'none', memoryLimitMb: 16, pidsLimit: 8 },
          command: ['sleep', 'infinity'],
        })
        .then(
          async () => {
            this.#creating -= 1;
            if (this.#stopped) return this.#remove(name);
            this.#adopt(name);
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

  /** Removes every holder (containers using them must be gone first). */
  async stop(): Promise<void> {
    this.#stopped = true;
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    const holders = [...this.#all];
    for (const holder of holders) this.#forget(holder);
    await this.#engine.removeContainers(holders).catch(swallowed('removing the holders'));
  }
}
