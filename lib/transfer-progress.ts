/**
 * The progress display of a byte transfer (the CLI's `image load`): on a terminal one line,
 * rewritten in place at most a few times per second; elsewhere (a log, a pipe) plain lines, one
 * per tenth of the estimated total, so that a log gets about ten lines however long it takes.
 */

/** Where progress goes: process.stderr fits. */
export interface ProgressSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface TransferProgressOptions {
  /** Milliseconds since some fixed point; performance.now by default (a fake clock in tests). */
  now?: () => number;
  /** Least time between two updates. @default 250 */
  minIntervalMs?: number;
}

/** Decimal megabytes with one decimal (as `docker image ls` counts): "160.3 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000_000) return `${(bytes / 1_000).toFixed(1)} kB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(2)} GB`;
}

/**
 * "48.0 MB of ~160.3 MB (30%)": the total is an estimate, so the share stops at 99% until the end
 * (the transfer may well send a little more than it).
 */
export function progressText(bytes: number, estimatedTotal: number): string {
  if (estimatedTotal <= 0) return `${formatBytes(bytes)} sent`;
  const percent = Math.min(99, Math.floor((bytes / estimatedTotal) * 100));
  return `${formatBytes(bytes)} of ~${formatBytes(estimatedTotal)} (${percent}%)`;
}

export class TransferProgress {
  readonly #sink: ProgressSink;
  readonly #total: number;
  readonly #now: () => number;
  readonly #minIntervalMs: number;
  readonly #started: number;
  #lastShown = Number.NEGATIVE_INFINITY;
  /** The tenth of the total last reported as a plain line. */
  #lastTenth = 0;
  /** A line is on the terminal that the next write must end or overwrite. */
  #lineOpen = false;

  constructor(sink: ProgressSink, estimatedTotal: number, options: TransferProgressOptions = {}) {
    this.#sink = sink;
    this.#total = estimatedTotal;
    this.#now = options.now ?? (() => performance.now());
    this.#minIntervalMs = options.minIntervalMs ?? 250;
    this.#started = this.#now();
  }

  /** Bytes sent so far; shows them when it is time to. */
  update(bytes: number): void {
    const now = this.#now();
    if (now - this.#lastShown < this.#minIntervalMs) return;
    if (this.#sink.isTTY === true) {
      this.#sink.write(`\r${progressText(bytes, this.#total)}\u001b[K`);
      this.#lineOpen = true;
    } else {
      const tenth = this.#total > 0 ? Math.floor((bytes / this.#total) * 10) : 0;
      if (tenth <= this.#lastTenth) return;
      this.#lastTenth = tenth;
      this.#sink.write(`${progressText(bytes, this.#total)}\n`);
    }
    this.#lastShown = now;
  }

  /** Ends the display: the terminal's line is replaced by the total and the time taken. */
  finish(bytes: number): string {
    const seconds = (this.#now() - this.#started) / 1000;
    const summary = `${formatBytes(bytes)} in ${seconds.toFixed(1)} s`;
    this.#close();
    return summary;
  }

  /** Ends the display after a failure, leaving the last progress shown. */
  abandon(): void {
    if (this.#lineOpen) this.#sink.write('\n');
    this.#lineOpen = false;
  }

  #close(): void {
    if (this.#lineOpen) this.#sink.write('\r\u001b[K');
    this.#lineOpen = false;
  }
}
