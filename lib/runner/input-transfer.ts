/**
 * How a run's code and inputs reach its container, per engine (the `inputTransfer` option):
 *
 * - 'mount': the host writes them into a temp dir the container sees through a read-only bind
 *   mount. Needs an engine that sees this host's files.
 * - 'stdin': they follow the go line on the container's attached stdin (no extra docker call), and
 *   the loader writes them into a tmpfs at the same place. Works with any engine.
 * - 'auto': 'mount' where the engine sees this host's files, else 'stdin'.
 *
 * 'auto' is decided by the engine's first containers, with no docker call of its own (so a local
 * engine's initialize() costs nothing more): each container on the mount path is started with
 * `--mount` (which fails at once where the source does not exist on the engine's side) and a
 * nonce file in its temp dir, which its loader checks before it says it is ready. A container
 * that cannot see it (another machine, another mount namespace, a path mapped elsewhere, no
 * permission) never gets a run: it exits, and is started again on the stdin path, which the
 * engine keeps from then on. Forced 'mount' on such an engine fails initialize() with a
 * ContainerStartError that says so.
 */
import { ContainerStartError } from '../errors.js';
import type { InputTransfer } from '../options.js';
import { INPUTS_UNSEEN } from './loader.js';
import { MAX_STDIN_BYTES } from '../options/run-params.js';

export type TransferMode = 'mount' | 'stdin';

/** What docker says when a `--mount` source is not on the engine's side (Docker; Docker Desktop's file sharing). */
const SOURCE_MISSING = /bind source path does not exist|mounts denied|is not shared from the host/i;

/**
 * When a container's start failure (its CLI's stderr) means that the engine does not see this
 * host's input dir: the line that says so; else undefined.
 */
export function inputsUnseen(stderr: string): string | undefined {
  const lines = stderr.split('\n');
  const probe = lines.find((line) => line.startsWith(INPUTS_UNSEEN));
  if (probe !== undefined) return `the container cannot read ${probe.slice(INPUTS_UNSEEN.length).trim()}`;
  return lines.find((line) => SOURCE_MISSING.test(line))?.trim();
}

/**
 * The size cap of a stdin-path container's input tmpfs: the largest stdin and files a run may
 * have, and room for the code and the inputs file. A cap only: pages are used (and count against
 * the memory limit) as the loader writes them.
 */
export function inputTmpfsSizeMb(maxFilesBytes: number): number {
  const MIB = 1024 * 1024;
  const ROOM_FOR_CODE_AND_INPUTS = 64 * MIB;
  return Math.ceil((MAX_STDIN_BYTES + maxFilesBytes + ROOM_FOR_CODE_AND_INPUTS) / MIB);
}

/**
 * A container of the mount path could not see its input dir. Internal: the engine's choice turns
 * it into a start on the stdin path, or into a ContainerStartError.
 */
export class InputsUnseenError extends Error {
  readonly detail: string;
  readonly command: string;
  constructor(container: string, detail: string, command: string) {
    super(`container ${container} does not see its input dir: ${detail}`);
    this.name = 'InputsUnseenError';
    this.detail = detail;
    this.command = command;
  }
}

/** One engine's transfer mode: as the option says, or, for 'auto', as its first containers find. */
export class InputTransferChoice {
  readonly #option: InputTransfer;
  #decided: TransferMode | undefined;

  constructor(option: InputTransfer) {
    this.#option = option;
    this.#decided = option === 'auto' ? undefined : option;
  }

  /** The mode now: decided, or undefined while 'auto' has not seen a container start yet. */
  get mode(): TransferMode | undefined {
    return this.#decided;
  }

  /** The mode for the next container: undecided 'auto' tries the mount path (a local engine's case). */
  next(): TransferMode {
    return this.#decided ?? 'mount';
  }

  /** A container started on `mode` and saw its inputs. */
  sawInputs(mode: TransferMode): void {
    if (this.#option === 'auto' && this.#decided === undefined) this.#decided = mode;
  }

  /**
   * A container on the mount path did not see its input dir. With 'auto' the engine goes over to
   * stdin (for good: it works everywhere) and the caller starts the container again; with 'mount'
   * this is the error to report.
   */
  unseen(error: InputsUnseenError, engineAddress: string): ContainerStartError | undefined {
    if (this.#option === 'auto') {
      this.#decided = 'stdin';
      return undefined;
    }
    return new ContainerStartError(
      `The Docker engine at ${engineAddress} does not see this host's files (${error.detail}): it runs on another machine, in another ` +
        "mount namespace or container, so inputTransfer 'mount' cannot work with it. Use inputTransfer: 'auto' (the default) or 'stdin', " +
        "which sends each run's code and inputs on the container's stdin.",
      { command: error.command, cause: error },
    );
  }
}

/**
 * Starts a container on the choice's mode; one that does not see its inputs is started again on
 * the stdin path ('auto'), or fails with the choice's error ('mount').
 */
export async function startWithInputTransfer<T>(choice: InputTransferChoice, engineAddress: string, start: (mode: TransferMode) => Promise<T>): Promise<T> {
  const mode = choice.next();
  try {
    const started = await start(mode);
    choice.sawInputs(mode);
    return started;
  } catch (error) {
    if (!(error instanceof InputsUnseenError)) throw error;
    const failure = choice.unseen(error, engineAddress);
    if (failure !== undefined) throw failure;
    return start(choice.next());
  }
}
