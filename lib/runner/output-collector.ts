/**
 * Collects a run's stdout and stderr: each stream decoded on its own (a UTF-8 character split
 * across chunks stays whole) and `combined` kept in the order the chunks arrived.
 */
import { StringDecoder } from 'node:string_decoder';

export type StreamName = 'stdout' | 'stderr';

export class OutputCollector {
  readonly #decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  readonly #text = { stdout: [] as string[], stderr: [] as string[] };
  readonly #combined: string[] = [];
  #closed = false;

  /** Adds a chunk; returns the text it completes (a split UTF-8 character waits for the rest). */
  add(stream: StreamName, chunk: Buffer): string {
    if (this.#closed) return '';
    const text = this.#decoders[stream].write(chunk);
    this.#append(stream, text);
    return text;
  }

  /** Stops collecting (later chunks are ignored) and returns the texts. */
  close(): { stdout: string; stderr: string; combined: string } {
    if (!this.#closed) {
      this.#closed = true;
      this.#append('stdout', this.#decoders.stdout.end());
      this.#append('stderr', this.#decoders.stderr.end());
    }
    return {
      stdout: this.#text.stdout.join(''),
      stderr: this.#text.stderr.join(''),
      combined: this.#combined.join(''),
    };
  }

  #append(stream: StreamName, text: string): void {
    if (text === '') return;
    this.#text[stream].push(text);
    this.#combined.push(text);
  }
}
