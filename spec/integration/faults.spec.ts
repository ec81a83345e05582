/**
 * Faults a long-running service meets: warm containers removed from outside, the engine going
 * down and coming back (on a private engine, never the shared one), an image deleted under a
 * running pool, a full queue. On the real engine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { EngineUnavailableError, ImageNotFoundError, QueueFullError, QueueTimeoutError, Sandbox } from '../../lib/index.js';
import { holderContainers, labelledContainers, runnerContainers, startSandbox } from '../helpers/engine.js';
import { eventually } from '../helpers/eventually.js';
import { startPrivateEngine } from '../helpers/private-engine.js';

const execFileAsync = promisify(execFile);
const docker = (args: string[]): Promise<{ stdout: string; stderr: string }> => execFileAsync('docker', args);

/** Counts unhandled rejections while a test runs. */
function watchUnhandled(t: { after(fn: () => void): void }): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', listener);
  t.after(() => process.off('unhandledRejection', listener));
  return seen;
}

test('warm containers removed from outside are noticed and replaced; the runs that would have used them succeed', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2 });
  const warm = await runnerContainers(sandbox.id);
  assert.equal(warm.length, 2);
  await docker(['rm', '-f', ...warm]); // both ready containers, gone before any run
  const results = await Promise.all([sandbox.run('print(1)'), sandbox.run('print(2)'), sandbox.run('print(3)')]);
  assert.deepEqual(
    results.map((result) => [result.status, result.stdout]),
    [
      ['ok', '1\n'],
      ['ok', '2\n'],
      ['ok', '3\n'],
    ],
  );
  await sandbox.whenWarm();
  const now = await runnerContainers(sandbox.id);
  assert.equal(now.length, 2);
  assert.ok(!now.some((name) => warm.includes(name)), 'the removed containers were replaced, not reused');
});

test('every container of a pool removed from outside, network-namespace holders included: replacements never join a gone holder, runs succeed', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1 });
  // Holders are made in the background once the pool is ready: two per slot.
  await eventually('the holders are up', async () => (await holderContainers(sandbox.id)).length === 2);
  const all = await labelledContainers(sandbox.id);
  assert.equal(all.length, 3, `1 runner and 2 holders: ${all.join(' ')}`);
  await docker(['rm', '-f', ...all]);
  const results = await Promise.all([sandbox.run('print(1)'), sandbox.run('print(2)'), sandbox.run('print(3)')]);
  assert.deepEqual(
    results.map((result) => [result.status, result.stdout, result.stderr]),
    [
      ['ok', '1\n', ''],
      ['ok', '2\n', ''],
      ['ok', '3\n', ''],
    ],
  );
  await sandbox.whenWarm();
  assert.equal((await sandbox.run('print("after")')).stdout, 'after\n');
  // New holders replace the gone ones.
  await eventually('new holders are made', async () => (await holderContainers(sandbox.id)).some((name) => !all.includes(name)));
});

test('a container removed from outside mid-run: the run ends at once as an error (it is not run twice); the pool replaces it', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1 });
  const [name] = await runnerContainers(sandbox.id);
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const result = sandbox.run({ code: 'import time\nprint("started", flush=True)\ntime.sleep(30)', onStdout: () => started() });
  await running;
  const removedAt = performance.now();
  await docker(['rm', '-f', name!]);
  const ended = await result;
  assert.ok(performance.now() - removedAt < 5_000, 'the run ended soon after its container was removed');
  assert.equal(ended.status, 'error');
  assert.equal(ended.stdout, 'started\n');
  assert.equal(ended.timedOut, false);
  await sandbox.whenWarm();
  assert.equal((await sandbox.run('print("next")')).stdout, 'next\n');
});

test('maxQueue: a run beyond it rejects at once with QueueFullError and uses no container', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1, maxQueue: 1 });
  const running = sandbox.run('import time\ntime.sleep(1)');
  const queued = sandbox.run('print("queued")');
  await assert.rejects(sandbox.run('print("too many")'), (error: unknown) => {
    assert.ok(error instanceof QueueFullError);
    assert.equal(error.code, 'ERR_QUEUE_FULL');
    assert.match(error.message, /1 runs are already waiting .*maxQueue/);
    return true;
  });
  assert.equal(sandbox.stats().queued, 1);
  assert.equal((await running).status, 'ok');
  assert.equal((await queued).stdout, 'queued\n');
});

test('queueTimeoutMs: a run that waits longer for a container rejects with QueueTimeoutError', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1, queueTimeoutMs: 300 });
  const running = sandbox.run('import time\ntime.sleep(2)');
  await assert.rejects(sandbox.run('print(1)'), (error: unknown) => error instanceof QueueTimeoutError && /waited 300 ms/.test(error.message));
  assert.equal((await running).status, 'ok');
});

