import type { Execution } from './runner/warm-container.js';

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
  /** The program's exit status; null when the host stopped it (timeout, output cap). Killed by signal N: 128 + N. */
  exitCode: number | null;
  /** True when the kernel's OOM killer ended the program (from the container's memory cgroup). */
  oomKilled: boolean;
  /** True when the output reached `maxOutputBytes`: the program was stopped and the output cut there. */
  truncated: boolean;
  /** Wall-clock time from the start of the program to its end (or kill), in milliseconds. */
  durationMs: number;
}

export function toRunResult(execution: Execution): RunResult {
  const timedOut = execution.reason === 'timeout';
  return {
    stdout: execution.stdout,
    stderr: execution.stderr,
    combined: execution.combined,
    isError: timedOut || execution.oomKilled || execution.truncated || execution.exitCode !== 0,
    timedOut,
    exitCode: execution.exitCode,
    oomKilled: execution.oomKilled,
    truncated: execution.truncated,
    durationMs: Math.round(execution.durationMs * 10) / 10,
  };
}
