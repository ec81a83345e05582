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
  // t.after hooks run in the order they were registered: this one, first, while both engines are up.
  let sandbox: Sandbox | undefined;
  t.after(() => sandbox?.cleanup());
  const [a, b] = await Promise.all([startPrivateEngine(t), startPrivateEngine(t)]);
  sandbox = new Sandbox({
    ...options,
    engines: [
      { name: 'a', dockerHost: a.host, poolSize },
      { name: 'b', dockerHost: b.host, poolSize },
    ],
  });
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

test('a hung engine (its daemon stopped with SIGSTOP): runs sent there fail within their time limit naming it, the rest run on the other; it is re-admitted once it answers', async (t) => {
  const { a, sandbox } = await twoEngines(t, { timeoutMs: 20_000 });
  await sandbox.whenWarm();
  await a.freeze();
  const frozenAt = performance.now();
  const settled = await Promise.all(
    Array.from({ length: 4 }, (_, i) =>
      sandbox.run(`print(${i})`).then(
        (result) => ({ result, error: undefined, ms: performance.now() - frozenAt }),
        (error: unknown) => ({ result: undefined, error, ms: performance.now() - frozenAt }),
      ),
    ),
  );
  const failed = settled.filter((outcome) => outcome.error !== undefined);
  const succeeded = settled.filter((outcome) => outcome.result !== undefined);
  t.diagnostic(`runs sent to the hung engine failed after ${failed.map((outcome) => outcome.ms.toFixed(0)).join(', ')} ms (time limit 20000 ms)`);
  // Least-loaded dispatch sent two of the four to a before anything was known of it.
  assert.equal(failed.length, 2, `failed: ${failed.map((outcome) => String(outcome.error)).join('; ')}`);
  for (const outcome of failed) {
    assert.ok(outcome.error instanceof EngineUnavailableError, String(outcome.error));
    assert.equal(outcome.error.engine, 'a');
    assert.ok(outcome.ms < 20_000, `failed after ${outcome.ms.toFixed(0)} ms, past the run's time limit`);
  }
  for (const outcome of succeeded) assert.equal(outcome.result?.engine, 'b');
  assert.equal(engineState(sandbox, 'a'), 'down');
  const during = await Promise.all(Array.from({ length: 4 }, (_, i) => sandbox.run(`print(${i})`)));
  assert.deepEqual(
    during.map((result) => result.engine),
    ['b', 'b', 'b', 'b'],
  );

  await a.thaw();
  const thawedAt = performance.now();
  await eventually('a is up again with its pool', () => engineState(sandbox, 'a') === 'up' && sandbox.stats().engines[0]?.ready === 2, 30_000);
  t.diagnostic(`a was re-admitted ${(performance.now() - thawedAt).toFixed(0)} ms after it was thawed`);
  const after = await Promise.all(Array.from({ length: 4 }, (_, i) => sandbox.run(`import time\ntime.sleep(0.3)\nprint(${i})`)));
  assert.ok(
    after.some((result) => result.engine === 'a'),
    'runs go to a again',
  );
  await eventually('a holds no stopped container of the Sandbox', async () => (await stoppedOn(a, sandbox)).length === 0, 10_000);
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