test('an image deleted under a running pool: waiting runs get ImageNotFoundError instead of hanging, stats say failing', async (t) => {
  // A tag of our own on the shared engine, so that deleting it disturbs nothing else.
  const image = `docker-python-sandbox-spec-doomed:${process.pid}`;
  await docker(['tag', 'docker-python-sandbox:latest', image]);
  t.after(() => docker(['rmi', image]).catch(() => {}));
  const unhandled = watchUnhandled(t);
  const sandbox = await startSandbox(t, { poolSize: 1, image });
  const running = sandbox.run('import time\ntime.sleep(1)');
  const waiting = sandbox.run('print("never")');
  await docker(['rmi', image]);
  assert.equal((await running).status, 'ok');
  await assert.rejects(waiting, (error: unknown) => error instanceof ImageNotFoundError && error.message.includes(image));
  const stats = sandbox.stats();
  assert.equal(stats.failing, true);
  assert.ok(stats.lastError instanceof ImageNotFoundError);
  await assert.rejects(sandbox.run('print("still never")'), ImageNotFoundError);
  // The image is back: the pool mends itself.
  await docker(['tag', 'docker-python-sandbox:latest', image]);
  await eventually('the pool refills once the image is back', () => sandbox.stats().ready === 1);
  assert.equal((await sandbox.run('print("back")')).stdout, 'back\n');
  assert.equal(sandbox.stats().failing, false);
  assert.deepEqual(unhandled, []);
});

test('engine down: the run in flight rejects with EngineUnavailableError, queued runs after queueTimeoutMs; the pool refills when it is back', async (t) => {
  const engine = await startPrivateEngine(t);
  const unhandled = watchUnhandled(t);
  const sandbox = new Sandbox({ dockerHost: engine.host, poolSize: 1, queueTimeoutMs: 3_000, timeoutMs: 60_000 });
  engine.onTeardown(() => sandbox.cleanup()); // while the private engine is still up
  await sandbox.initialize();
  assert.equal((await sandbox.run('print("up")')).stdout, 'up\n');
  await sandbox.whenWarm();

  // Its rejection is taken at once: it may come while the engine is still stopping.
  const inFlight = sandbox.run('import time\ntime.sleep(60)').then(
    (result) => result,
    (error: unknown) => error,
  );
  await eventually('the run is in flight', () => sandbox.stats().busy === 1);
  const stoppedAt = performance.now();
  await engine.stop();
  const outcome = await inFlight;
  assert.ok(outcome instanceof EngineUnavailableError, `the run in flight got ${String(outcome)}`);
  const inFlightMs = performance.now() - stoppedAt;
  assert.ok(inFlightMs < 15_000, `the run in flight settled ${inFlightMs.toFixed(0)} ms after the engine went down`);

  const queuedAt = performance.now();
  await assert.rejects(sandbox.run('print("queued")'), EngineUnavailableError);
  const queuedMs = performance.now() - queuedAt;
  assert.ok(queuedMs >= 2_900 && queuedMs < 10_000, `the queued run waited ${queuedMs.toFixed(0)} ms (queueTimeoutMs 3000)`);
  const down = sandbox.stats();
  assert.equal(down.failing, true);
  assert.ok(down.lastError instanceof EngineUnavailableError);
  // Backing off, not spinning: 250 ms doubling to 5 s gives a handful of attempts in these seconds.
  assert.ok(down.consecutiveFailures <= 8, `${down.consecutiveFailures} attempts to make a container while the engine was down`);

  const restartedAt = performance.now();
  await engine.start();
  await eventually('the pool refills by itself once the engine is back', () => sandbox.stats().ready === 1, 30_000);
  t.diagnostic(
    `in flight rejected ${inFlightMs.toFixed(0)} ms after the engine stopped; queued run waited ${queuedMs.toFixed(0)} ms; ` +
      `${down.consecutiveFailures} creation attempts while down; pool ready ${(performance.now() - restartedAt).toFixed(0)} ms after the engine was started again`,
  );
  assert.equal((await sandbox.run('print("back")')).stdout, 'back\n');
  assert.equal(sandbox.stats().failing, false);
  await sandbox.cleanup();
  // Nothing of the Sandbox is left on the engine, not even what the restart orphaned.
  assert.deepEqual((await engine.docker(['ps', '-aq', '--filter', `label=docker-python-sandbox.sandbox=${sandbox.id}`])).stdout.trim(), '');
  assert.deepEqual(unhandled, []);
  // The shared engine never saw this Sandbox.
  assert.deepEqual(await labelledContainers(sandbox.id), []);
});

test('cleanup() while the engine is down rejects with EngineUnavailableError; called again once it is back, it removes everything', async (t) => {
  const engine = await startPrivateEngine(t);
  const sandbox = new Sandbox({ dockerHost: engine.host, poolSize: 2 });
  engine.onTeardown(() => sandbox.cleanup());
  await sandbox.initialize();
  await sandbox.run('print(1)');
  await sandbox.whenWarm();
  await engine.stop();
  await assert.rejects(sandbox.cleanup(), EngineUnavailableError);
  await engine.start();
  await sandbox.cleanup();
  const left = await engine.docker(['ps', '-aq', '--filter', `label=docker-python-sandbox.sandbox=${sandbox.id}`]);
  assert.equal(left.stdout.trim(), '');
});
