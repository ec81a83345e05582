/** The service's per-client rate limit (lib/server/rate-limit.ts): a token bucket, clock passed in. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from '../../lib/server/rate-limit.js';

test('a client gets its burst at once, then one request per 60/perMinute seconds', () => {
  const limiter = new RateLimiter({ perMinute: 6, burst: 3 });
  assert.deepEqual(
    [0, 0, 0].map(() => limiter.take('a', 0)),
    [0, 0, 0],
  );
  assert.equal(limiter.take('a', 0), 10, 'the fourth waits 10 s (6 a minute)');
  assert.equal(limiter.take('a', 5_000), 5, 'half-way there');
  assert.equal(limiter.take('a', 10_000), 0, 'one more after 10 s');
  assert.equal(limiter.take('a', 10_000), 10);
});

test('clients are limited apart, and a quiet client refills up to its burst only', () => {
  const limiter = new RateLimiter({ perMinute: 60, burst: 2 });
  assert.equal(limiter.take('a', 0), 0);
  assert.equal(limiter.take('a', 0), 0);
  assert.equal(limiter.take('a', 0), 1);
  assert.equal(limiter.take('b', 0), 0, "another client is not held by a's requests");
  // An hour of silence refills to the burst, not to 3600.
  assert.deepEqual(
    [0, 0, 0].map(() => limiter.take('a', 3_600_000)),
    [0, 0, 1],
  );
});

test('idle clients are forgotten; a bad rate is refused', () => {
  const limiter = new RateLimiter({ perMinute: 60 });
  for (let i = 0; i < 100; i++) limiter.take(`client-${i}`, 0);
  assert.equal(limiter.clients, 100);
  limiter.take('late', 11 * 60_000);
  assert.equal(limiter.clients, 1);
  assert.throws(() => new RateLimiter({ perMinute: 0 }), RangeError);
});
