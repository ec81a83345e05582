import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { QueueFullError, QueueTimeoutError, SandboxClosedError } from '../../lib/errors.js';
import { Pool } from '../../lib/pool/pool.js';
import { FakeFactory, settleTasks } from '../helpers/fake-factory.js';

test('start() creates the whole pool; each resource is used once, destroyed and replaced', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 2 });
  await pool.start();
  assert.equal(factory.created, 2);
  assert.deepEqual(pool.stats(), { size: 2, ready: 2, busy: 0, starting: 0, queued: 0, failing: false, consecutiveFailures: 0, lastError: null });

  const first = await pool.acquire();
  pool.release(first);
  await settleTasks();
  assert.deepEqual(factory.destroyed, [first.id]);
  assert.equal(factory.created, 3);
  assert.equal(pool.stats().ready, 2);
  await pool.close();
});

test('runs beyond the free resources wait and are served in FIFO order', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1 });
  await pool.start();
  const first = await pool.acquire();
  factory.hold = true;
  const order: string[] = [];
  const second = pool.acquire().then((r) => (order.push('second'), r));
  const third = pool.acquire().then((r) => (order.push('third'), r));
  assert.equal(pool.stats().queued, 2);

  pool.release(first);
  await settleTasks();
  factory.releaseAll();
  const got2 = await second;
  pool.release(got2);
  await settleTasks();
  factory.releaseAll();
  pool.release(await third);
  assert.deepEqual(order, ['second', 'third']);
  await settleTasks();
  factory.releaseAll();
  await pool.close();
});

test('releases in the same tick are destroyed in one batch', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 3 });
  await pool.start();
  const items = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  for (const item of items) pool.release(item);
  await settleTasks();
  assert.deepEqual(factory.destroyBatches, [items.map((item) => item.id)]);
  await pool.close();
});

test('a failed start destroys what was created and rejects with the failure', async () => {
  const factory = new FakeFactory();
  factory.hold = true;
  const pool = new Pool(factory, { size: 3 });
  const starting = pool.start();
  const [a, b, c] = factory.pending;
  a!.resolve();
  b!.reject(new Error('no image'));
  c!.resolve();
  await assert.rejects(starting, /no image/);
  assert.deepEqual(factory.destroyed, [1, 3]);
});

test('close() rejects waiters, waits for leased resources, then destroys everything', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1 });
  await pool.start();
  const leased = await pool.acquire();
  factory.hold = true;
  const waiting = pool.acquire();
  let closed = false;
  const closing = pool.close().then(() => (closed = true));
  await assert.rejects(waiting, SandboxClosedError);
  await settleTasks();
  assert.equal(closed, false, 'close waits for the leased resource');
  factory.releaseAll(); // the replacement started for the waiter finishes: it is destroyed too
  pool.release(leased);
  await closing;
  assert.equal(factory.destroyed.length, factory.created);
  await assert.rejects(pool.acquire(), SandboxClosedError);
});

test('aborting a queued acquire removes it from the queue', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1 });
  await pool.start();
  const leased = await pool.acquire();
  const controller = new AbortController();
  const waiting = pool.acquire(controller.signal);
  assert.equal(pool.stats().queued, 1);
  controller.abort(new Error('changed my mind'));
  await assert.rejects(waiting, /changed my mind/);
  assert.equal(pool.stats().queued, 0);
  pool.release(leased);
  await pool.close();
});

test('when replacements fail and nothing is ready, waiters get the failure instead of hanging', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1, retryMinMs: 10_000 });
  await pool.start();
  const leased = await pool.acquire();
  factory.failWith = new Error('image was deleted');
  const waiting = pool.acquire();
  pool.release(leased);
  await assert.rejects(waiting, /image was deleted/);
  await pool.close();
});

test('whenQuiet() resolves once a used resource has been destroyed and replaced', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 2 });
  await pool.start();
  await pool.whenQuiet();
  factory.hold = true;
  pool.release(await pool.acquire());
  let full = false;
  const waiting = pool.whenQuiet().then(() => (full = true));
  await settleTasks();
  assert.equal(full, false);
  factory.releaseAll();
  await waiting;
  assert.equal(pool.stats().ready, 2);
  await pool.close();
});

