/**
 * Bearer tokens: `Authorization: Bearer <token>`, never a query parameter. Tokens are compared as
 * SHA-256 digests with timingSafeEqual, so neither the comparison's time nor a length check tells
 * an attacker how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

export class BearerTokens {
  readonly #digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  /** No tokens configured: every request is let in (the service then listens on loopback only). */
  get open(): boolean {
    return this.#digests.length === 0;
  }

  /** The token a request presents (its Authorization header), or undefined. */
  static presented(authorization: string | undefined): string | undefined {
    const match = /^Bearer +(\S+)\s*$/i.exec(authorization ?? '');
    return match?.[1];
  }

  /** Whether the header carries one of the tokens. Every token is compared, whatever matched. */
  allows(authorization: string | undefined): boolean {
    if (this.open) return true;
    const token = BearerTokens.presented(authorization);
    if (token === undefined) return false;
    const candidate = digest(token);
    let allowed = false;
    for (const known of this.#digests) allowed = timingSafeEqual(candidate, known) || allowed;
    return allowed;
  }
}
