/**
 * One pooled container, made ready at warm-up: its host input directory (bind-mounted read-only),
 * the container itself, and a `docker exec -i` loader already waiting for its go line. A run then
 * costs one file write and one line on a pipe. Each WarmContainer runs exactly one program.
 */
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { dir as makeTempDir, type DirectoryResult } from 'tmp-promise';
import type { AttachedProcess } from '../docker/cli.js';
import { INPUT_DIR } from '../docker/container-args.js';
import type { DockerEngine } from '../docker/engine.js';
import { ContainerStartError } from '../errors.js';
import { goLine, LOADER_SOURCE, MARKER_PREFIX, READY_LINE } from './loader-source.js';
import { MarkerStream } from './marker-stream.js';
import { OutputCollector } from './output-collector.js';

export interface ContainerSettings {
  image: string;
  memoryLimitMb: number;
  labels: Readonly<Record<string, string>>;
  /** How long a new container may take to say it is ready. */
  startTimeoutMs: number;
}

export interface ExecuteOptions {
  timeoutMs: number;
  /** Aborting kills the container; the execution then ends with `aborted: true`. */
  signal?: AbortSignal | undefined;
}

export interface Execution {
  stdout: string;
  stderr: string;
  combined: string;
  /** The program's exit status; null when it was killed by the host (timeout or abort). */
  exitCode: number | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

const CODE_FILE = 'main.py';
/** After a timeout, how long to wait for the kill to land before settling anyway. */
const KILL_GRACE_MS = 1_000;

export class WarmContainer {
  readonly name: string;
  readonly #engine: DockerEngine;
  readonly #dir: DirectoryResult;
  readonly #loader: AttachedProcess;
  #used = false;
  #killed: Promise<void> | undefined;

  private constructor(name: string, engine: DockerEngine, dir: DirectoryResult, loader: AttachedProcess) {
    this.name = name;
    this.#engine = engine;
    this.#dir = dir;
    this.#loader = loader;
  }

  /** Creates the container and waits for its loader; on failure leaves nothing behind. */
  static async start(engine: DockerEngine, name: string, settings: ContainerSettings): Promise<WarmContainer> {
    const dir = await makeTempDir({ prefix: 'dps-', unsafeCleanup: true });
    let loader: AttachedProcess | undefined;
    try {
      // The container user (not root) must reach the code file; nobody may list the directory.
      await chmod(dir.path, 0o711);
      await engine.startContainer({
        name,
        image: settings.image,
        labels: settings.labels,
        memoryLimitMb: settings.memoryLimitMb,
        inputDir: dir.path,
      });
      loader = engine.attach({ container: name, argv: ['python3', '-u', '-c', LOADER_SOURCE] });
      await waitForReady(loader, settings.startTimeoutMs);
      return new WarmContainer(name, engine, dir, loader);
    } catch (error) {
      loader?.kill();
      await engine.removeContainers([name]).catch(() => {});
      await dir.cleanup().catch(() => {});
      throw error;
    }
  }

  /** Runs one program. Resolves in every case a program can cause; never runs twice. */
  async execute(code: string, options: ExecuteOptions): Promise<Execution> {
    if (this.#used) throw new Error(`internal error: container ${this.name} was used twice`);
    this.#used = true;
    await writeFile(join(this.#dir.path, CODE_FILE), code, { mode: 0o644 });

    const nonce = randomBytes(16).toString('hex');
    const token = MARKER_PREFIX + nonce;
    const output = new OutputCollector();
    const out = new MarkerStream(token, (chunk) => output.add('stdout', chunk));
    const err = new MarkerStream(token, (chunk) => output.add('stderr', chunk));
    const { stdout, stderr, stdin } = this.#loader;

    return new Promise<Execution>((resolve) => {
      const started = performance.now();
      let settled = false;
      let timer: NodeJS.Timeout | undefined;

      const finish = (exitCode: number | null, timedOut: boolean, aborted: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        stdout.off('data', onStdout);
        stderr.off('data', onStderr);
        resolve({ ...output.close(), exitCode, timedOut, aborted, durationMs: performance.now() - started });
      };
      const checkMarkers = (): void => {
        const status = out.trailer;
        if (status !== undefined && err.trailer !== undefined) finish(parseStatus(status), false, false);
      };
      const onStdout = (chunk: Buffer): void => {
        out.push(chunk);
        checkMarkers();
      };
      const onStderr = (chunk: Buffer): void => {
        err.push(chunk);
        checkMarkers();
      };
      let killing = false;
      const killThenFinish = (timedOut: boolean, aborted: boolean): void => {
        if (killing) return;
        killing = true;
        // Stop the clock and the output now; settle once the container is gone (bounded).
        stdout.off('data', onStdout);
        stderr.off('data', onStderr);
        clearTimeout(timer);
        void Promise.race([this.kill(), delay(KILL_GRACE_MS)]).then(() => finish(null, timedOut, aborted));
      };
      const onAbort = (): void => killThenFinish(false, true);

      stdout.on('data', onStdout);
      stderr.on('data', onStderr);
      stdout.resume();
      stderr.resume();
      // The loader ended without (both) markers: it was killed, or the program closed a stream.
      void Promise.all([this.#loader.exited, settledStream(stdout), settledStream(stderr)]).then(([exit]) => {
        if (killing) return; // the host's kill ended it: that verdict stands
        out.flush();
        err.flush();
        const status = out.trailer;
        finish(status !== undefined ? parseStatus(status) : (exit.exitCode ?? null), false, false);
      });

      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => killThenFinish(true, false), options.timeoutMs);
      stdin.write(goLine(nonce, `${INPUT_DIR}/${CODE_FILE}`));
    });
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

function parseStatus(trailer: string): number | null {
  const status = Number.parseInt(trailer.slice(1), 10);
  return Number.isNaN(status) ? null : status;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function settledStream(stream: NodeJS.ReadableStream): Promise<void> {
  return finished(stream).catch(() => {});
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
