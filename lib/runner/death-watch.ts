/**
 * Follows the engine's `die` events for one Sandbox's containers (one `docker events` process for
 * the whole pool) and tells the container concerned. Under gVisor a container killed at its
 * memory limit leaves its `docker exec` hanging: this is how such a run ends at once.
 */
import { createInterface } from 'node:readline';
import type { AttachedProcess } from '../docker/cli.js';
import type { DockerEngine } from '../docker/engine.js';

export interface Mortal {
  readonly name: string;
  noteDied(): void;
}

const RESTART_DELAY_MS = 1_000;

export class DeathWatch {
  readonly #engine: DockerEngine;
  readonly #label: string;
  readonly #watched = new Map<string, Mortal>();
  #process: AttachedProcess | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(engine: DockerEngine, label: string) {
    this.#engine = engine;
    this.#label = label;
  }

  start(): void {
    if (this.#stopped || this.#process !== undefined) return;
    const events = this.#engine.watchEvents(this.#label, ['die']);
    this.#process = events;
    createInterface({ input: events.stdout }).on('line', (line) => this.#onEvent(line));
    events.stderr.resume(); // not read, but never allowed to fill up
    void events.exited.then(() => {
      this.#process = undefined;
      if (this.#stopped) return;
      // The engine restarted or the CLI died: follow again shortly.
      this.#restartTimer = setTimeout(() => this.start(), RESTART_DELAY_MS).unref();
    });
  }

  watch(container: Mortal): void {
    this.#watched.set(container.name, container);
  }

  unwatch(container: Mortal): void {
    this.#watched.delete(container.name);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#process?.kill();
    this.#watched.clear();
  }

  #onEvent(line: string): void {
    try {
      const event = JSON.parse(line) as { Actor?: { Attributes?: { name?: string } } };
      const name = event.Actor?.Attributes?.name;
      if (name !== undefined) this.#watched.get(name)?.noteDied();
    } catch {
      // Not an event line: ignore.
    }
  }
}
