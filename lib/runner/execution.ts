/**
 * One program's run on a waiting loader, from the go line to the verdict: output is collected
 * up to the cap, the exit status comes from the in-band marker (or from the docker CLI's exit when
 * the loader died), and the host ends the run on timeout, output cap, abort or container death.
 *
 * It is a state machine; every transition goes through #enter(), which refuses any other:
 *
 *   awaiting-ack --ack--> running --both markers, files announced--> collecting
 *        |                  |                                          |
 *        |   (time limit, output cap, abort, files too big or late: stopping --kill done--> ended)
 *        +--CLI ended / died--> ended ('lost': the program never started)
 *                           running --markers, nothing to collect / CLI ended / died--> ended
 *                                                          collecting --all files / CLI ended--> ended
 */
import { finished } from 'node:stream/promises';
import type { AttachedProcess } from '../docker/cli.js';
import type { EngineUnavailableError } from '../errors.js';
import { GO_ACK, goLine, MARKER_PREFIX, parseExitReport, type ExitReport } from './loader.js';
import { debug } from '../debug.js';
import { settlesWithin } from './bounded-wait.js';
import { MarkerStream } from './marker-stream.js';
import { OutputCollector, type StreamName } from './output-collector.js';

/**
 * Why a run ended: the program exited, or the host stopped it (or found its container dead), or
 * the container was gone before the loader took the go line ('lost': the program never started).
 */
export type EndReason = 'exit' | 'timeout' | 'output_limit' | 'aborted' | 'died' | 'lost' | 'unanswered';

export interface ExecutionInput {
  loader: AttachedProcess;
  nonce: string;
  codePath: string;
  /** The run's inputs file (argv, env, stdin), when it has any. */
  inputsPath: string | undefined;
  /** The stdin path: the run's files (packRunEntries()), sent right after the go line. Undefined on the mount path. */
  payload?: { chunks: readonly Buffer[]; bytes: number } | undefined;
  timeoutMs: number;
  /** Called with each decoded piece of output as it arrives (what is kept, up to the cap). */
  onStdout: ((chunk: string) => void) | undefined;
  onStderr: ((chunk: string) => void) | undefined;
  maxOutputBytes: number;
  /** Largest collected-files section to accept after the exit marker (0 when nothing is collected). */
  maxCollectedBytes: number;
  signal: AbortSignal | undefined;
  /** Settles if the container dies during the run (seen in the engine's events). */
  died: Promise<void>;
  /** Kills the container; the run settles once it lands or KILL_GRACE_MS passes. */
  kill(): Promise<void>;
  /**
   * Asked when the loader has not acknowledged the go line within ACK_LATE_MS: the engine's
   * failure if it does not answer (a hung engine forwards nothing), else undefined. Bounded.
   */
  askEngine?: (() => Promise<EngineUnavailableError | undefined>) | undefined;
}

export interface RawExecution {
  stdout: string;
  stderr: string;
  combined: string;
  /** What the loader reported in-band; undefined when the host stopped the run or the loader died. */
  report: ExitReport | undefined;
  /** The docker CLI's exit code when the loader died without a report. */
  cliExitCode: number | undefined;
  /** The collected-files section, when the report announced one and all of it arrived. */
  collected: Buffer | undefined;
  /** Why an announced collected-files section is missing. */
  collectProblem: string | undefined;
  /** Reason 'unanswered': the engine's failure, found while the go line went unacknowledged. */
  engineDown?: EngineUnavailableError | undefined;
  reason: EndReason;
  truncated: boolean;
  durationMs: number;
}

/** What a run ended with, besides its reason (the parts of RawExecution the ending decides). */
type Ending = Partial<Pick<RawExecution, 'report' | 'cliExitCode' | 'collected' | 'collectProblem' | 'engineDown'>>;

/** After the host decides to stop a run, how long to wait for the kill before settling anyway. */
const KILL_GRACE_MS = 500;
const ACK = Buffer.from(GO_ACK);
/** How long a container reported dead before its acknowledgement may take to end its CLI. */
const LOST_SETTLE_MS = 1_000;
/**
 * The loader acknowledges a go line within milliseconds; this long without it, the engine is asked
 * whether it still answers (a hung engine stalls the attached streams without closing them).
 */
