/**
 * A promise the library hands out settles, whatever the engine does. Each spec runs a host process
 * in which nothing but the library holds the event loop, on a private engine that the spec stops
 * under it: if a pending run() or initialize() were left to unref'd timers, Node would end that
 * process with exit code 13 (unsettled top-level await), and the CLI would end silently.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { LABEL, ROLE_LABEL, SANDBOX_LABEL } from '../../lib/docker/labels.js';
import { DEFAULT_IMAGE } from '../../lib/options.js';
import { startPrivateEngine, type PrivateEngine } from '../helpers/private-engine.js';
import { jsonLines, watchedProcess, type WatchedProcess } from '../helpers/watched-process.js';

const OWNER = fileURLToPath(new URL('../fixtures/pending-owner.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));
const SLOW_WARMUP = fileURLToPath(new URL('../fixtures/slow-warmup', import.meta.url));
const SLOW_IMAGE = 'docker-python-sandbox-spec-slow-start:latest';

function lastStep(stdout: string, step: string): Record<string, unknown> | undefined {
  return jsonLines(stdout).findLast((line) => line.step === step);
}

/**
 * Stops the engine under a pending promise of the owner's, then checks that it settled with
 * EngineUnavailableError naming the engine and that the process ended by itself with code 0.
 * Resolves with how long after the stop began the promise settled.
 */
async function stopEngineUnder(owner: WatchedProcess, engine: PrivateEngine, what: string): Promise<number> {
  const stoppedAt = performance.now();
  await engine.stop();
  await owner.waitForOutput(`${what} settles`, (out) => lastStep(out, 'settled') !== undefined, 30_000);
  const settledMs = performance.now() - stoppedAt;
  const exit = await owner.waitForExit(30_000);
  const settled = lastStep(owner.stdout, 'settled')!;
  assert.equal(settled.name, 'EngineUnavailableError', `${what} settled with ${JSON.stringify(settled)}`);
  assert.match(String(settled.message), new RegExp(`No Docker engine answers at ${engine.host}`));
  assert.deepEqual(exit, { code: 0, signal: null }, `the process exits by itself with code 0\n${owner.stderr}`);
  return settledMs;
}

/** An image whose containers take ten minutes to say they are ready (a warm-up hook that sleeps). */
async function buildSlowImage(engine: PrivateEngine): Promise<void> {
  const name = `dps-spec-slow-image-${process.pid}`;
  const steps = [
    ['create', '--name', name, '--label', LABEL, DEFAULT_IMAGE, 'true'],
    ['cp', SLOW_WARMUP, `${name}:/etc/docker-python-sandbox`],
    ['commit', name, SLOW_IMAGE],
    ['rm', '--force', name],
  ];
  for (const args of steps) {
    const result = await engine.docker(args);
    assert.equal(result.exitCode, 0, `docker ${args.join(' ')}: ${result.stderr}`);
  }
}

test('a pending run() rejects with EngineUnavailableError when the engine stops, and its process then exits 0', async (t) => {
  const engine = await startPrivateEngine(t);
  const owner = watchedProcess(process.execPath, ['--import', 'tsx', OWNER, 'run'], { env: { ...process.env, DPS_FIXTURE_DOCKER_HOST: engine.host } });
  t.after(() => owner.kill());
  await owner.waitForOutput('the program is running', (out) => lastStep(out, 'running') !== undefined, 60_000);
  const settledMs = await stopEngineUnder(owner, engine, 'run()');
  t.diagnostic(`run() rejected ${settledMs.toFixed(0)} ms after the engine was stopped (stop() included)`);
});

test('a pending initialize() rejects with EngineUnavailableError when the engine stops, and its process then exits 0', async (t) => {
  const engine = await startPrivateEngine(t);
  await buildSlowImage(engine);
  engine.onTeardown(() => engine.docker(['rmi', SLOW_IMAGE]));
  const owner = watchedProcess(process.execPath, ['--import', 'tsx', OWNER, 'initialize'], {
    env: { ...process.env, DPS_FIXTURE_DOCKER_HOST: engine.host, DPS_FIXTURE_IMAGE: SLOW_IMAGE },
  });
  t.after(() => owner.kill());
  await owner.waitForOutput('the Sandbox is created', (out) => lastStep(out, 'created') !== undefined, 60_000);
  const sandbox = String(lastStep(owner.stdout, 'created')!.sandbox);
  // initialize() is pending once its container runs (it then waits ten minutes for readiness).
  const deadline = performance.now() + 60_000;
  for (;;) {
    const filters = ['--filter', `label=${SANDBOX_LABEL}=${sandbox}`, '--filter', `label=${ROLE_LABEL}=runner`, '--filter', 'status=running'];
    if ((await engine.docker(['ps', '--quiet', ...filters])).stdout.trim() !== '') break;
    assert.ok(performance.now() < deadline, `no container of the Sandbox ran within 60 s\n${owner.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(lastStep(owner.stdout, 'settled'), undefined, 'initialize() is still pending');
  const settledMs = await stopEngineUnder(owner, engine, 'initialize()');
  t.diagnostic(`initialize() rejected ${settledMs.toFixed(0)} ms after the engine was stopped (stop() included)`);
});

test('the CLI whose engine stops mid-run exits 125 naming the engine, never 0 and silent', async (t) => {
  const engine = await startPrivateEngine(t);
  const code = 'import time\nprint("started", flush=True)\ntime.sleep(100)';
  const cli = watchedProcess(process.execPath, ['--import', 'tsx', CLI, 'run', '-', '--docker-host', engine.host, '--timeout', '120000'], { input: code });
  t.after(() => cli.kill());
  await cli.waitForOutput('the program has started (its output is streamed)', (out) => out.includes('started\n'), 60_000);
  await engine.stop();
  const exit = await cli.waitForExit(30_000);
  assert.deepEqual(exit, { code: 125, signal: null }, `the CLI exited with ${JSON.stringify(exit)}\n${cli.stderr}`);
  assert.match(cli.stderr, /EngineUnavailableError/);
  assert.ok(cli.stderr.includes(engine.host), `stderr names the engine: ${cli.stderr}`);
});
