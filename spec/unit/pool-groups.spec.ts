/**
 * The pool over several groups (one per engine): one FIFO queue, dispatch to the least-loaded group
 * that is not down, a group marked down gets no runs until a creation on it succeeds again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageNotFoundError, EngineUnavailableError } from '../../lib/errors.js';
import { Pool } from '../../lib/pool/pool.js';
import { FakeFactory, settleTasks, type FakeResource } from '../helpers/fake-factory.js';

function twoGroups(sizeA = 2, sizeB = 2): { a: FakeFactory; b: FakeFactory; pool: Pool<FakeResource> } {
  const a = new FakeFactory(1);
  const b = new FakeFactory(1001);
  const pool = new Pool(
    [
      { name: 'a', factory: a, size: sizeA },
      { name: 'b', factory: b, size: sizeB },
    ],
    {
      size: 0,
      retryMinMs: 10,
      retryMaxMs: 10,
      isLasting: (error) => error instanceof ImageNotFoundError,
      isDown: (error) => error instanceof EngineUnavailableError,
    },
  );
  return { a, b, pool };
}

test('start() fills every group; stats add them up and groupStats() tells them apart', async () => {
  const { a, b, pool } = twoGroups(2, 3);
  await pool.start();
  assert.equal(a.created, 2);
  assert.equal(b.created, 3);
  assert.equal(pool.stats().size, 5);
  assert.equal(pool.stats().ready, 5);
  assert.deepEqual(
    pool.groupStats().map(({ name, state, size, ready }) => ({ name, state, size, ready })),
    [
      { name: 'a', state: 'up', size: 2, ready: 2 },
      { name: 'b', state: 'up', size: 3, ready: 3 },
    ],
  );
  await pool.close();
});

test('runs alternate between groups: each goes to the least-loaded group with a ready resource', async () => {
  const { pool } = twoGroups(2, 2);
  await pool.start();
  const held = [await pool.acquire(), await pool.acquire(), await pool.acquire(), await pool.acquire()];
  assert.deepEqual(
    held.map((item) => pool.groupOf(item)),
    ['a', 'b', 'a', 'b'],
  );
  for (const item of held) pool.release(item);
  await pool.close();
});

test('the queue is FIFO across groups: the first waiter gets the first resource, whichever group makes it', async () => {
  const { a, b, pool } = twoGroups(1, 1);
  await pool.start();
  const first = await pool.acquire();
  const second = await pool.acquire();
  a.hold = true;
  b.hold = true;
  const order: string[] = [];
  const third = pool.acquire().then((item) => (order.push('third'), item));
  const fourth = pool.acquire().then((item) => (order.push('fourth'), item));
  pool.release(first);
  pool.release(second);
  await settleTasks();
  b.releaseAll(); // group b's replacement is ready first: it goes to the first waiter
  const got3 = await third;
  assert.equal(pool.groupOf(got3), 'b');
  a.releaseAll();
  const got4 = await fourth;
  assert.equal(pool.groupOf(got4), 'a');
  assert.deepEqual(order, ['third', 'fourth']);
  a.hold = false;
  b.hold = false;
  pool.release(got3);
  pool.release(got4);
  await pool.close();
});

test('markDown(): the group gets no runs, its ready resources are destroyed, and it comes back once a recovering creation succeeds', async () => {
  const { a, pool } = twoGroups(2, 2);
  await pool.start();
  a.failWith = new EngineUnavailableError('engine a is gone', { command: 'docker version', stderr: '' });
  pool.markDown('a', a.failWith);
  await settleTasks();
  assert.deepEqual(a.destroyed, [1, 2]);
  const state = pool.groupStats().find((group) => group.name === 'a');
  assert.equal(state?.state, 'down');
  assert.equal(state?.lastError, a.failWith);
  const runs = [await pool.acquire(), await pool.acquire()];
  assert.deepEqual(
    runs.map((item) => pool.groupOf(item)),
    ['b', 'b'],
  );
  assert.equal(pool.stats().failing, false, 'one group up: the pool as a whole is not failing');

  // Retries on a down group are told they recover (so the engine is checked first).
  const deadline = Date.now() + 5_000;
  while (a.recoveringFlags.filter(Boolean).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(a.recoveringFlags.filter(Boolean).length >= 2, 'retried while down');
  a.failWith = undefined;
  while (pool.groupStats()[0]?.state !== 'up' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(pool.groupStats()[0]?.state, 'up');
  const next = await pool.acquire();
  assert.equal(pool.groupOf(next), 'a', 'a is least loaded again');
  for (const item of [...runs, next]) pool.release(item);
  await pool.close();
});

test('a lasting failure on one group leaves runs to the other; only when every group fails lastingly do acquires reject at once', async () => {
  const { a, b, pool } = twoGroups(1, 1);
  await pool.start();
  const missing = new ImageNotFoundError('img', { command: 'docker image inspect img' });
  a.failWith = missing;
  pool.release(await pool.acquire()); // a's replacement fails
  await settleTasks();
  assert.equal(pool.groupStats()[0]?.state, 'failing');
  const run = await pool.acquire();
  assert.equal(pool.groupOf(run), 'b');
  b.failWith = missing;
  pool.release(run);
  await settleTasks();
  await settleTasks();
  await assert.rejects(pool.acquire(), (error) => error === missing);
  assert.equal(pool.stats().failing, true);
  a.failWith = undefined;
  b.failWith = undefined;
  await pool.close();
});

test('whenQuiet() does not wait for a group that is down while another is up', async () => {
  const { a, pool } = twoGroups(1, 1);
  await pool.start();
  a.failWith = new EngineUnavailableError('engine a is gone', { command: 'docker version', stderr: '' });
  pool.markDown('a', a.failWith);
  await pool.whenQuiet();
  assert.equal(pool.stats().ready, 1);
  a.failWith = undefined;
  await pool.close();
});

test('discard(): a ready resource that went bad is destroyed and replaced at once; a leased one is left to its run', async () => {
  const factory = new FakeFactory();
  const pool = new Pool(factory, { size: 2 });
  await pool.start();
  const leased = await pool.acquire();
  pool.discard(leased);
  await settleTasks();
  assert.equal(factory.destroyed.length, 0, 'a leased resource is not discarded');
  const [other] = await Promise.all([pool.acquire()]);
  pool.release(other); // back to 2 created + 1 replacement
  await settleTasks();
  const created = factory.created;
  const ready = await pool.acquire();
  pool.putBack(ready);
  pool.discard(ready);
  await settleTasks();
  assert.ok(factory.destroyed.includes(ready.id), 'the discarded resource is destroyed');
  assert.equal(factory.created, created + 1, 'and replaced');
  assert.equal(pool.stats().ready, 1);
  pool.release(leased);
  await pool.close();
});
