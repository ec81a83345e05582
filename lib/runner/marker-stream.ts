/**
 * Splits one output stream of the loader into the program's bytes and the in-band exit marker.
 * Bytes that might be the start of a marker split across chunks are held back until the next
 * chunk tells; everything before the marker is handed on as it arrives.
 */
export class MarkerStream {
  readonly #token: Buffer;
  readonly #onData: (chunk: Buffer) => void;
  #held: Buffer = Buffer.alloc(0);
  #afterToken: Buffer | undefined;

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
    if (this.#afterToken === undefined) return undefined;
    const end = this.#afterToken.indexOf(0x0a);
    return end === -1 ? undefined : this.#afterToken.subarray(0, end).toString();
  }

  push(chunk: Buffer): void {
    if (this.#afterToken !== undefined) {
      this.#afterToken = Buffer.concat([this.#afterToken, chunk]);
      return;
    }
    const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    const at = data.indexOf(this.#token);
    if (at !== -1) {
      this.#held = Buffer.alloc(0);
      if (at > 0) this.#onData(data.subarray(0, at));
      this.#afterToken = data.subarray(at + this.#token.length);
      return;
    }
    const keep = partialTokenAtEnd(data, this.#token);
    this.#held = keep === 0 ? Buffer.alloc(0) : Buffer.from(data.subarray(data.length - keep));
    if (data.length - keep > 0) this.#onData(data.subarray(0, data.length - keep));
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
