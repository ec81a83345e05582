/**
 * A run's server-sent events: `stdout` and `stderr` as the program writes (data: a JSON string),
 * then one `result` (or `error`) event; a comment every KEEP_ALIVE_MS while nothing else is sent.
 * The response's headers go out with the first event, so a run refused at once (a full queue)
 * still gets its plain HTTP status.
 */
import type { ServerResponse } from 'node:http';

const KEEP_ALIVE_MS = 15_000;

export class RunEventStream {
  readonly #res: ServerResponse;
  #started = false;
  readonly #keepAlive: NodeJS.Timeout;

  constructor(res: ServerResponse) {
    this.#res = res;
    // Also what starts the stream for a run that waits long in the queue.
    this.#keepAlive = setInterval(() => this.#write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  }

  /** Whether the headers (200, text/event-stream) went out. */
  get started(): boolean {
    return this.#started;
  }

  send(event: 'stdout' | 'stderr', data: string): void {
    this.#write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** The last event; the response ends. */
  end(event: 'result' | 'error', data: unknown): void {
    this.#write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    this.#res.end();
  }

  close(): void {
    clearInterval(this.#keepAlive);
  }

  #write(text: string): void {
    if (this.#res.destroyed || this.#res.writableEnded) return;
    if (!this.#started) {
      this.#started = true;
      this.#res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
    }
    this.#res.write(text);
  }
}
