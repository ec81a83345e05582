/**
 * Follows the engine's `oom` and `die` events for one Sandbox's containers (one `docker events`
 * process for the whole pool) and tells the container concerned. Under gVisor a container killed
 * at its memory limit dies as a whole, without a report from its loader, and has no cgroup view
 * inside: these events are how such a run ends at once, with the right verdict.
 *
 * Podman (4.3) reports a container's end as `died` (with its name in `Name`, not in
 * `Actor.Attributes.name`), and has no OOM event: under runc, which is all this library runs on
 * Podman, the loader reads OOM kills from the container's cgroup instead.
 */
import { createInterface } from 'node:readline';
import type { AttachedProcess } from '../docker/cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { debug } from '../debug.js';

export interface EventListener {
  readonly name: string;
  noteOom(): void;
  noteDied(): void;
}

/** While the engine is down, following again is tried after 1 s, then 2, 4, 8, 10, 10... */
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 10_000;
/** A follower that lived this long was fine: the next restart starts from the shortest delay again. */
const HEALTHY_AFTER_MS = 10_000;

export class ContainerEvents {
  readonly #engine: DockerEngine;
  readonly #label: string;
  readonly #watched = new Map<string, EventListener>();
  #process: AttachedProcess | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #restartDelayMs = RESTART_MIN_MS;

  constructor(engine: DockerEngine, label: string) {
    this.#engine = engine;
    this.#label = label;
  }

  /** Follows the engine's events from now on (again, after stop()). */
  start(): void {
    this.#stopped = false;
    this.#follow();
  }

  #follow(): void {
    if (this.#stopped || this.#process !== undefined) return;
    const events = this.#engine.watchEvents(this.#label, ['oom', 'die']);
    this.#process = events;
    const startedAt = performance.now();
    createInterface({ input: events.stdout }).on('line', (line) => this.#onEvent(line));
    events.stderr.resume(); // not read, but never allowed to fill up
    void events.exited.then(() => {
      this.#process = undefined;
      if (this.#stopped) return;
      // The engine restarted or the CLI died: follow again shortly, less often while it stays down.
      if (performance.now() - startedAt > HEALTHY_AFTER_MS) this.#restartDelayMs = RESTART_MIN_MS;
      // Background work nobody awaits (a run that needs a death to end bounds its own wait), so it
      // does not keep the process alive by itself.
      debug('the event follower ended; following again in %d ms', this.#restartDelayMs);
      this.#restartTimer = setTimeout(() => this.#follow(), this.#restartDelayMs).unref();
      this.#restartDelayMs = Math.min(RESTART_MAX_MS, this.#restartDelayMs * 2);
    });
  }

  watch(container: EventListener): void {
    this.#watched.set(container.name, container);
  }

  unwatch(container: EventListener): void {
    this.#watched.delete(container.name);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#process?.kill();
    this.#watched.clear();
  }

  #onEvent(line: string): void {
    const event = parseContainerEvent(line);
    const container = event === undefined ? undefined : this.#watched.get(event.name);
    if (event?.status === 'oom') container?.noteOom();
    else if (event?.status === 'die') container?.noteDied();
  }
}

/** One line of `docker events --format '{{json .}}'` (or Podman's), as the container's name and Docker's name of the event. */
export function parseContainerEvent(line: string): { name: string; status: string } | undefined {
  let event: { status?: string; Actor?: { Attributes?: { name?: string } }; Status?: string; Name?: string };
  try {
    event = JSON.parse(line) as typeof event;
  } catch {
    return undefined; // not an event line
  }
  if (typeof event !== 'object' || event === null) return undefined;
  // Docker: {"status":"die","Actor":{"Attributes":{"name":...}}}; Podman: {"Status":"died","Name":...}.
  const name = event.Actor?.Attributes?.name ?? event.Name;
  const status = event.status ?? (event.Status === 'died' ? 'die' : event.Status);
  if (typeof name !== 'string' || typeof status !== 'string') return undefined;
  return { name, status };
}
