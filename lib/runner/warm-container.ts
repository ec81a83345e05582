/**
 * One pooled container, made ready at warm-up: its host input directory (bind-mounted read-only),
 * the container itself, and a `docker exec -i` loader already waiting for its go line. A run then
 * costs one file write and one line on a pipe. Each WarmContainer runs exactly one program.
 */
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as makeTempDir, type DirectoryResult } from 'tmp-promise';
import type { AttachedProcess } from '../docker/cli.js';
import { INPUT_DIR, type ContainerLimits } from '../docker/container-args.js';
import type { DockerEngine } from '../docker/engine.js';
import { ContainerStartError } from '../errors.js';
import { runExecution, type EndReason } from './execution.js';
import { LOADER_SOURCE, READY_LINE } from './loader-source.js';

export interface ContainerSettings {
  image: string;
  limits: ContainerLimits;
  labels: Readonly<Record<string, string>>;
  /** How long a new container may take to say it is ready. */
  startTimeoutMs: number;
}

export interface ExecuteOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  /** Aborting kills the container; the execution then ends with reason 'aborted'. */
  signal?: AbortSignal | undefined;
}

export interface Execution {
  stdout: string;
  stderr: string;
  combined: string;
  /** The program's exit status; null when the host stopped it. */
  exitCode: number | null;
  reason: EndReason;
  /** The kernel's OOM killer ended the program (read from the container's memory cgroup). */
  oomKilled: boolean;
  /** The output reached the cap and the program was stopped there. */
  truncated: boolean;
  durationMs: number;
}

const CODE_FILE = 'main.py';
/** How long a container with no cgroup view may take to die before it counts as not OOM-killed. */
const OOM_SETTLE_MS = 1_500;
/** Exit status of a process ended by SIGKILL, which is what the OOM killer sends. */
const SIGKILLED = 128 + 9;

export class WarmContainer {
  readonly name: string;
  readonly #engine: DockerEngine;
  readonly #dir: DirectoryResult;
  readonly #loader: AttachedProcess;
  readonly #died: Promise<void>;
  #markDied: () => void = () => {};
  #oomEvent = false;
  #dead = false;
  #used = false;
  #killed: Promise<void> | undefined;

  private constructor(name: string, engine: DockerEngine, dir: DirectoryResult, loader: AttachedProcess) {
    this.name = name;
    this.#engine = engine;
    this.#dir = dir;
    this.#loader = loader;
    this.#died = new Promise((resolve) => (this.#markDied = resolve));
  }

  /** Creates the container and waits for its loader; on failure leaves nothing behind. */
  static async start(engine: DockerEngine, name: string, settings: ContainerSettings): Promise<WarmContainer> {
    const dir = await makeTempDir({ prefix: 'dps-', unsafeCleanup: true });
    let loader: AttachedProcess | undefined;
    try {
      // The container user (not root) must reach the code file; nobody may list the directory.
      await chmod(dir.path, 0o711);
      await engine.startContainer({ name, image: settings.image, labels: settings.labels, limits: settings.limits, inputDir: dir.path });
      loader = engine.attach({ container: name, argv: ['python3', '-c', LOADER_SOURCE] });
      await waitForReady(loader, settings.startTimeoutMs);
      return new WarmContainer(name, engine, dir, loader);
    } catch (error) {
      loader?.kill();
      await engine.removeContainers([name]).catch(() => {});
      await dir.cleanup().catch(() => {});
      throw error;
    }
  }

  /** The engine reported an OOM kill in this container. */
  noteOom(): void {
    this.#oomEvent = true;
  }

  /** The engine reported this container dead; a run in progress ends. */
  noteDied(): void {
    this.#dead = true;
    this.#markDied();
  }

  /** True once the engine reported the container dead: it must not be given a program. */
  get dead(): boolean {
    return this.#dead;
  }

  /** Runs one program. Resolves in every case a program can cause; never runs twice. */
  async execute(code: string, options: ExecuteOptions): Promise<Execution> {
    if (this.#used) throw new Error(`internal error: container ${this.name} was used twice`);
    this.#used = true;
    await writeFile(join(this.#dir.path, CODE_FILE), code, { mode: 0o644 });
    const raw = await runExecution({
      loader: this.#loader,
      nonce: randomBytes(16).toString('hex'),
      codePath: `${INPUT_DIR}/${CODE_FILE}`,
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes,
      signal: options.signal,
      died: this.#died,
      kill: () => this.kill(),
    });
    // The loader itself was killed (exit 137 is SIGKILL, which a program can also send itself,
    // and gVisor's exec fails otherwise): ask the engine whether the OOM killer did it.
    const suspicious = raw.reason === 'died' || (raw.reason === 'exit' && !raw.markerSeen);
    const oomKilled = suspicious && (await this.#wasOomKilled());
    const exitCode = raw.reason === 'died' || oomKilled ? SIGKILLED : raw.exitCode;
    return { ...raw, exitCode, oomKilled };
  }

  /**
   * Under runc the memory cgroup's counter answers at once. Without a cgroup view (gVisor), a
   * sandbox killed at its limit is going down: wait (bounded) for its death, then take the
   * engine's word, from its events or State.OOMKilled.
   */
  async #wasOomKilled(): Promise<boolean> {
    const kills = await this.#engine.oomKillCount(this.name);
    if (kills !== undefined) return kills > 0;
    await Promise.race([this.#died, delay(OOM_SETTLE_MS)]);
    return this.#oomEvent || (await this.#engine.inspectOomKilled(this.name));
  }

  /** Kills and removes the container now (idempotent). */
  kill(): Promise<void> {
    this.#killed ??= this.#engine.removeContainers([this.name]).catch(() => {});
    return this.#killed;
  }

  /** Frees what this container holds on the host, once the container itself is removed. */
  async releaseHostResources(): Promise<void> {
    this.#loader.kill();
    await this.#dir.cleanup().catch(() => {});
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Resolves once the loader prints its ready line; rejects if it exits or takes too long. */
function waitForReady(loader: AttachedProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let errors = '';
    let settled = false;
    const done = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      loader.stdout.off('data', onData);
      loader.stderr.off('data', onError);
      loader.stdout.pause();
      loader.stderr.pause();
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes(READY_LINE)) done();
    };
    const onError = (chunk: Buffer): void => {
      errors += chunk.toString();
    };
    const timer = setTimeout(
      () => done(new ContainerStartError(`The sandbox loader did not become ready within ${timeoutMs} ms.`, { command: loader.command })),
      timeoutMs,
    );
    loader.stdout.on('data', onData);
    loader.stderr.on('data', onError);
    void loader.exited.then(({ exitCode }) => {
      done(
        new ContainerStartError(
          `The sandbox loader exited (code ${exitCode ?? '?'}) before it was ready: ${errors.trim().slice(0, 2_000) || '(no stderr)'}. ` +
            'The image must provide `python3` on PATH.',
          { command: loader.command },
        ),
      );
    });
  });
}
