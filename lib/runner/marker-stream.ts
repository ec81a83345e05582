/**
 * Splits one output stream of the loader into the program's bytes, the in-band exit marker and
 * what follows the marker's line (the collected files, on stdout). Bytes that might be the start
 * of a marker split across chunks are held back until the next chunk tells; everything before the
 * marker is handed on as it arrives.
 */
export class MarkerStream {
  readonly #token: Buffer;
  readonly #onData: (chunk: Buffer) => void;
  #held: Buffer = Buffer.alloc(0);
  /** Bytes after the token, until the trailer's newline arrives. */
  #afterToken: Buffer | undefined;
  #trailer: string | undefined;
  /** Bytes after the trailer's line, kept as they came (megabytes of files must not be re-copied per chunk). */
  readonly #tail: Buffer[] = [];
  #tailLength = 0;

  constructor(token: string, onData: (chunk: Buffer) => void) {
    this.#token = Buffer.from(token);
    this.#onData = onData;
  }

  /** True once the marker has started arriving; later bytes are not program output. */
  get markerSeen(): boolean {
    return this.#afterToken !== undefined;
  }

  /** The marker's trailing line (what followed the token up to the newline), once complete. */
  get trailer(): string | undefined {
    return this.#trailer;
  }

  /** How many bytes arrived after the trailer's line. */
  get tailLength(): number {
    return this.#tailLength;
  }

  /** The bytes that arrived after the trailer's line. */
  tail(): Buffer {
    return Buffer.concat(this.#tail, this.#tailLength);
  }

  push(chunk: Buffer): void {
    if (this.#trailer !== undefined) {
      this.#tail.push(chunk);
      this.#tailLength += chunk.length;
      return;
    }
    if (this.#afterToken !== undefined) {
      this.#takeAfterToken(Buffer.concat([this.#afterToken, chunk]));
      return;
    }
    const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    const at = data.indexOf(this.#token);
    if (at !== -1) {
      this.#held = Buffer.alloc(0);
      if (at > 0) this.#onData(data.subarray(0, at));
      this.#takeAfterToken(data.subarray(at + this.#token.length));
      return;
    }
    const keep = partialTokenAtEnd(data, this.#token);
    this.#held = keep === 0 ? Buffer.alloc(0) : Buffer.from(data.subarray(data.length - keep));
    if (data.length - keep > 0) this.#onData(data.subarray(0, data.length - keep));
  }

  #takeAfterToken(data: Buffer): void {
    const end = data.indexOf(0x0a);
    if (end === -1) {
      this.#afterToken = data;
      return;
    }
    this.#afterToken = data.subarray(0, end);
    this.#trailer = data.subarray(0, end).toString();
    if (end + 1 < data.length) this.push(data.subarray(end + 1));
  }

  /** The stream ended without a marker: what was held back was program output after all. */
  flush(): void {
    if (this.#held.length > 0) this.#onData(this.#held);
    this.#held = Buffer.alloc(0);
  }
}

/** Length of the longest suffix of `data` that is a proper prefix of `token`. */
function partialTokenAtEnd(data: Buffer, token: Buffer): number {
  const first = token[0]!;
  const from = Math.max(0, data.length - token.length + 1);
  for (let i = from; i < data.length; i++) {
    if (data[i] !== first) continue;
    const tail = data.subarray(i);
    if (token.subarray(0, tail.length).equals(tail)) return data.length - i;
  }
  return 0;
}