const ACK_LATE_MS = 1_000;
/** How long the collected files may take to arrive once the program has ended. */
const COLLECT_TIMEOUT_MS = 30_000;
/**
 * How long past the time limit (and past the collect timeout, once the program has ended) the
 * loader waits before it ends the run by itself and exits: the bound on a container whose owner
 * vanished without its stdin closing (a dropped connection to a remote engine). The host stops a
 * run well before that.
 */
export const LOADER_DEADLINE_GRACE_MS = 5_000;

/**
 * - awaiting-ack: the go line is sent; the loader has not acknowledged it (a death now ran nothing)
 * - running: the program may be running; its output is kept up to the cap, its time limit runs
 * - collecting: the program ended (both markers are in) and the files it announced are arriving
 * - stopping: the host ends the run (a limit, an abort) and is removing the container
 * - ended: the result is out; nothing read later is the program's
 */
export type ExecutionState = 'awaiting-ack' | 'running' | 'collecting' | 'stopping' | 'ended';

const TRANSITIONS: Readonly<Record<ExecutionState, readonly ExecutionState[]>> = {
  'awaiting-ack': ['running', 'stopping', 'ended'],
  running: ['collecting', 'stopping', 'ended'],
  collecting: ['stopping', 'ended'],
  stopping: ['ended'],
  ended: [],
};

export function runExecution(input: ExecutionInput): Promise<RawExecution> {
  return new Promise((resolve) => new ExecutionRun(input, resolve).start());
}

class ExecutionRun {
  readonly #input: ExecutionInput;
  readonly #resolve: (raw: RawExecution) => void;
  readonly #output = new OutputCollector();
  readonly #out: MarkerStream;
  readonly #err: MarkerStream;
  readonly #cliEnded: Promise<[{ exitCode: number | undefined }, void, void]>;
  readonly #started = performance.now();
  #state: ExecutionState = 'awaiting-ack';
  /** The time limit while the program may run; the transfer's limit while collecting. */
  #timer: NodeJS.Timeout | undefined;
  /** Runs while awaiting the acknowledgement (see ACK_LATE_MS). */
  #ackTimer: NodeJS.Timeout | undefined;
  #budget: number;
  #truncated = false;
  /** The first bytes of stdout, until they are known to be the acknowledgement (or not). */
  #ackBytes = Buffer.alloc(0);
  readonly #onStdout = (chunk: Buffer): void => this.#stdout(chunk);
  readonly #onStderr = (chunk: Buffer): void => this.#stderr(chunk);
  readonly #onAbort = (): void => this.#stop('aborted');

  constructor(input: ExecutionInput, resolve: (raw: RawExecution) => void) {
    this.#input = input;
    this.#resolve = resolve;
    this.#budget = input.maxOutputBytes;
    const token = MARKER_PREFIX + input.nonce;
    this.#out = new MarkerStream(token, (chunk) => this.#accept('stdout', chunk));
    this.#err = new MarkerStream(token, (chunk) => this.#accept('stderr', chunk));
    const { loader } = input;
    this.#cliEnded = Promise.all([loader.exited, settled(loader.stdout), settled(loader.stderr)]);
  }