test('a lasting failure is reported by stats and refuses new acquires at once until a creation succeeds', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1, retryMinMs: 5 });
  await pool.start();
  const lasting = new Error('image was deleted');
  factory.failWith = lasting;
  pool.release(await pool.acquire());
  await until('the pool says it is failing', () => pool.stats().failing);
  assert.equal(pool.stats().lastError, lasting);
  await assert.rejects(pool.acquire(), /image was deleted/);
  factory.failWith = undefined;
  await advance(t, 5); // the retry
  await until('the pool recovers', () => !pool.stats().failing);
  const item = await pool.acquire();
  assert.deepEqual(
    { ...pool.stats(), lastError: pool.stats().lastError },
    { size: 1, ready: 0, busy: 1, starting: 0, queued: 0, failing: false, consecutiveFailures: 0, lastError: null },
  );
  pool.release(item);
  await pool.close();
});

test('a passing failure (engine restarting) keeps waiters waiting; they are served once a retry succeeds', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1, retryMinMs: 5, retryMaxMs: 20, isLasting: () => false });
  await pool.start();
  factory.failWith = new Error('engine down');
  pool.release(await pool.acquire());
  const waiting = pool.acquire();
  await settleTasks(); // the first failure: its retry is due in 5 ms
  await advance(t, 5 + 10); // two retries
  assert.equal(pool.stats().consecutiveFailures, 3);
  assert.equal(pool.stats().queued, 1);
  factory.failWith = undefined;
  await advance(t, 20);
  pool.release(await waiting);
  await pool.close();
});

test('retries back off: while creations fail, attempts double their spacing up to retryMaxMs', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1, retryMinMs: 10, retryMaxMs: 80, isLasting: () => false });
  await pool.start();
  factory.failWith = new Error('engine down');
  const attemptsAt: number[] = [];
  let now = 0;
  const create = factory.create.bind(factory);
  factory.create = () => {
    attemptsAt.push(now);
    return create();
  };
  pool.release(await pool.acquire());
  await settleTasks();
  while (now < 400) {
    now += 1;
    await advance(t, 1);
  }
  const gaps = attemptsAt.slice(1).map((at, index) => at - attemptsAt[index]!);
  assert.deepEqual(gaps, [10, 20, 40, 80, 80, 80, 80], `attempts at ${attemptsAt.join(', ')} ms`);
  await pool.close();
});

test('queueTimeoutMs: a waiter rejects with QueueTimeoutError, or with the creation failure while failing', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1, queueTimeoutMs: 50, retryMinMs: 5, isLasting: () => false });
  await pool.start();
  const item = await pool.acquire();
  const timedOut = assert.rejects(pool.acquire(), (error: unknown) => error instanceof QueueTimeoutError && /waited 50 ms/.test(error.message));
  await advance(t, 49);
  assert.equal(pool.stats().queued, 1, 'still waiting 1 ms before the limit');
  await advance(t, 1);
  await timedOut;
  assert.equal(pool.stats().queued, 0);
  factory.failWith = new Error('engine down');
  pool.release(item);
  const failed = assert.rejects(pool.acquire(), /engine down/);
  await advance(t, 50);
  await failed;
  await pool.close();
});

test('putBack(): a resource leased but not used serves the next waiter, or waits ready; it is neither destroyed nor replaced', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1 });
  await pool.start();
  const item = await pool.acquire();
  const waiting = pool.acquire();
  pool.putBack(item);
  assert.equal(await waiting, item, 'the waiter got the same resource');
  pool.putBack(item);
  await settleTasks();
  assert.deepEqual(pool.stats(), { size: 1, ready: 1, busy: 0, starting: 0, queued: 0, failing: false, consecutiveFailures: 0, lastError: null });
  assert.deepEqual({ created: factory.created, destroyed: factory.destroyed }, { created: 1, destroyed: [] });
  const again = await pool.acquire();
  assert.equal(again, item);
  const closing = pool.close();
  pool.putBack(again); // after close: destroyed like a released one
  await closing;
  assert.deepEqual(factory.destroyed, [item.id]);
});

test('maxQueue: one waiter too many is refused at once with QueueFullError', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 1, maxQueue: 2 });
  await pool.start();
  const item = await pool.acquire();
  const first = pool.acquire();
  const second = pool.acquire();
  await assert.rejects(pool.acquire(), (error: unknown) => error instanceof QueueFullError && error.code === 'ERR_QUEUE_FULL');
  assert.equal(pool.stats().queued, 2);
  pool.release(item);
  pool.release(await first);
  pool.release(await second);
  await pool.close();
});

/** Lets the pool's promise chains and immediates run until condition holds; fails after 2 s. */
async function until(what: string, condition: () => boolean, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await settleTasks();
  }
}

/** Moves the mocked clock on by ms, one millisecond at a time, letting what each timer starts run. */
async function advance(t: TestContext, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    t.mock.timers.tick(1);
    await settleTasks();
  }
}
