/** What a run returns. The first five fields are the original library's. */
export interface RunResult {
  /** Everything the program wrote to stdout (UTF-8). */
  stdout: string;
  /** Everything the program wrote to stderr (UTF-8). */
  stderr: string;
  /** stdout and stderr interleaved in the order their chunks arrived. */
  combined: string;
  /** True when the exit code was not 0 or the run timed out. */
  isError: boolean;
  /** True when the run hit its time limit and its container was killed. */
  timedOut: boolean;
  /** The program's exit status; null when the host killed it (timeout). Killed by signal N: 128 + N. */
  exitCode: number | null;
  /** Wall-clock time from the start of the program to its end (or kill), in milliseconds. */
  durationMs: number;
}

export function toRunResult(execution: {
  stdout: string;
  stderr: string;
  combined: string;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
}): RunResult {
  return {
    stdout: execution.stdout,
    stderr: execution.stderr,
    combined: execution.combined,
    isError: execution.timedOut || execution.exitCode !== 0,
    timedOut: execution.timedOut,
    exitCode: execution.exitCode,
    durationMs: Math.round(execution.durationMs * 10) / 10,
  };
}
