/**
 * Puts an image on another engine: `docker save` on the source engine streamed straight into
 * `docker load` on the target (nothing is written to disk on this host), counting the bytes on the
 * way so that the caller can show progress. The target's copy has the same image id, so a target
 * that already has that id is left alone.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DockerCliError, ImageNotFoundError } from '../errors.js';
import { DockerCli, type DockerCliConfig } from './cli.js';

const NO_SUCH_IMAGE = /No such image/i;
const INSPECT_TIMEOUT_MS = 30_000;
/** While the tar streams, this long without a byte means the transfer is stuck (a hung engine or link). */
const STALL_MS = 120_000;
/** After the last byte, `docker load` still registers the layers: seconds for the sandbox image. */
const LOAD_AFTER_STREAM_MS = 10 * 60_000;
/** How much of a failed process's stderr is kept for the error. */
const STDERR_KEPT = 16_000;

/** What a transfer would do, found before any byte is sent. */
export interface ImageTransferPlan {
  image: string;
  /** The image id on the source engine (sha256:...). */
  id: string;
  /** The image's size on the source engine (`docker image inspect --format {{.Size}}`): about what `docker save` sends. */
  size: number;
  /** The target already has an image of that name with the same id: nothing needs to be sent. */
  alreadyThere: boolean;
}

export class ImageTransfer {
  readonly image: string;
  readonly #source: DockerCli;
  readonly #target: DockerCli;

  constructor(image: string, source: DockerCliConfig, target: DockerCliConfig) {
    this.image = image;
    this.#source = new DockerCli(source);
    this.#target = new DockerCli(target);
  }

  /**
   * Gets both engines ready (DockerCli.open(): an ssh:// engine is then reached through one ssh
   * connection for all the calls); close() ends that. Rejects as plan() would for an engine that
   * cannot be reached.
   */
  async open(): Promise<void> {
    await Promise.all([this.#source.open(), this.#target.open()]);
  }

  /** Closes what open() opened. Idempotent. */
  async close(): Promise<void> {
    await Promise.all([this.#source.close(), this.#target.close()]);
  }

  /**
   * Looks at both engines. Rejects with ImageNotFoundError when the source lacks the image, and
   * with EngineUnavailableError (naming the engine) when either engine does not answer.
   */
  async plan(): Promise<ImageTransferPlan> {
    let source: string;
    try {
      source = (await this.#source.run(['image', 'inspect', '--format', '{{.Id}} {{.Size}}', this.image], { timeoutMs: INSPECT_TIMEOUT_MS })).stdout;
    } catch (error) {
      if (error instanceof DockerCliError && NO_SUCH_IMAGE.test(error.stderr))
        throw new ImageNotFoundError(this.image, { command: error.command ?? '', cause: error });
      throw error;
    }
    const [id = '', size = ''] = source.trim().split(' ');
    const targetId = await this.#targetId();
    return { image: this.image, id, size: Number(size) || 0, alreadyThere: targetId === id };
  }

  /**
   * Streams the image from the source into the target and checks that the target then has the
   * planned id. `onProgress` hears the bytes sent so far, once per chunk (tens of KiB). Resolves
   * with the bytes sent; rejects with the failing side's typed error (its command and stderr).
   */
  async send(plan: ImageTransferPlan, onProgress: (bytes: number) => void = () => {}): Promise<number> {
    const save = this.#source.spawn(['save', this.image]);
    save.stdin.end();
    const load = this.#target.spawn(['load']);
    const saveStderr = collect(save.stderr);
    const loadStderr = collect(load.stderr);
    const loadStdout = collect(load.stdout);
    let bytes = 0;
    let stalled = false;
    const stop = (): void => {
      save.kill();
      load.kill();
    };
    let stallTimer = setTimeout(() => {
      stalled = true;
      stop();
    }, STALL_MS);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        stallTimer.refresh();
        onProgress(bytes);
        callback(null, chunk);
      },
    });
    // A load that refuses the stream breaks the pipe: save is then stopped, and load's error is the one to report.
    let pipeBroke = false;
    try {
      await pipeline(save.stdout, counter, load.stdin);
    } catch {
      pipeBroke = true;
      save.kill();
    } finally {
      clearTimeout(stallTimer);
    }
    stallTimer = setTimeout(() => load.kill(), LOAD_AFTER_STREAM_MS);
    const [saved, loaded] = await Promise.all([save.exited, load.exited]).finally(() => clearTimeout(stallTimer));
    if (stalled) {
      throw new DockerCliError(`${save.command} | ${load.command} stalled: no data for ${STALL_MS / 1000} s after ${bytes} bytes; both were stopped`, {
        command: `${save.command} | ${load.command}`,
        exitCode: undefined,
        stderr: `${await saveStderr}${await loadStderr}`,
      });
    }
    const loadFailure = (): Promise<Error> => loadStderr.then((stderr) => this.#target.failure(load.command, loaded.exitCode, stderr));
    if (loaded.exitCode !== 0 && (pipeBroke || saved.exitCode === 0)) throw await loadFailure();
    // A save that failed by itself ends the stream early, and load then fails too: the save is the cause.
    if (saved.exitCode !== 0) throw this.#source.failure(save.command, saved.exitCode, await saveStderr);
    if (loaded.exitCode !== 0) throw await loadFailure();
    const now = await this.#targetId();
    if (now !== plan.id) {
      throw new DockerCliError(`${load.command} ended, but the target's ${this.image} is ${now ?? 'missing'}, not ${plan.id}: ${(await loadStdout).trim()}`, {
        command: load.command,
        exitCode: loaded.exitCode,
        stderr: await loadStderr,
      });
    }
    return bytes;
  }

  /** The id of the image of that name on the target, or undefined when it has none. */
  async #targetId(): Promise<string | undefined> {
    try {
      return (await this.#target.run(['image', 'inspect', '--format', '{{.Id}}', this.image], { timeoutMs: INSPECT_TIMEOUT_MS })).stdout.trim();
    } catch (error) {
      if (error instanceof DockerCliError && NO_SUCH_IMAGE.test(error.stderr)) return undefined;
      throw error;
    }
  }
}

/** The text of a stream, keeping its first STDERR_KEPT characters; never rejects. */
function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (chunk: Buffer | string) => {
      if (text.length < STDERR_KEPT) text += chunk.toString();
    });
    stream.on('error', () => resolve(text));
    stream.on('end', () => resolve(text));
    stream.on('close', () => resolve(text));
  });
}
