import { constants } from 'node:os';
import type { SkippedFile } from './runner/collected-files.js';
import type { Execution } from './runner/warm-container.js';

export type { SkippedFile } from './runner/collected-files.js';

/** The first that applies: timeout, oom, output_limit, error, ok. */
export type RunStatus = 'ok' | 'error' | 'timeout' | 'oom' | 'output_limit';

export interface RunUsage {
  /** CPU time (user + system) of the program and the child processes it waited for. */
  cpuMs: number;
  /** Largest resident memory of the program (or of a child it waited for), in bytes. */
  peakMemoryBytes: number;
}

export interface RunTimings {
  /** Time waiting for a free container. */
  queuedMs: number;
  /** Time from the program's start to its end (or kill). */
  runMs: number;
}

/** What a run returns. The first five fields are the original library's. */
export interface RunResult {
  /** Everything the program wrote to stdout (UTF-8), up to the output cap. */
  stdout: string;
  /** Everything the program wrote to stderr (UTF-8), up to the output cap. */
  stderr: string;
  /** stdout and stderr interleaved in the order their chunks arrived. */
  combined: string;
  /** True when the exit code was not 0, or the run timed out, hit the memory or output limit. */
  isError: boolean;
  /** True when the run hit its time limit and its container was killed. */
  timedOut: boolean;
  /** One word for how the run ended. */
  status: RunStatus;
  /** The program's exit status; null when the host stopped it (timeout, output cap). Killed by signal N: 128 + N. */
  exitCode: number | null;
  /** The name of the signal that ended the program (e.g. 'SIGKILL'), or null. */
  signal: string | null;
  /** True when the kernel's OOM killer ended the program (from the container's memory cgroup). */
  oomKilled: boolean;
  /** True when the output reached `maxOutputBytes`: the program was stopped and the output cut there. */
  truncated: boolean;
  /** Wall-clock time from the start of the program to its end (or kill), in milliseconds. */
  durationMs: number;
  timings: RunTimings;
  /** Measured inside the container; null when the program was killed before it could be measured. */
  usage: RunUsage | null;
  /** What `collect` brought back from the work dir, by relative path (`{}` without `collect`). */
  files: Record<string, Buffer>;
  /** What `collect` matched but did not bring back (over `maxCollectBytes`, a symlink, ...), and why. */
  skippedFiles: SkippedFile[];
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]));

export function toRunResult(execution: Execution, queuedMs: number): RunResult {
  const timedOut = execution.reason === 'timeout';
  const isError = timedOut || execution.oomKilled || execution.truncated || execution.exitCode !== 0;
  const status: RunStatus = timedOut
    ? 'timeout'
    : execution.oomKilled
      ? 'oom'
      : execution.truncated
        ? 'output_limit'
        : isError
          ? 'error'
          : 'ok';
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
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