  start(): void {
    const { loader, signal } = this.#input;
    loader.stdout.on('data', this.#onStdout);
    loader.stderr.on('data', this.#onStderr);
    loader.stdout.resume();
    loader.stderr.resume();
    void this.#cliEnded.then(([exit]) => this.#cliExited(exit.exitCode));
    void this.#input.died.then(() => this.#died());
    if (signal?.aborted) return this.#onAbort();
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = setTimeout(() => this.#stop('timeout'), this.#input.timeoutMs);
    if (this.#input.askEngine !== undefined) this.#ackTimer = setTimeout(() => void this.#ackLate(), ACK_LATE_MS);
    const { nonce, codePath, inputsPath, payload, timeoutMs } = this.#input;
    const line = goLine({
      nonce,
      codePath,
      inputsPath,
      payloadBytes: payload?.bytes ?? 0,
      runDeadlineMs: timeoutMs + LOADER_DEADLINE_GRACE_MS,
      reportDeadlineMs: COLLECT_TIMEOUT_MS + LOADER_DEADLINE_GRACE_MS,
    });
    // One write (writev) for the line and the payload: the payload is not copied.
    loader.stdin.cork();
    loader.stdin.write(line);
    for (const chunk of payload?.chunks ?? []) loader.stdin.write(chunk);
    loader.stdin.uncork();
  }

  /** Moves to the next state; false (and nothing done) for a transition the machine does not have. */
  #enter(next: ExecutionState): boolean {
    if (!TRANSITIONS[this.#state].includes(next)) {
      // Every caller checks the state first: this is a bug, but never one to crash the host over.
      debug('internal error: execution %s -> %s refused', this.#state, next);
      return false;
    }
    this.#state = next;
    if (next !== 'awaiting-ack') clearTimeout(this.#ackTimer);
    if (next === 'stopping' || next === 'ended') {
      clearTimeout(this.#timer);
      this.#input.loader.stdout.off('data', this.#onStdout);
      this.#input.loader.stderr.off('data', this.#onStderr);
    }
    return true;
  }

  get #reading(): boolean {
    return this.#state === 'awaiting-ack' || this.#state === 'running' || this.#state === 'collecting';
  }

  // --- events ---------------------------------------------------------------------------------

  /** stdout starts with the loader's acknowledgement of the go line; the program's output follows. */
  #stdout(chunk: Buffer): void {
    if (this.#state === 'awaiting-ack') {
      this.#ackBytes = Buffer.concat([this.#ackBytes, chunk]);
      const bytes = this.#ackBytes;
      if (bytes.length < ACK.length && ACK.subarray(0, bytes.length).equals(bytes)) return;
      this.#enter('running');
      chunk = bytes.subarray(0, ACK.length).equals(ACK) ? bytes.subarray(ACK.length) : bytes;
      if (chunk.length === 0) return;
    }
    if (!this.#reading) return;
    this.#out.push(chunk);
    this.#checkMarkers();
  }

  #stderr(chunk: Buffer): void {
    if (!this.#reading) return;
    this.#err.push(chunk);
    this.#checkMarkers();
  }

  /** Output of the program (markers taken out): kept up to the cap, which stops the run. */
  #accept(stream: StreamName, chunk: Buffer): void {
    if (!this.#reading) return;
    if (chunk.length > this.#budget) {
      this.#keep(stream, chunk.subarray(0, this.#budget));
      this.#budget = 0;
      this.#truncated = true;
      return this.#stop('output_limit');
    }
    this.#budget -= chunk.length;
    this.#keep(stream, chunk);
  }

  /** Once both markers are in: the verdict, after the collected files (if any) have arrived. */
  #checkMarkers(): void {
    const trailer = this.#out.trailer;
    if ((this.#state !== 'running' && this.#state !== 'collecting') || trailer === undefined || this.#err.trailer === undefined) return;
    const report = parseExitReport(trailer);
    const announced = report?.collectedBytes ?? 0;
    if (announced === 0) return this.#finish('exit', { report });
    if (announced > this.#input.maxCollectedBytes) {
      return this.#stop('exit', { report, collectProblem: `the container announced ${announced} bytes of files, more than the cap allows` });
    }
    if (this.#out.tailLength >= announced) return this.#finish('exit', { report, collected: this.#out.tail().subarray(0, announced) });
    if (this.#state === 'running') {
      // The program is over: its time limit no longer applies, the transfer's does.
      this.#enter('collecting');
      clearTimeout(this.#timer);
      const problem = `the files took longer than ${COLLECT_TIMEOUT_MS} ms to arrive`;
      this.#timer = setTimeout(() => this.#stop('exit', { report, collectProblem: problem }), COLLECT_TIMEOUT_MS);
    }
  }

  /** The CLI ended without both markers (its container was killed or died), or before all the announced files arrived. */
  #cliExited(exitCode: number | undefined): void {
    if (!this.#reading) return;
    this.#flush();
    if (!this.#reading) return; // the flush reached the output cap
    if (this.#state === 'awaiting-ack') return this.#finish('lost', { cliExitCode: exitCode });
    // Either stream's marker carries the verdict; the engine may have lost the end of the other.
    const trailer = this.#out.trailer ?? this.#err.trailer;
    const report = trailer === undefined ? undefined : parseExitReport(trailer);
    const collectProblem = this.#state === 'collecting' ? 'the container stopped before all the files had arrived' : undefined;
    this.#finish('exit', { report, cliExitCode: exitCode, collectProblem });
  }

  /** No acknowledgement yet: if the engine does not answer either, the run ends as its failure. */
  async #ackLate(): Promise<void> {
    const engineDown = await this.#input.askEngine?.();
    if (engineDown !== undefined && this.#state === 'awaiting-ack') this.#stop('unanswered', { engineDown });
  }

  /** The engine reported the container dead. While files arrive, the CLI's end decides instead. */
  async #died(): Promise<void> {
    if (this.#state === 'awaiting-ack' || this.#state === 'running') {
      // The acknowledgement, or the program's last output and markers, may still be on the way:
      // the engine's events come on another connection (over ssh they often come first). The
      // CLI's end, which reads all of stdout, tells a lost container from a dead program and a
      // program that exited: wait for it a little.
      await settlesWithin(this.#cliEnded, LOST_SETTLE_MS);
    }
    if (this.#state !== 'awaiting-ack' && this.#state !== 'running') return;
    this.#flush();
    if (this.#state !== 'awaiting-ack' && this.#state !== 'running') return;
    this.#finish(this.#state === 'running' ? 'died' : 'lost');
  }

  // --- endings --------------------------------------------------------------------------------

  /** The host ends the run: stop reading now, settle once the container is gone (bounded). */
  #stop(reason: EndReason, ending?: Ending): void {
    if (!this.#reading || !this.#enter('stopping')) return;
    void settlesWithin(this.#input.kill(), KILL_GRACE_MS).then(() => this.#finish(reason, ending));
  }

  #finish(reason: EndReason, ending: Ending = {}): void {
    if (!this.#enter('ended')) return;
    this.#input.signal?.removeEventListener('abort', this.#onAbort);
    const texts = ending.report !== undefined ? this.#output.close() : withoutCliError(this.#output.close());
    this.#resolve({
      ...texts,
      report: ending.report,
      cliExitCode: ending.cliExitCode,
      collected: ending.collected,
      collectProblem: ending.collectProblem,
      engineDown: ending.engineDown,
      reason,
      truncated: this.#truncated,
      durationMs: performance.now() - this.#started,
    });
  }

  // --- helpers --------------------------------------------------------------------------------

  /** What was held back as a possible marker start was output after all. */
  #flush(): void {
    this.#out.flush();
    this.#err.flush();
  }

  #keep(stream: StreamName, chunk: Buffer): void {
    const text = this.#output.add(stream, chunk);
    const listener = stream === 'stdout' ? this.#input.onStdout : this.#input.onStderr;
    if (listener === undefined || text === '') return;
    try {
      listener(text);
    } catch (error) {
      // A throwing listener is the caller's bug: surface it like an event listener's, never lose the run.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/**
 * When the loader died, the docker CLI may have added its own complaint to the stream it shares
 * with the program's stderr (e.g. gVisor's "waiting on pid N: ..."). It is not the program's.
 */
const CLI_ERROR_AT_END = /(?<=^|\n)(?:Error response from daemon: |waiting on pid \d+: )[^\n]*\n?$/;

function withoutCliError(texts: { stdout: string; stderr: string; combined: string }): typeof texts {
  const match = CLI_ERROR_AT_END.exec(texts.stderr);
  if (match === null || !texts.combined.endsWith(match[0])) return texts;
  return {
    stdout: texts.stdout,
    stderr: texts.stderr.slice(0, -match[0].length),
    combined: texts.combined.slice(0, -match[0].length),
  };
}

function settled(stream: NodeJS.ReadableStream): Promise<void> {
  return finished(stream).catch(() => {});
}
