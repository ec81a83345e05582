/**
 * Progress lines on stderr, so that stdout carries only the report.
 */

export type Log = (message: string) => void;

/** A log whose lines start with `[script]`, e.g. `[bench] phase 1 latency`. */
export function logger(script: string): Log {
  return (message) => process.stderr.write(`[${script}] ${message}\n`);
}

/**
 * Returns a tick to call once per finished run: every tenth of `total` (at least every 10 runs)
 * and at the last one it calls `report` with the count so far.
 */
export function progress(total: number, report: (done: number) => void): () => void {
  const every = Math.max(10, Math.ceil(total / 10));
  let done = 0;
  return () => {
    done += 1;
    if (done % every === 0 || done === total) report(done);
  };
}
