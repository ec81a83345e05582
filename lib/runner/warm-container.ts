/**
 * One pooled container, made ready at warm-up, started with `docker run -i --rm` so that its main
 * process is the loader, already waiting on the CLI's stdin. On the mount path it has a host input
 * directory (bind-mounted read-only), and a run costs one file write and one line on a pipe; on
 * the stdin path the run's files follow that line on the pipe (lib/runner/input-transfer.ts).
 * When the program ends, the loader exits and the engine removes the container by itself.
 * Each WarmContainer runs exactly one program.
 */
import { randomBytes } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { dir as makeTempDir, type DirectoryResult } from 'tmp-promise';
import type { AttachedProcess } from '../docker/cli.js';
import { INPUT_DIR, type ContainerLimits, type InputDirSpec } from '../docker/container-args.js';
import type { DockerEngine } from '../docker/engine.js';
import { swallowed } from '../debug.js';
import { EngineUnavailableError } from '../errors.js';
import type { ResolvedRunParams } from '../options.js';
import { ownerTempDirTemplate } from '../owner.js';
import { settlesWithin } from './bounded-wait.js';
import { collectedFiles, MAX_COLLECT_HEADER_BYTES, notCollectedBecause, type CollectRequest, type SkippedFile } from './collected-files.js';
import { runExecution, type EndReason, type RawExecution } from './execution.js';
import { inputsUnseen, InputsUnseenError, type TransferMode } from './input-transfer.js';
import { loaderCommand, type InputProbe } from './loader.js';
import { waitForReady } from './loader-ready.js';
import { packRunEntries, runEntries, writeRunEntries } from './run-inputs.js';
import { awaitsDeathEvents, decideVerdict, needsEngineCheck, type EndObservations } from './verdict.js';

export interface ContainerSettings {
  image: string;
  limits: ContainerLimits;
  labels: Readonly<Record<string, string>>;
  /** How long a new container may take to say it is ready. */
  startTimeoutMs: number;
  /** Modules the loader imports before it says it is ready. */
  preload: readonly string[];
  /** How runs' code and inputs reach this container. */
  transfer: TransferMode;
  /** Size cap of the input tmpfs on the stdin path. */
  inputTmpfsSizeMb: number;
}

/**
 * What one run asks of a container: the run's parameters in the shape parseRunParams() gives them
 * (optional here: a caller such as a measuring script may leave them out), and the Sandbox's caps.
 * Memory and CPU limits that differ from the container's are applied before the program starts.
 * Aborting the signal kills the container; the execution then ends with reason 'aborted'.
 */
export interface ExecuteOptions extends Partial<Omit<ResolvedRunParams, 'code' | 'collect' | 'timeoutMs'>> {
  timeoutMs: number;
  maxOutputBytes: number;
  /** Paths or globs of the work dir to bring back after the program ends, up to maxBytes in all. */
  collect?: CollectRequest | undefined;
}

export interface Execution {
  stdout: string;
  stderr: string;
  combined: string;
  /** The program's exit status (128 + N when signal N ended it); null when the host stopped it. */
  exitCode: number | null;
  /** The signal that ended the program, if one did. */
  signal: number | null;
  reason: EndReason;
  /** The kernel's OOM killer ended the program (the container's memory cgroup, or the engine's events). */
  oomKilled: boolean;
  /** The output reached the cap and the program was stopped there. */
  truncated: boolean;
  durationMs: number;
  /** Measured inside the container when the loader could report; null when the program was killed. */
  usage: { cpuMs: number; peakMemoryBytes: number } | null;
  /** What `collect` brought back, by path relative to the work dir. */
  files: Record<string, Buffer>;
  /** What `collect` matched but did not bring back, and why. */
  skippedFiles: SkippedFile[];
}

/** How long a container killed without a report may take to be reported dead before it counts as not OOM-killed. */
const DEATH_SETTLE_MS = 1_500;
/** How long after a container's death its OOM event may still arrive. */
const OOM_AFTER_DEATH_MS = 1_500;
/** The file in a mount-path container's input dir that its loader checks at start (removed once it is ready). */
const PROBE_FILE = '.dps-input-probe';

/**
 * The container was gone before its loader took the program (removed from outside, or its engine
 * restarted): nothing ran, so the run may go to another container. Internal: never reaches users.
 */
export class ContainerLostError extends Error {
  constructor(container: string) {
    super(`container ${container} was gone before the program started`);
    this.name = 'ContainerLostError';
  }
}

/**
 * The engine could not give this running container the run's own memory or CPU limits (`docker
 * update` failed): no program started, and the run should go to a container started with them.
 * Internal: never reaches users.
 */
