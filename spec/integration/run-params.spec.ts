/**
 * What a run can be given (stdin, argv, env, streaming callbacks, an AbortSignal) and what its
 * result says (status, signal, timings), on the real engine.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AbortError, RunParamsError } from '../../lib/index.js';
import { quietStats, runnerContainers, runtimeMissing, startSandbox } from '../helpers/engine.js';

test('stdin: a 1 MB string reaches the program whole; a Buffer too', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2 });
  const big = 'x'.repeat(1024 * 1024 - 3) + 'end';
  const echo = 'import sys, hashlib\ndata = sys.stdin.buffer.read()\nprint(len(data), hashlib.sha256(data).hexdigest())';
  const [text, bytes] = await Promise.all([sandbox.run({ code: echo, stdin: big }), sandbox.run({ code: echo, stdin: Buffer.from([0, 255, 10, 13]) })]);
  assert.equal(text.stdout, `${big.length} ${createHash('sha256').update(big).digest('hex')}\n`);
  assert.equal(
    bytes.stdout,
    `4 ${createHash('sha256')
      .update(Buffer.from([0, 255, 10, 13]))
      .digest('hex')}\n`,
  );
});

test('argv and env are passed explicitly; nothing of the host comes along', async (t) => {
  process.env.DPS_SPEC_HOST_ONLY = 'host-only';
  t.after(() => delete process.env.DPS_SPEC_HOST_ONLY);
  const sandbox = await startSandbox(t);
  const result = await sandbox.run({
    code: 'import sys, os, json\nprint(json.dumps([sys.argv[1:], os.environ.get("MODE"), os.environ.get("DPS_SPEC_HOST_ONLY"), os.environ["HOME"]]))',
    argv: ['--flag', 'two words', '$(id)'],
    env: { MODE: 'grading' },
  });
  assert.deepEqual(JSON.parse(result.stdout), [['--flag', 'two words', '$(id)'], 'grading', null, '/sandbox']);
});

test('onStdout and onStderr are called while the program runs, with the same text as the result', async (t) => {
  const sandbox = await startSandbox(t);
  const seen: Array<[string, string, number]> = [];
  const started = performance.now();
  const result = await sandbox.run({
    code: 'import sys, time\nprint("first")\nprint("oops", file=sys.stderr)\ntime.sleep(1.5)\nprint("second")',
    onStdout: (chunk) => seen.push(['out', chunk, performance.now() - started]),
    onStderr: (chunk) => seen.push(['err', chunk, performance.now() - started]),
  });
  const ended = performance.now() - started;
  const out = seen
    .filter(([stream]) => stream === 'out')
    .map(([, chunk]) => chunk)
    .join('');
  const err = seen
    .filter(([stream]) => stream === 'err')
    .map(([, chunk]) => chunk)
    .join('');
  assert.equal(out, result.stdout);
  assert.equal(err, result.stderr);
  assert.equal(result.stdout, 'first\nsecond\n');
  const first = seen.find(([, chunk]) => chunk.includes('first'))!;
  assert.ok(ended - first[2] > 1_000, `"first" arrived ${first[2].toFixed(0)} ms in, the run ended at ${ended.toFixed(0)} ms`);
});

test('an AbortSignal aborted before the run rejects with AbortError and uses no container', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2 });
  const controller = new AbortController();
  controller.abort('changed my mind');
  await assert.rejects(sandbox.run({ code: 'print(1)', signal: controller.signal }), (error: unknown) => {
    assert.ok(error instanceof AbortError);
    assert.equal(error.code, 'ERR_ABORTED');
    assert.equal(error.cause, 'changed my mind');
    return true;
  });
  assert.deepEqual(sandbox.stats(), quietStats(2));
});

test('aborting a queued run removes it from the queue; the others carry on', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1 });
  const busy = sandbox.run('import time\ntime.sleep(1)\nprint("done")');
  const controller = new AbortController();
  const queued = sandbox.run({ code: 'print("never")', signal: controller.signal });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(sandbox.stats().queued, 1);
  controller.abort(new Error('not needed'));
  await assert.rejects(queued, (error: unknown) => error instanceof AbortError && (error.cause as Error).message === 'not needed');
  assert.equal(sandbox.stats().queued, 0);
  assert.equal((await busy).stdout, 'done\n');
});

test('aborting mid-run kills the container at once; the pool replaces it', async (t) => {
  const sandbox = await startSandbox(t, { timeoutMs: 30_000 });
  const controller = new AbortController();
  const started = performance.now();
  const running = sandbox.run({
    code: 'import time\nprint("started", flush=True)\ntime.sleep(60)',
    signal: controller.signal,
    onStdout: () => controller.abort('stop now'),
  });
  await assert.rejects(running, (error: unknown) => error instanceof AbortError && error.cause === 'stop now' && /while it ran/.test(error.message));
  assert.ok(performance.now() - started < 5_000);
  await sandbox.whenWarm();
  assert.equal((await sandbox.run('print("next")')).stdout, 'next\n');
});

test('status, signal and timings say how each run ended', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 3, timeoutMs: 1_500, maxOutputBytes: 4096 });
  const [ok, error, killed, timeout, oom, flood] = await Promise.all([
    sandbox.run('print("fine")'),
    sandbox.run('raise SystemExit(2)'),
    sandbox.run('import os, signal\nos.kill(os.getpid(), signal.SIGTERM)'),
    sandbox.run('while True: pass'),
    sandbox.run('x = bytearray(400 * 1024 * 1024)'),
    sandbox.run('while True: print("y" * 100)'),
  ]);
  assert.deepEqual([ok.status, ok.exitCode, ok.signal], ['ok', 0, null]);
  assert.deepEqual([error.status, error.exitCode, error.signal], ['error', 2, null]);
  assert.deepEqual([killed.status, killed.exitCode, killed.signal], ['error', 143, 'SIGTERM']);
  assert.deepEqual([timeout.status, timeout.exitCode, timeout.timedOut], ['timeout', null, true]);
  assert.deepEqual([oom.status, oom.signal, oom.oomKilled], ['oom', 'SIGKILL', true]);
  assert.deepEqual([flood.status, flood.truncated], ['output_limit', true]);
  for (const result of [ok, error, killed, timeout, oom, flood]) {
    assert.ok(result.timings.runMs > 0 && result.timings.queuedMs >= 0);
    assert.equal(result.timings.runMs, result.durationMs);
  }
  // Six runs on three containers: the later three waited for replacements.
  assert.ok([ok, error, killed, timeout, oom, flood].some((result) => result.timings.queuedMs > 50));
});

test('bad run parameters reject with RunParamsError naming the parameter', async (t) => {
  const sandbox = await startSandbox(t);
  await assert.rejects(
    sandbox.run({ code: '', env: { 'NOT OK': 'x' } }),
    (error: unknown) => error instanceof RunParamsError && /env\.NOT OK: is not a variable name/.test(error.message),
  );
  await assert.rejects(sandbox.run({ code: '', stdin: 42 } as never), /stdin: must be a string or a Buffer/);
});

test('usage reports the CPU time and peak memory of the program, measured in its container', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2, memoryLimitMb: 100 });
  const [busy, idle] = await Promise.all([
    sandbox.run(
      'import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\nblob = bytearray(40 * 1024 * 1024)\nblob[::4096] = b"x" * len(blob[::4096])',
    ),
    sandbox.run('print("hi")'),
  ]);
  assert.ok(busy.usage!.cpuMs >= 300, `cpuMs ${busy.usage!.cpuMs}`);
  assert.ok(busy.usage!.peakMemoryBytes >= 40 * 1024 * 1024, `peak ${busy.usage!.peakMemoryBytes}`);
  assert.ok(idle.usage!.cpuMs < 300);
  assert.ok(idle.usage!.peakMemoryBytes < 40 * 1024 * 1024);
  const killed = await sandbox.run({ code: 'while True: pass', timeoutMs: 500 });
  assert.equal(killed.usage, null);
});

const ALLOCATE_120_MB = 'blob = bytearray(120 * 1024 * 1024)\nblob[::4096] = b"x" * len(blob[::4096])\nprint("allocated")';
const COUNT_FOR_ONE_SECOND = 'import time\nend = time.monotonic() + 1\nloops = 0\nwhile time.monotonic() < end: loops += 1\nprint(loops)';
const BUSY_ONE_SECOND = 'import time\nend = time.monotonic() + 1\nwhile time.monotonic() < end: pass';
const UPDATE_FAILS = fileURLToPath(new URL('../fixtures/docker/update-fails', import.meta.url));

test('memoryLimitMb and cpus for one run: the warm container is updated before the program starts', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 2, memoryLimitMb: 50 });
  const [small, large] = await Promise.all([sandbox.run(ALLOCATE_120_MB), sandbox.run({ code: ALLOCATE_120_MB, memoryLimitMb: 200 })]);
  assert.equal(small.status, 'oom');
  assert.equal(large.stdout, 'allocated\n');
  const throttled = await sandbox.run({ code: BUSY_ONE_SECOND, cpus: 0.2 });
  assert.ok(throttled.usage!.cpuMs < 0.5 * throttled.timings.runMs, `${throttled.usage!.cpuMs} ms of CPU in ${throttled.timings.runMs} ms`);
});

test('under gVisor, a run with its own memoryLimitMb and cpus gets a container started with them; the pool keeps its own', async (t) => {
  const missing = await runtimeMissing('runsc');
  if (missing !== undefined) return t.skip(`runtime runsc is not usable here: ${missing}`);
  const sandbox = await startSandbox(t, { runtime: 'runsc', poolSize: 1, memoryLimitMb: 50 });
  const [warm] = await runnerContainers(sandbox.id);
  const large = await sandbox.run({ code: ALLOCATE_120_MB, memoryLimitMb: 200, cpus: 0.5 });
  assert.equal(large.stdout, 'allocated\n', `${large.status}: ${large.stderr}`);
  // The warm container was only held meanwhile: it is still the pool's, with the pool's limits.
  assert.deepEqual(await runnerContainers(sandbox.id), [warm]);
  // gVisor's own CPU accounting does not show the host's throttling: compare the work done in a
  // second of wall time instead, side by side.
  const full = await sandbox.run(COUNT_FOR_ONE_SECOND);
  const throttled = await sandbox.run({ code: COUNT_FOR_ONE_SECOND, cpus: 0.2 });
  const ratio = Number(throttled.stdout) / Number(full.stdout);
  assert.ok(
    ratio < 0.6,
    `with cpus 0.2 the program did ${(ratio * 100).toFixed(0)}% of the work it did with 1 (${throttled.stdout.trim()} vs ${full.stdout.trim()} loops)`,
  );
  const small = await sandbox.run(ALLOCATE_120_MB);
  assert.equal(small.status, 'oom');
});

test('where `docker update` fails, a run with its own limits gets a container started with them', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1, memoryLimitMb: 50, dockerPath: UPDATE_FAILS });
  const large = await sandbox.run({ code: ALLOCATE_120_MB, memoryLimitMb: 200 });
  assert.equal(large.stdout, 'allocated\n', `${large.status}: ${large.stderr}`);
  const small = await sandbox.run(ALLOCATE_120_MB);
  assert.equal(small.status, 'oom');
});

test('a per-run limit above the Sandbox maximum rejects, naming the maximum, and uses no container', async (t) => {
  const sandbox = await startSandbox(t, { maxMemoryLimitMb: 100, maxCpus: 1 });
  await assert.rejects(
    sandbox.run({ code: 'print(1)', memoryLimitMb: 200 }),
    (error: unknown) => error instanceof RunParamsError && /memoryLimitMb: must be at most 100, the Sandbox's maxMemoryLimitMb/.test(error.message),
  );
  await assert.rejects(sandbox.run({ code: 'print(1)', cpus: 2 }), /cpus: must be at most 1, the Sandbox's maxCpus/);
  assert.deepEqual(sandbox.stats(), quietStats(1));
});

test('files are written into the work dir before the program starts, nested dirs included', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run({
    code: 'import os\nprint(open("data/in.csv").read())\nprint(open("bin.dat", "rb").read().hex())\nprint(sorted(os.listdir(".")))',
    files: { 'data/in.csv': 'a,b\n1,2', 'bin.dat': Buffer.from([0, 1, 254]) },
  });
  assert.equal(result.stdout, "a,b\n1,2\n0001fe\n['bin.dat', 'data']\n", result.stderr);
});

test('files escaping the work dir, or over the size cap, reject and use no container', async (t) => {
  const sandbox = await startSandbox(t, { maxFilesBytes: 1024 });
  await assert.rejects(sandbox.run({ code: '', files: { '../../etc/cron.d/x': 'boom' } }), /files\.\.\.\/\.\.\/etc\/cron\.d\/x: must stay inside the work dir/);
  await assert.rejects(
    sandbox.run({ code: '', files: { 'big.txt': 'x'.repeat(2048) } }),
    /files: total 2048 bytes, more than the Sandbox's maxFilesBytes \(1024\)/,
  );
  assert.deepEqual(sandbox.stats(), quietStats(1));
});
