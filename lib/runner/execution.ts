/**
 * One program's run on a waiting loader, from the go line to the verdict: output is collected
 * up to the cap, the exit status comes from the in-band marker (or from `docker exec` when the
 * loader died), and the host ends the run on timeout, output cap, abort or container death.
 */
import { finished } from 'node:stream/promises';
import type { AttachedProcess } from '../docker/cli.js';
import { GO_ACK, goLine, MARKER_PREFIX, parseExitReport, type ExitReport } from './loader.js';
import { settlesWithin } from './bounded-wait.js';
import { MarkerStream } from './marker-stream.js';
import { OutputCollector, type StreamName } from './output-collector.js';

/**
 * Why a run ended: the program exited, or the host stopped it (or found its container dead), or
 * the container was gone before the loader took the go line ('lost': the program never started).
 */
export type EndReason = 'exit' | 'timeout' | 'output_limit' | 'aborted' | 'died' | 'lost';

export interface ExecutionInput {
  loader: AttachedProcess;
  nonce: string;
  codePath: string;
  /** The run's inputs file (argv, env, stdin), when it has any. */
  inputsPath: string | undefined;
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
  reason: EndReason;
  truncated: boolean;
  durationMs: number;
}

/** What a run ended with, besides its reason (the parts of RawExecution the ending decides). */
type Ending = Partial<Pick<RawExecution, 'report' | 'cliExitCode' | 'collected' | 'collectProblem'>>;

/** After the host decides to stop a run, how long to wait for the kill before settling anyway. */
const KILL_GRACE_MS = 500;
const ACK = Buffer.from(GO_ACK);
/** How long a container reported dead before its acknowledgement may take to end its CLI. */
const LOST_SETTLE_MS = 1_000;
/** How long the collected files may take to arrive once the program has ended. */
const COLLECT_TIMEOUT_MS = 30_000;