export class LimitsNotAppliedError extends Error {
  constructor(container: string, cause: unknown) {
    super(`the limits of container ${container} could not be changed`, { cause });
    this.name = 'LimitsNotAppliedError';
  }
}

export class WarmContainer {
  readonly name: string;
  readonly #engine: DockerEngine;
  /** The host input directory (mount path only). */
  readonly #dir: DirectoryResult | undefined;
  readonly #loader: AttachedProcess;
  readonly #limits: ContainerLimits;
  readonly #died: Promise<void>;
  #markDied: () => void = () => {};
  #oomEvent = false;
  #markOom: () => void = () => {};
  readonly #oomSeen: Promise<void>;
  #dead = false;
  #used = false;
  #reported = false;
  #killed: Promise<void> | undefined;
  #killError: unknown;
  /** How the container's CLI process ended, once it has. */
  #cliExit: { exitCode: number | undefined } | undefined;

  private constructor(name: string, engine: DockerEngine, dir: DirectoryResult | undefined, loader: AttachedProcess, limits: ContainerLimits) {
    this.name = name;
    this.#limits = limits;
    this.#engine = engine;
    this.#dir = dir;
    this.#loader = loader;
    this.#died = new Promise((resolve) => (this.#markDied = resolve));
    this.#oomSeen = new Promise((resolve) => (this.#markOom = resolve));
    void loader.exited.then((exit) => (this.#cliExit = exit));
  }

  /**
   * Creates the container and waits for its loader; on failure leaves nothing behind. Rejects with
   * InputsUnseenError when, on the mount path, the container does not see its input dir.
   */
  static async start(engine: DockerEngine, name: string, settings: ContainerSettings): Promise<WarmContainer> {
    // On the stdin path nothing needs the file system first: yield all the same, so that a run whose
    // end started this replacement hands its result to its caller before the docker CLI's spawn
    // (milliseconds of this thread), as on the mount path while the temp dir is made.
    const dir = settings.transfer === 'mount' ? await makeTempDir({ template: ownerTempDirTemplate(), unsafeCleanup: true }) : await setImmediate(undefined);
    let loader: AttachedProcess | undefined;
    try {
      let input: InputDirSpec = { kind: 'tmpfs', sizeMb: settings.inputTmpfsSizeMb };
      let probe: InputProbe | undefined;
      if (dir !== undefined) {
        // The container user (not root) must reach the code file; nobody may list the directory.
        await chmod(dir.path, 0o711);
        probe = { path: `${INPUT_DIR}/${PROBE_FILE}`, nonce: randomBytes(16).toString('hex') };
        await writeFile(join(dir.path, PROBE_FILE), probe.nonce, { mode: 0o644 });
        input = { kind: 'mount', hostDir: dir.path };
      }
      loader = engine.runAttached({
        name,
        image: settings.image,
        labels: settings.labels,
        limits: settings.limits,
        input,
        command: loaderCommand(settings.preload, probe),
      });
      const failure = await waitForReady(loader, settings.startTimeoutMs).catch(async (error: unknown) => {
        throw (await engine.whyUnavailable()) ?? error;
      });
      const unseen = failure !== undefined && dir !== undefined ? inputsUnseen(failure.stderr) : undefined;
      if (unseen !== undefined) throw new InputsUnseenError(name, unseen, loader.command);
      // The engine going down while the container started says little in the CLI's stderr: ask it.
      if (failure !== undefined) throw (await engine.whyUnavailable()) ?? engine.startFailure(settings.image, loader.command, failure.exitCode, failure.stderr);
      // Checked: programs see the same input dir on both paths.
      if (dir !== undefined) await rm(join(dir.path, PROBE_FILE), { force: true });
      return new WarmContainer(name, engine, dir, loader, settings.limits);
    } catch (error) {
      loader?.kill();
      await engine.removeContainers([name]).catch(swallowed(`removing ${name}, which failed to start`));
      await dir?.cleanup().catch(swallowed(`removing the temp dir of ${name}`));
      throw error;
    }
  }

  /** The engine reported an OOM kill in this container. */
  noteOom(): void {
    this.#oomEvent = true;
    this.#markOom();
  }

  /** The engine reported this container dead; a run in progress ends. */
  noteDied(): void {
    this.#dead = true;
    this.#markDied();
  }

  /** True once the engine reported the container dead, or its CLI ended: it must not be given a program. */
  get dead(): boolean {
    return this.#dead || this.#cliExit !== undefined;
  }

  /**
   * True when the program ended and the loader reported it: the container is exiting on its own
   * and the engine removes it (--rm), so no `docker rm` is needed.
   */
  get reported(): boolean {
    return this.#reported;
  }

  /** Runs one program. Resolves in every case a program can cause; never runs twice. */
  async execute(code: string, options: ExecuteOptions): Promise<Execution> {
    if (this.#used) throw new Error(`internal error: container ${this.name} was used twice`);
    this.#used = true;
    if (this.dead) throw new ContainerLostError(this.name);
    const memoryLimitMb = options.memoryLimitMb ?? this.#limits.memoryLimitMb;
    const cpus = options.cpus ?? this.#limits.cpus;
    const { entries, staged } = runEntries(code, options);
    // The mount path writes the files now; the stdin path sends them after the go line.
    const payload = this.#dir === undefined ? packRunEntries(entries) : undefined;
    await Promise.all([
      this.#dir === undefined ? undefined : writeRunEntries(this.#dir.path, entries),
      memoryLimitMb !== this.#limits.memoryLimitMb || cpus !== this.#limits.cpus
        ? this.#engine.updateLimits(this.name, { memoryLimitMb, cpus }).catch(async (error: unknown) => {
            // Gone meanwhile (or the engine is): no program started.
            if (this.dead) throw new ContainerLostError(this.name);
            throw (await this.#engine.whyUnavailable()) ?? new LimitsNotAppliedError(this.name, error);
          })
        : undefined,
    ]);
    const raw = await runExecution({
      loader: this.#loader,
      nonce: randomBytes(16).toString('hex'),
      codePath: staged.codePath,
      inputsPath: staged.inputsPath,
      payload,
      onStdout: options.onStdout,
      onStderr: options.onStderr,
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes,
      maxCollectedBytes: options.collect === undefined ? 0 : options.collect.maxBytes + MAX_COLLECT_HEADER_BYTES,
      signal: options.signal,
      died: this.#died,
      kill: () => this.kill(),
      askEngine: () => this.#engine.whyUnavailable(),
    });
    const verdict = decideVerdict(await this.#observeEnd(raw));
    if (verdict.outcome === 'lost') throw new ContainerLostError(this.name);
    if (verdict.outcome === 'engine-down') throw verdict.error;
    this.#reported = verdict.reported;
    const { report: _report, cliExitCode: _cliExitCode, engineDown: _engineDown, collected, collectProblem, ...texts } = raw;
    // A program that did not end on its own took its container, and its files, with it.
    const files = verdict.reported ? collectedFiles(options.collect, collected, collectProblem) : notCollectedBecause(options.collect, raw.reason);
    return { ...texts, exitCode: verdict.exitCode, signal: verdict.signal, oomKilled: verdict.oomKilled, usage: verdict.usage, ...files };
  }

  /**
   * What decideVerdict() needs: after a death without a report, what the engine says may trail it
   * (the CLI's exit, the die and OOM events): wait for those, bounded; ask the engine whether it
   * still answers only when the verdict depends on it.
   */
  async #observeEnd(raw: RawExecution): Promise<EndObservations> {
    if (awaitsDeathEvents(raw)) {
      await Promise.all([settlesWithin(this.#loader.exited, DEATH_SETTLE_MS), settlesWithin(this.#died, DEATH_SETTLE_MS)]);
      if (!this.#oomEvent) await settlesWithin(this.#oomSeen, OOM_AFTER_DEATH_MS);
    }
    const observed: EndObservations = {
      reason: raw.reason,
      report: raw.report,
      cliExitCode: raw.cliExitCode ?? this.#cliExit?.exitCode,
      oomEvent: this.#oomEvent,
      engineDown: raw.engineDown,
      killFailedEngineDown: this.#killError instanceof EngineUnavailableError ? this.#killError : undefined,
    };
    if (needsEngineCheck(observed)) observed.engineDown = await this.#engine.whyUnavailable();
    return observed;
  }

  /** Kills and removes the container now (idempotent). */
  kill(): Promise<void> {
    this.#killed ??= this.#engine.removeContainers([this.name]).catch((error: unknown) => {
      this.#killError = error;
    });
    return this.#killed;
  }

  /** Settles once the container's CLI process has exited: the container is gone (or going). */
  get gone(): Promise<void> {
    return this.#loader.exited.then(() => undefined);
  }

  /** Resolves once the container's CLI process has exited (the container is then gone), or after ms. */
  exited(ms: number): Promise<boolean> {
    return settlesWithin(this.#loader.exited, ms);
  }

  /** Frees what this container holds on the host, once the container itself is gone. */
  async releaseHostResources(): Promise<void> {
    this.#loader.kill();
    await this.#dir?.cleanup().catch(swallowed(`removing the temp dir of ${this.name}`));
  }
}
