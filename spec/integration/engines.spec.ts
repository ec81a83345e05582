/**
 * One Sandbox over two engines (two private dockerds of the spec's own, never the shared one): runs
 * spread over both, an engine stopped or hung under load (its runs in flight fail with its name,
 * queued and new runs go to the other), and its re-admission once it answers again.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { EngineUnavailableError, Sandbox, type RunResult, type SandboxOptions } from '../../lib/index.js';
import { eventually } from '../helpers/eventually.js';
import { startPrivateEngine, type PrivateEngine } from '../helpers/private-engine.js';

interface TwoEngines {
  a: PrivateEngine;
  b: PrivateEngine;
  sandbox: Sandbox;
}

async function twoEngines(t: TestContext, options: SandboxOptions = {}, poolSize = 2): Promise<TwoEngines> {
  const [a, b] = await Promise.all([startPrivateEngine(t), startPrivateEngine(t)]);
  const sandbox = new Sandbox({
    ...options,
    engines: [
      { name: 'a', dockerHost: a.host, poolSize },
      { name: 'b', dockerHost: b.host, poolSize },
    ],
  });
  // Registered on the engine whose teardown runs last, so that both still answer.
  a.onTeardown(() => sandbox.cleanup());
  await sandbox.initialize();
  return { a, b, sandbox };
}

/** The Sandbox's containers on one engine. */
async function containersOn(engine: PrivateEngine, sandbox: Sandbox): Promise<string[]> {
  const { stdout } = await engine.docker(['ps', '-aq', '--filter', `label=docker-python-sandbox.sandbox=${sandbox.id}`]);
  return stdout.split('\n').filter(Boolean);
}

/** The Sandbox's containers on one engine that are not running. */
async function stoppedOn(engine: PrivateEngine, sandbox: Sandbox): Promise<string[]> {
  const filters = ['created', 'exited', 'dead'].flatMap((status) => ['--filter', `status=${status}`]);
  const { stdout } = await engine.docker(['ps', '-aq', '--filter', `label=docker-python-sandbox.sandbox=${sandbox.id}`, ...filters]);
  return stdout.split('\n').filter(Boolean);
}

function engineState(sandbox: Sandbox, name: string): string | undefined {
  return sandbox.stats().engines.find((engine) => engine.name === name)?.state;
}

test('two engines: runs spread over both, result.engine names the one that ran it, stats() lists each', async (t) => {
  const { a, b, sandbox } = await twoEngines(t);
  assert.deepEqual(
    sandbox.stats().engines.map(({ name, state, size, ready }) => ({ name, state, size, ready })),
    [
      { name: 'a', state: 'up', size: 2, ready: 2 },
      { name: 'b', state: 'up', size: 2, ready: 2 },
    ],
  );
  assert.equal(sandbox.stats().size, 4);
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => sandbox.run(`import time\ntime.sleep(0.3)\nprint(${i})`)));
  results.forEach((result, i) => assert.equal(result.stdout, `${i}\n`));
  const byEngine = (name: string): number => results.filter((result) => result.engine === name).length;
  t.diagnostic(`8 runs: ${byEngine('a')} on a, ${byEngine('b')} on b`);
  assert.equal(byEngine('a') + byEngine('b'), 8);
  assert.ok(byEngine('a') >= 3 && byEngine('b') >= 3, `least-loaded dispatch spreads the runs: ${byEngine('a')} on a, ${byEngine('b')} on b`);
  await sandbox.whenWarm();
  // Each engine holds its own pool, and nothing of this Sandbox is anywhere else.
  assert.equal((await containersOn(a, sandbox)).length >= 2, true);
  assert.equal((await containersOn(b, sandbox)).length >= 2, true);
});

test('an engine stopped under load: its run in flight fails naming it, the others run on the other engine; it is re-admitted once back', async (t) => {
  const { a, b, sandbox } = await twoEngines(t, { timeoutMs: 60_000 });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));

  // One long run on each engine (least-loaded dispatch: the first goes to a, the second to b).
  const abortB = new AbortController();
  const onA = sandbox.run('import time\ntime.sleep(60)').then(
    (result) => result,
    (error: unknown) => error,
  );
  const onB = sandbox.run({ code: 'import time\ntime.sleep(60)', signal: abortB.signal }).then(
    (result) => result,
    (error: unknown) => error,
  );
  await eventually('one run in flight on each engine', () => sandbox.stats().engines.every((engine) => engine.busy === 1));

  const stoppedAt = performance.now();
  await a.stop();
  const outcome = await onA;
  const failedMs = performance.now() - stoppedAt;
  assert.ok(outcome instanceof EngineUnavailableError, `the run on a got ${String(outcome)}`);
  assert.equal(outcome.engine, 'a');
  assert.match(outcome.message, /^Engine "a": /);
  assert.equal(engineState(sandbox, 'a'), 'down');

  // New runs all go to b, and succeed.
  const during: RunResult[] = await Promise.all(Array.from({ length: 6 }, (_, i) => sandbox.run(`print(${i})`)));
  during.forEach((result, i) => {
    assert.equal(result.stdout, `${i}\n`);
    assert.equal(result.engine, 'b');
  });
  assert.equal(sandbox.stats().failing, false, 'one engine is up: the Sandbox is not failing');
  abortB.abort();
  await onB;

  // Back: a is probed with backoff, re-admitted, its leftovers removed, its pool refilled.
  const restartedAt = performance.now();
  await a.start();
  await eventually('a is up again with its pool', () => engineState(sandbox, 'a') === 'up' && sandbox.stats().engines[0]?.ready === 2, 30_000);
  const readmittedMs = performance.now() - restartedAt;
  t.diagnostic(`the run on a failed ${failedMs.toFixed(0)} ms after a was stopped; a was re-admitted ${readmittedMs.toFixed(0)} ms after it was started again`);
  // What the outage left on a (the killed run's container, holders stopped with the daemon) is gone.
  await eventually('a holds no stopped container of the Sandbox', async () => (await stoppedOn(a, sandbox)).length === 0, 10_000);
  const after = await Promise.all(Array.from({ length: 4 }, (_, i) => sandbox.run(`import time\ntime.sleep(0.3)\nprint(${i})`)));
  assert.ok(
    after.some((result) => result.engine === 'a'),
    'runs go to a again',
  );
  await sandbox.cleanup();
  assert.deepEqual(await containersOn(a, sandbox), []);
  assert.deepEqual(await containersOn(b, sandbox), []);
  assert.deepEqual(unhandled, []);
});

test('initialize() checks every engine and says which one lacks the image', async (t) => {
  const [a, b] = await Promise.all([startPrivateEngine(t), startPrivateEngine(t, { images: [] })]);
  await b.docker(['image', 'rm', '--force', 'docker-python-sandbox:latest']);
  const sandbox = new Sandbox({
    engines: [
      { name: 'a', dockerHost: a.host },
      { name: 'empty', dockerHost: b.host },
    ],
  });
  await assert.rejects(sandbox.initialize(), (error: unknown) => {
    assert.ok(error instanceof Error && 'code' in error && error.code === 'ERR_IMAGE_NOT_FOUND', String(error));
    assert.match(error.message, /^Engine "empty": The image "docker-python-sandbox:latest" is not on the Docker engine/);
    return true;
  });
  // Nothing is left on the engine that had the image.
  assert.deepEqual(await containersOn(a, sandbox), []);
  await sandbox.cleanup();
});
