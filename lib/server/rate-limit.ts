/**
 * Per-token rate limits: a token bucket for each client (its token, or its address when the
 * service has no tokens). `perMinute` runs a minute on average, bursts up to `burst`. A request
 * over the limit is told how many seconds until one more is allowed (429's Retry-After).
 * Pure: the clock is passed in, so the rules have unit specs.
 */

export interface RateLimitSettings {
  /** Requests a minute, on average, per client. */
  perMinute: number;
  /** Requests a client may make at once after a quiet spell. @default perMinute, at most 60 */
  burst?: number;
}

interface Bucket {
  tokens: number;
  /** When tokens was computed (ms). */
  at: number;
}

/** Idle buckets are forgotten after this long (they would be full again anyway). */
const FORGET_AFTER_MS = 10 * 60_000;

export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();
  #lastSweep = 0;

  constructor(settings: RateLimitSettings) {
    if (!(settings.perMinute > 0)) throw new RangeError('perMinute must be a positive number');
    this.#perMs = settings.perMinute / 60_000;
    this.#burst = Math.max(1, Math.floor(settings.burst ?? Math.min(settings.perMinute, 60)));
  }

  /** Takes one request of `client` at time `now` (ms): 0 when allowed, else the seconds to wait. */
  take(client: string, now: number): number {
    this.#sweep(now);
    const bucket = this.#buckets.get(client) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    this.#buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  /** How many clients are tracked (for specs: idle ones are forgotten). */
  get clients(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < FORGET_AFTER_MS) return;
    this.#lastSweep = now;
    for (const [client, bucket] of this.#buckets) if (now - bucket.at >= FORGET_AFTER_MS) this.#buckets.delete(client);
  }
}
