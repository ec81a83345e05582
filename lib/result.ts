import { constants } from 'node:os';
import type { DifferingKeys, NoDifference } from './options.js';
import type { SkippedFile as CollectorSkippedFile } from './runner/collected-files.js';
import type { Execution } from './runner/warm-container.js';

/**
 * How a run ended, the first that applies: `'timeout'`, `'oom'`, `'output_limit'`, `'error'` or
 * `'ok'`.
 *
 * - `'timeout'`: the run hit its time limit and its container was killed.
 * - `'oom'`: the kernel's OOM killer ended the program.
 * - `'output_limit'`: the output reached `maxOutputBytes` and the program was stopped.
 * - `'error'`: the exit code was not 0.
 * - `'ok'`: the program exited with 0.
 */
export type RunStatus = 'ok' | 'error' | 'timeout' | 'oom' | 'output_limit';

/** What the program used, measured inside its container. */
export interface RunUsage {
  /** CPU time (user + system) of the program and the children it waited for, in milliseconds. */
  cpuMs: number;
  /** Largest resident memory of the program (or of a child it waited for), in bytes. */
  peakMemoryBytes: number;
}

/** Where a run's time went, in milliseconds. */
export interface RunTimings {
  /** Time waiting for a container. */
  queuedMs: number;
  /** Time of the program, from its start to its end (or kill). */
  runMs: number;
}

/** Something `collect` matched and did not bring back, and why. */
export interface SkippedFile {
  /**
   * Relative to the work dir; the pattern itself when nothing could be collected (the run timed
   * out, was aborted or killed, so its container is gone).
   */
  path: string;
  /** Why it was not brought back: over `maxCollectBytes`, a symbolic link, not a regular file, ... */
  reason: string;
}
// Compilation fails here when SkippedFile and what the collector makes differ in a key or its type.
type _SkippedFileMatchesCollector = NoDifference<DifferingKeys<SkippedFile, CollectorSkippedFile>>;

/**
 * What a run resolves with. A program failing is not an error: it is a result with
 * `isError: true`. The first five fields are the original library's.
 */
export interface RunResult {
  /** What the program wrote to stdout (UTF-8), up to the output cap. */
  stdout: string;
  /** What the program wrote to stderr (UTF-8), up to the output cap. */
  stderr: string;
  /** Both streams, in the order their chunks arrived at the host. */
  combined: string;
  /** The exit code was not 0, or the run timed out, was OOM-killed or truncated. */
  isError: boolean;
  /** The run hit its time limit and its container was killed. */
  timedOut: boolean;
  /** `'timeout'`, `'oom'`, `'output_limit'`, `'error'` or `'ok'`: the first that applies. */
  status: RunStatus;
  /**
   * The program's exit status; `null` when the host stopped it (timeout, output cap); 128 + N when
   * signal N killed it.
   */
  exitCode: number | null;
  /** The name of the signal that ended the program (`'SIGKILL'`, `'SIGTERM'`, ...), or `null`. */
  signal: string | null;
  /**
   * The kernel's OOM killer ended the program (read from the container's memory cgroup, or the
   * engine's events under gVisor; a program that SIGKILLs itself is not reported as OOM).
   */
  oomKilled: boolean;
  /** The output reached `maxOutputBytes`: the program was stopped there and the output is cut at the cap. */
  truncated: boolean;
  /** Wall-clock time of the program, in milliseconds. */
  durationMs: number;
  /** `{ queuedMs, runMs }`: time waiting for a container, and time of the program. */
  timings: RunTimings;
  /**
   * `{ cpuMs, peakMemoryBytes }` of the program (and the children it waited for), measured inside its
   * container; `null` when it was killed before it could be measured.
   */
  usage: RunUsage | null;
  /**
   * What `collect` brought back: `{ 'out/plot.png': Buffer }`, by path relative to the work dir
   * (`{}` without `collect`). Every name is a plain relative path (checked on the host), safe to
   * join to a directory.
   */
  files: Record<string, Buffer>;
  /**
   * What `collect` matched and did not bring back, as `{ path, reason }`: over `maxCollectBytes`, a
   * symbolic link, not a regular file. When nothing could be collected (the run timed out, was
   * aborted or killed, so its container is gone) each pattern is listed with the reason.
   */
  skippedFiles: SkippedFile[];
  /** The name of the engine that ran the program (`'default'` unless the options list `engines`). */
  engine: string;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]));

export function toRunResult(execution: Execution, queuedMs: number, engine: string): RunResult {
  const timedOut = execution.reason === 'timeout';
  const isError = timedOut || execution.oomKilled || execution.truncated || execution.exitCode !== 0;
  const status: RunStatus = timedOut ? 'timeout' : execution.oomKilled ? 'oom' : execution.truncated ? 'output_limit' : isError ? 'error' : 'ok';
  const runMs = round(execution.durationMs);
  return {
    stdout: execution.stdout,
    stderr: execution.stderr,
    combined: execution.combined,
    isError,
    timedOut,
    status,
    exitCode: execution.exitCode,
    signal: execution.signal === null ? null : (SIGNAL_NAMES.get(execution.signal) ?? `SIG${execution.signal}`),
    oomKilled: execution.oomKilled,
    truncated: execution.truncated,
    durationMs: runMs,
    timings: { queuedMs: round(queuedMs), runMs },
    usage: execution.usage,
    files: execution.files,
    skippedFiles: execution.skippedFiles,
    engine,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
