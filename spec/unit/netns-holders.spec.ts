/**
 * Holders expire: the lending rule (pure), and the pool of holders around it with a fake engine:
 * what it asks the engine to run, what it lends, what it removes, and what an expiry makes it do.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { ContainerSpec } from '../../lib/docker/container-args.js';
import { buildDetachedRunArgs } from '../../lib/docker/container-args.js';
import type { DockerEngine } from '../../lib/docker/engine.js';
import type { EventListener } from '../../lib/runner/container-events.js';
import { DEFAULT_HOLDER_LIFETIME, NetnsHolders, pickLendable, setHolderLifetime, type HolderLifetime } from '../../lib/runner/netns-holders.js';
import { limitsOf } from '../../lib/runner/container-fleet.js';
import { parseSandboxOptions } from '../../lib/options.js';

test('pickLendable lends the holder that ends soonest among those with the margin left, and names the rest as expiring', () => {
  const free = [
    { name: 'fresh', expiresAt: 1_000_000 },
    { name: 'old', expiresAt: 100_500 },
    { name: 'middle', expiresAt: 400_000 },
    { name: 'dying', expiresAt: 100_000 + 59_999 },
    { name: 'dead', expiresAt: 90_000 },
  ];
  const { lend, expiring } = pickLendable(free, 100_000, 60_000);
  assert.equal(lend?.name, 'middle');
  assert.deepEqual(
    expiring.map((holder) => holder.name),
    ['old', 'dying', 'dead'],
  );
  // Exactly the margin left is enough.
  assert.equal(pickLendable([{ name: 'edge', expiresAt: 160_000 }], 100_000, 60_000).lend?.name, 'edge');
  assert.deepEqual(pickLendable([], 0, 60_000), { lend: undefined, expiring: [] });
});

test('the default lifetime is ten minutes with one minute of margin; holders run with --rm', () => {
  assert.deepEqual(DEFAULT_HOLDER_LIFETIME, { lifetimeMs: 600_000, lendMarginMs: 60_000 });
  const args = buildDetachedRunArgs({ name: 'h', image: 'img', labels: {}, limits: LIMITS, command: ['sleep', '600'] });
  assert.deepEqual(args.slice(0, 3), ['run', '--detach', '--rm']);
  assert.deepEqual(args.slice(-3), ['img', 'sleep', '600']);
});

/** A default Sandbox's container limits. */
const LIMITS = limitsOf(parseSandboxOptions({}));

/** An engine that records what it is asked to run and remove, and a watch that records listeners. */
function fakes() {
  const started: ContainerSpec[] = [];
  const removed: string[] = [];
  const listeners = new Map<string, EventListener>();
  const engine = {
    runDetached: (spec: ContainerSpec) => {
      started.push(spec);
      return Promise.resolve();
    },
    removeContainers: (names: readonly string[]) => {
      removed.push(...names);
      return Promise.resolve();
    },
  } as unknown as DockerEngine;
  const watch = {
    watch: (listener: EventListener) => listeners.set(listener.name, listener),
    unwatch: (listener: EventListener) => listeners.delete(listener.name),
  };
  return { engine, watch, started, removed, listeners };
}

async function holdersWith(t: TestContext, lifetime: HolderLifetime, target: number) {
  const restore = setHolderLifetime(lifetime);
  t.after(restore);
  const fake = fakes();
  const holders = new NetnsHolders(fake.engine, { image: 'img', labels: {}, limits: LIMITS, namePrefix: 'h-' }, target, fake.watch);
  restore();
  holders.enable();
  // The fake engine answers at once: its creations settle within a turn of the event loop.
  await new Promise((resolve) => setImmediate(resolve));
  t.after(() => holders.stop());
  return { holders, ...fake };
}

test('holders sleep for their lifetime; one with enough life left is lent and comes back', async (t) => {
  const { holders, started, removed } = await holdersWith(t, { lifetimeMs: 600_000, lendMarginMs: 60_000 }, 2);
  assert.deepEqual(
    started.map((spec) => [spec.name, ...spec.command]),
    [
      ['h-1', 'sleep', '600'],
      ['h-2', 'sleep', '600'],
    ],
  );
  assert.equal(holders.take(), 'h-1');
  holders.give('h-1');
  assert.equal(holders.take(), 'h-1', 'it came back, and ends sooner than h-2');
  assert.deepEqual(removed, []);
});

test('holders too close to their end are removed instead of lent, and new ones are made', async (t) => {
  // A margin longer than the lifetime: every holder is too close to its end as soon as it exists.
  const { holders, started, removed } = await holdersWith(t, { lifetimeMs: 2_500, lendMarginMs: 10_000 }, 2);
  assert.deepEqual(
    started.map((spec) => spec.command.join(' ')),
    ['sleep 2.5', 'sleep 2.5'],
  );
  assert.equal(holders.take(), undefined);
  assert.deepEqual(removed.sort(), ['h-1', 'h-2']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    started.map((spec) => spec.name),
    ['h-1', 'h-2', 'h-3', 'h-4'],
  );
});

test('a holder that expires (its die event) is forgotten without a docker rm (the engine removes it) and replaced', async (t) => {
  const { holders, started, removed, listeners } = await holdersWith(t, { lifetimeMs: 600_000, lendMarginMs: 60_000 }, 2);
  const lent = holders.take();
  assert.equal(lent, 'h-1');
  listeners.get('h-1')!.noteDied();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(removed, []);
  assert.deepEqual(
    started.map((spec) => spec.name),
    ['h-1', 'h-2', 'h-3'],
  );
  // The container that used it gives it back once it exits: a dead holder is not lent again.
  holders.give('h-1');
  assert.equal(holders.take(), 'h-2');
  assert.equal(holders.take(), 'h-3');
  assert.equal(holders.take(), undefined);
});
