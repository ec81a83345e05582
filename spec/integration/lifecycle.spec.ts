/**
 * Both API forms, failures that must leave nothing behind, and cleanup with work in flight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import DefaultSandbox, {
  EngineUnavailableError,
  ImageNotFoundError,
  NotInitializedError,
  RunParamsError,
  Sandbox,
  SandboxClosedError,
  type RunResult,
} from '../../lib/index.js';
import { labelledContainers, quietStats, runnerContainers, sandboxTempDirs, startSandbox } from '../helpers/engine.js';
import { setWarmIdleLimit } from '../../lib/runner/loader.js';
import { withTestEngine } from '../helpers/engine-flavour.js';

test('the callback forms work as in the original library', async (t) => {
  assert.equal(DefaultSandbox, Sandbox);
  const sandbox = new DefaultSandbox(withTestEngine({ poolSize: 1 }));
  t.after(() => sandbox.cleanup()); // also when an assertion fails midway
  const result = await new Promise<RunResult>((resolve, reject) => {
    const returned = sandbox.initialize((err) => {
      if (err) return reject(err);
      sandbox.run({ code: 'print("cb")', timeoutMs: 2_000 }, (runErr, runResult) => (runErr ? reject(runErr) : resolve(runResult!)));
    });
    assert.equal(returned, undefined);
  });
  assert.equal(result.stdout, 'cb\n');
  await new Promise<void>((resolve, reject) => sandbox.cleanup((err) => (err ? reject(err) : resolve())));
  assert.deepEqual(await labelledContainers(sandbox.id), []);
});

test('the callback gets the error of a bad run instead of a rejection', async (t) => {
  const sandbox = await startSandbox(t);
  const error = await new Promise<Error | null>((resolve) => sandbox.run({ code: 5 } as never, (err) => resolve(err)));
  assert.ok(error instanceof RunParamsError);
});

test('invalid run params reject with RunParamsError and use no container', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2 });
  const before = await runnerContainers(sandbox.id);
  await assert.rejects(sandbox.run({ code: 'print(1)', timeoutMs: -5 }), (error: unknown) => {
    assert.ok(error instanceof RunParamsError);
    assert.match(error.message, /timeoutMs: must be a whole number from 1 to 86400000 \(milliseconds\) \(got -5\)/);
    return true;
  });
  await assert.rejects(sandbox.run(null as never), RunParamsError);
  await assert.rejects(sandbox.run({ code: 'x', memory: 5 } as never), /memory: is not a known option/);
  assert.deepEqual(sandbox.stats(), quietStats(2));
  assert.deepEqual((await runnerContainers(sandbox.id)).sort(), before.sort());
});

test('run() before initialize() rejects with NotInitializedError and starts nothing', async () => {
  const sandbox = new Sandbox(withTestEngine({}));
  await assert.rejects(sandbox.run('print(1)'), NotInitializedError);
  assert.deepEqual(await labelledContainers(sandbox.id), []);
});

test('an unreachable engine fails initialize() with EngineUnavailableError and leaves nothing behind', async () => {
  const dirsBefore = await sandboxTempDirs();
  const sandbox = new Sandbox({ dockerHost: 'unix:///nonexistent/docker.sock' });
  await assert.rejects(sandbox.initialize(), (error: unknown) => {
    assert.ok(error instanceof EngineUnavailableError);
    assert.equal(error.code, 'ERR_ENGINE_UNAVAILABLE');
    assert.match(error.message, /No Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock/);
    assert.match(error.message, /npm run setup/);
    assert.match(error.command ?? '', /^docker image inspect/);
    return true;
  });
  assert.deepEqual(await sandboxTempDirs(), dirsBefore);
  assert.equal(sandbox.state, 'created');
});

test('a missing docker binary is reported as EngineUnavailableError', async () => {
  const sandbox = new Sandbox({ dockerPath: '/nonexistent/docker' });
  await assert.rejects(sandbox.initialize(), (error: unknown) => {
    assert.ok(error instanceof EngineUnavailableError);
    assert.match(error.message, /The docker CLI \("\/nonexistent\/docker"\) was not found/);
    return true;
  });
});

test('a missing image fails initialize() with ImageNotFoundError naming it, leaving nothing behind', async () => {
  const dirsBefore = await sandboxTempDirs();
  const sandbox = new Sandbox(withTestEngine({ image: 'docker-python-sandbox-missing:nope', poolSize: 2 }));
  await assert.rejects(sandbox.initialize(), (error: unknown) => {
    assert.ok(error instanceof ImageNotFoundError);
    assert.equal(error.image, 'docker-python-sandbox-missing:nope');
    assert.match(error.message, /The image "docker-python-sandbox-missing:nope" is (not on the Docker engine|not in Podman's store)/);
    return true;
  });
  assert.deepEqual(await labelledContainers(sandbox.id), []);
  assert.deepEqual(await sandboxTempDirs(), dirsBefore);
});

test('the default image, when missing, names the command that builds it', () => {
  const error = new ImageNotFoundError('docker-python-sandbox:latest', { command: 'docker image inspect' });
  assert.match(error.message, /Build it with `npm run setup`/);
});

test('cleanup() settles runs in flight and queued, and leaves no container or temp dir', async (t) => {
  const dirsBefore = await sandboxTempDirs();
  const sandbox = new Sandbox(withTestEngine({ poolSize: 2 }));
  t.after(() => sandbox.cleanup());
  await sandbox.initialize();
  assert.equal((await runnerContainers(sandbox.id)).length, 2);
  const inFlight = [sandbox.run('import time\ntime.sleep(60)'), sandbox.run('import time\ntime.sleep(60)')];
  const queued = sandbox.run('print("never")');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(sandbox.stats().queued, 1);

  const outcomes = Promise.allSettled([...inFlight, queued]);
  await Promise.all([sandbox.cleanup(), sandbox.cleanup()]);
  const [first, second, waiting] = await outcomes;
  for (const outcome of [first, second]) {
    assert.equal(outcome?.status, 'rejected');
    assert.match(String(outcome.reason), /cleaned up while this run was in flight/);
  }
  assert.equal(waiting?.status, 'rejected');
  assert.ok(waiting.reason instanceof SandboxClosedError);
  await assert.rejects(sandbox.run('print(1)'), SandboxClosedError);
  await assert.rejects(sandbox.initialize(), SandboxClosedError);
  assert.equal(sandbox.state, 'closed');
  assert.deepEqual(await labelledContainers(sandbox.id), []);
  assert.deepEqual(await sandboxTempDirs(), dirsBefore);
});

test('Symbol.asyncDispose cleans up like cleanup()', async (t) => {
  const sandbox = new Sandbox(withTestEngine({}));
  t.after(() => sandbox.cleanup());
  await sandbox.initialize();
  await sandbox.run('print(1)');
  await sandbox[Symbol.asyncDispose]();
  assert.deepEqual(await labelledContainers(sandbox.id), []);
});

test('initialize() twice starts one pool; used containers are replaced in the background', async (t) => {
  const sandbox = new Sandbox(withTestEngine({ poolSize: 2 }));
  t.after(() => sandbox.cleanup());
  await Promise.all([sandbox.initialize(), sandbox.initialize()]);
  const first = await runnerContainers(sandbox.id);
  assert.equal(first.length, 2);
  await sandbox.run('print(1)');
  // The used container is removed and a new one takes its place.
  await sandbox.whenWarm();
  assert.deepEqual(sandbox.stats(), quietStats(2));
  const after = await runnerContainers(sandbox.id);
  assert.equal(after.length, 2);
  assert.equal(after.filter((name) => first.includes(name)).length, 1);
});

test('many queued runs raise no process warning (no listener pile-up) and all complete in order', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2 });
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => sandbox.run(`print(${i})`)));
  assert.deepEqual(
    results.map((result) => result.stdout),
    Array.from({ length: 16 }, (_, i) => `${i}\n`),
  );
  await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  assert.deepEqual(
    warnings.map((warning) => warning.message),
    [],
  );
});

test('a warm container that waits past its idle limit ends by itself and the pool replaces it at once, without a run', async (t) => {
  setWarmIdleLimit(2_000); // for containers started from now on (10 minutes by default)
  t.after(() => setWarmIdleLimit(10 * 60_000));
  const sandbox = await startSandbox(t, { poolSize: 2 });
  const first = await runnerContainers(sandbox.id);
  assert.equal(first.length, 2);
  const deadline = performance.now() + 30_000;
  let now = first;
  while (now.some((name) => first.includes(name)) || sandbox.stats().ready !== 2) {
    assert.ok(performance.now() < deadline, `the idle containers were not replaced within 30 s: ${now.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    now = await runnerContainers(sandbox.id);
  }
  const result = await sandbox.run('print("fresh")');
  assert.equal(result.stdout, 'fresh\n');
  assert.ok(result.timings.queuedMs < 1_000, `the run waited ${result.timings.queuedMs} ms for a container`);
});