export function runExecution(input: ExecutionInput): Promise<RawExecution> {
  const { loader } = input;
  const token = MARKER_PREFIX + input.nonce;
  const output = new OutputCollector();
  let budget = input.maxOutputBytes;
  let truncated = false;

  return new Promise<RawExecution>((resolve) => {
    const started = performance.now();
    /** Set once the verdict is decided: later output is not the program's. */
    let ended = false;
    /** The program ended and its collected files are arriving. */
    let collecting = false;
    let timer: NodeJS.Timeout | undefined;

    const listeners = { stdout: input.onStdout, stderr: input.onStderr };
    const keep = (stream: StreamName, chunk: Buffer): void => {
      const text = output.add(stream, chunk);
      const listener = listeners[stream];
      if (listener === undefined || text === '') return;
      try {
        listener(text);
      } catch (error) {
        // A throwing listener is the caller's bug: surface it like an event listener's, never lose the run.
        queueMicrotask(() => {
          throw error;
        });
      }
    };
    const accept = (stream: StreamName, chunk: Buffer): void => {
      if (ended) return;
      if (chunk.length > budget) {
        keep(stream, chunk.subarray(0, budget));
        budget = 0;
        truncated = true;
        stopThenEnd('output_limit');
        return;
      }
      budget -= chunk.length;
      keep(stream, chunk);
    };
    const out = new MarkerStream(token, (chunk) => accept('stdout', chunk));
    const err = new MarkerStream(token, (chunk) => accept('stderr', chunk));

    const end = (reason: EndReason, ending: Ending = {}): void => {
      clearTimeout(timer);
      input.signal?.removeEventListener('abort', onAbort);
      loader.stdout.off('data', onStdout);
      loader.stderr.off('data', onStderr);
      const texts = ending.report !== undefined ? output.close() : withoutCliError(output.close());
      resolve({
        ...texts,
        report: ending.report,
        cliExitCode: ending.cliExitCode,
        collected: ending.collected,
        collectProblem: ending.collectProblem,
        reason,
        truncated,
        durationMs: performance.now() - started,
      });
    };
    /** The host ends the run: stop reading now, settle once the container is gone (bounded). */
    const stopThenEnd = (reason: EndReason, ending?: Ending): void => {
      if (ended) return;
      ended = true;
      loader.stdout.off('data', onStdout);
      loader.stderr.off('data', onStderr);
      clearTimeout(timer);
      void settlesWithin(input.kill(), KILL_GRACE_MS).then(() => end(reason, ending));
    };
    /** Once both markers are in: the verdict, after the collected files (if any) have arrived. */
    const checkMarkers = (): void => {
      const trailer = out.trailer;
      if (ended || trailer === undefined || err.trailer === undefined) return;
      const report = parseExitReport(trailer);
      const announced = report?.collectedBytes ?? 0;
      if (announced === 0) {
        ended = true;
        return end('exit', { report });
      }
      if (announced > input.maxCollectedBytes) {
        return stopThenEnd('exit', { report, collectProblem: `the container announced ${announced} bytes of files, more than the cap allows` });
      }
      if (out.tailLength >= announced) {
        ended = true;
        return end('exit', { report, collected: out.tail().subarray(0, announced) });
      }
      if (!collecting) {
        // The program is over: its time limit no longer applies, the transfer's does.
        collecting = true;
        clearTimeout(timer);
        timer = setTimeout(
          () => stopThenEnd('exit', { report, collectProblem: `the files took longer than ${COLLECT_TIMEOUT_MS} ms to arrive` }),
          COLLECT_TIMEOUT_MS,
        );
      }
    };
    // stdout starts with the loader's acknowledgement of the go line; the program's output follows.
    let acked = false;
    let ackBytes = Buffer.alloc(0);
    const onStdout = (chunk: Buffer): void => {
      if (!acked) {
        ackBytes = Buffer.concat([ackBytes, chunk]);
        if (ackBytes.length < ACK.length && ACK.subarray(0, ackBytes.length).equals(ackBytes)) return;
        acked = true;
        chunk = ackBytes.subarray(0, ACK.length).equals(ACK) ? ackBytes.subarray(ACK.length) : ackBytes;
        if (chunk.length === 0) return;
      }
      out.push(chunk);
      checkMarkers();
    };
    const onStderr = (chunk: Buffer): void => {
      err.push(chunk);
      checkMarkers();
    };
    const onAbort = (): void => stopThenEnd('aborted');

    loader.stdout.on('data', onStdout);
    loader.stderr.on('data', onStderr);
    loader.stdout.resume();
    loader.stderr.resume();
    // The loader ended without both markers (it was killed, or its container was), or before
    // all the collected files it announced had arrived.
    const cliEnded = Promise.all([loader.exited, settled(loader.stdout), settled(loader.stderr)]);
    void cliEnded.then(([exit]) => {
      if (ended) return;
      out.flush(); // what was held back as a possible marker start was output after all
      err.flush();
      if (ended) return; // the flush reached the output cap
      ended = true;
      if (!acked) return end('lost', { cliExitCode: exit.exitCode });
      // Either stream's marker carries the verdict; the engine may have lost the end of the other.
      const trailer = out.trailer ?? err.trailer;
      const report = trailer === undefined ? undefined : parseExitReport(trailer);
      const collectProblem = collecting ? 'the container stopped before all the files had arrived' : undefined;
      end('exit', { report, cliExitCode: exit.exitCode, collectProblem });
    });
    void input.died.then(async () => {
      if (ended || collecting) return; // while files arrive, the CLI's end (above) decides
      // Before the acknowledgement: it may still be in the pipe, and the CLI's end (above), which
      // has read all of stdout, tells a lost container from a dead program. Wait for it a little.
      if (!acked) await settlesWithin(cliEnded, LOST_SETTLE_MS);
      if (ended) return;
      out.flush();
      err.flush();
      if (ended) return;
      ended = true;
      end(acked ? 'died' : 'lost');
    });

    if (input.signal?.aborted) return onAbort();
    input.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => stopThenEnd('timeout'), input.timeoutMs);
    loader.stdin.write(goLine(input.nonce, input.codePath, input.inputsPath));
  });
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
