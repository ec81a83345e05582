/**
 * Runs on an engine that does not see this host's files (a private dockerd in its own mount
 * namespace, with its own /tmp: like an engine on another machine): 'auto' sends each run's code
 * and inputs on the container's stdin, and everything works as on the mount path; forced 'mount'
 * fails initialize() saying why; the shared engine keeps the mount path. And a run whose owner
 * vanishes ends by itself: at once when the owner's process dies, at the loader's deadline when
 * the owner hangs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { ROLE_LABEL, SANDBOX_LABEL } from '../../lib/docker/labels.js';
import { ContainerStartError, Sandbox } from '../../lib/index.js';
import { LOADER_DEADLINE_GRACE_MS } from '../../lib/runner/execution.js';
import { runnerContainers, sandboxTempDirs, startSandbox } from '../helpers/engine.js';
import { startPrivateEngine, type PrivateEngine } from '../helpers/private-engine.js';
import { jsonLines, watchedProcess, type WatchedProcess } from '../helpers/watched-process.js';

const OWNER = fileURLToPath(new URL('../fixtures/spinning-owner.ts', import.meta.url));

/** A program that uses every input, and fails with a traceback at the end. */
const EVERYTHING = [
  'import hashlib, os, sys, helper',
  'data = sys.stdin.buffer.read()',
  'print(__file__, sys.argv, os.environ["MODE"], len(data), hashlib.sha256(data).hexdigest())',
  'print(open("data/in.csv").read().strip(), len(open("deep/er/blob.bin", "rb").read()), helper.ANSWER)',
  'os.makedirs("out", exist_ok=True)',
  'open("out/result.txt", "w").write("done")',
  'def fail():',
  '    raise ValueError("boom")',
  'fail()',
].join('\n');

interface Mounts {
  mounts: { Type: string; Destination: string; Source: string }[];
  tmpfs: Record<string, string> | null;
}

async function mountsOf(
  docker: (args: readonly string[]) => Promise<{ stdout: string; stderr: string; exitCode: number }>,
  container: string,
): Promise<Mounts> {
  const inspected = await docker(['inspect', '--format', '{"mounts":{{json .Mounts}},"tmpfs":{{json .HostConfig.Tmpfs}}}', container]);
  assert.equal(inspected.exitCode, 0, inspected.stderr);
  return JSON.parse(inspected.stdout) as Mounts;
}

const sharedDocker = async (args: readonly string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> => {
  const result = await execa('docker', args, { reject: false, stdin: 'ignore' });
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
};

async function privateRunners(engine: PrivateEngine, sandboxId: string): Promise<string[]> {
  const listed = await engine.docker([
    'ps',
    '--all',
    '--format',
    '{{.Names}}',
    '--filter',
    `label=${SANDBOX_LABEL}=${sandboxId}`,
    '--filter',
    `label=${ROLE_LABEL}=runner`,
  ]);
  assert.equal(listed.exitCode, 0, listed.stderr);
  return listed.stdout.split('\n').filter(Boolean);
}

function everythingParams(stdin: Buffer): Parameters<Sandbox['run']>[0] {
  return {
    code: EVERYTHING,
    stdin,
    argv: ['--flag', 'two words'],
    env: { MODE: 'grading' },
    files: { 'data/in.csv': 'a,b\n1,2\n', 'deep/er/blob.bin': Buffer.alloc(300_000, 7), 'helper.py': 'ANSWER = 42\n' },
    collect: ['out/**'],
  };
}

test("with no shared filesystem, 'auto' sends every input on stdin: the container has no bind mount, and a run reads exactly as on the mount path", async (t) => {
  // The same run on the shared engine, on the mount path, to compare with.
  const shared = await startSandbox(t, { poolSize: 1 });
  const engine = await startPrivateEngine(t, { isolatedTmp: true });
  const sandbox = new Sandbox({ dockerHost: engine.host, poolSize: 1 });
  engine.onTeardown(() => sandbox.cleanup());
  await sandbox.initialize();

  const [warm] = await privateRunners(engine, sandbox.id);
  assert.ok(warm !== undefined);
  const { mounts, tmpfs } = await mountsOf((args) => engine.docker(args), warm);
  assert.deepEqual(
    mounts.filter((mount) => mount.Type === 'bind'),
    [],
    'no bind mount: the engine could not see it',
  );
  assert.match(tmpfs?.['/sandbox-in'] ?? '', /^rw,nosuid,nodev,noexec,size=\d+m,uid=1000,gid=1000,mode=0700$/);

  // Some MB of stdin, beyond any pipe buffer.
  const stdin = createHash('sha512').update('seed').digest();
  const big = Buffer.concat(Array.from({ length: 100_000 }, () => stdin)); // 6.4 MB
  const [viaStdin, viaMount] = await Promise.all([sandbox.run(everythingParams(big)), shared.run(everythingParams(big))]);
  const digest = createHash('sha256').update(big).digest('hex');
  assert.equal(
    viaStdin.stdout,
    `/sandbox-in/main.py ['/sandbox-in/main.py', '--flag', 'two words'] grading ${big.length} ${digest}\na,b\n1,2 300000 42\n`,
    viaStdin.stderr,
  );
  assert.deepEqual(viaStdin.files, { 'out/result.txt': Buffer.from('done') });
  assert.equal(viaStdin.exitCode, 1);
  assert.match(viaStdin.stderr, /File "\/sandbox-in\/main\.py", line 9, in <module>\n {4}fail\(\)\n {2}File "\/sandbox-in\/main\.py", line 8, in fail/);
  for (const key of ['stdout', 'stderr', 'exitCode', 'status', 'files', 'skippedFiles'] as const) {
    assert.deepEqual(viaStdin[key], viaMount[key], `${key}: the same on both paths`);
  }

  // A plain run, and a run with nothing but stdin, on a replacement container.
  assert.equal((await sandbox.run('print("hello")')).stdout, 'hello\n');
  assert.equal((await sandbox.run({ code: 'import sys; print(sys.stdin.read()[::-1])', stdin: 'abc' })).stdout, 'cba\n');
});

test("on the shared engine 'auto' keeps the mount path: a read-only bind mount, with no probe file left in it", async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 1 });
  const [warm] = await runnerContainers(sandbox.id);
  assert.ok(warm !== undefined);
  const { mounts, tmpfs } = await mountsOf(sharedDocker, warm);
  const input = mounts.find((mount) => mount.Destination === '/sandbox-in');
  assert.equal(input?.Type, 'bind');
  assert.equal((input as { RW?: boolean }).RW, false);
  assert.equal(tmpfs?.['/sandbox-in'], undefined);
  assert.deepEqual(await readdir(input.Source), [], 'the probe file is removed once the loader saw it');
  assert.equal((await sandbox.run({ code: 'print(open(0).read())', stdin: 'via the mount' })).stdout, 'via the mount\n');
});

test("forced 'mount' on an engine that does not see this host's files fails initialize() saying so, and leaves nothing behind", async (t) => {
  const engine = await startPrivateEngine(t, { isolatedTmp: true });
  const dirsBefore = await sandboxTempDirs();
  const sandbox = new Sandbox({ dockerHost: engine.host, poolSize: 2, inputTransfer: 'mount' });
  engine.onTeardown(() => sandbox.cleanup());
  await assert.rejects(sandbox.initialize(), (error: unknown) => {
    assert.ok(error instanceof ContainerStartError, String(error));
    assert.match(error.message, new RegExp(`The Docker engine at ${engine.host} does not see this host's files \\(.*bind source path does not exist`));
    assert.match(error.message, /Use inputTransfer: 'auto' \(the default\) or 'stdin'/);
    return true;
  });
  const left = await engine.docker(['ps', '--all', '--quiet', '--filter', `label=${SANDBOX_LABEL}=${sandbox.id}`]);
  assert.equal(left.stdout.trim(), '', 'no container left on the engine');
  assert.deepEqual(await sandboxTempDirs(), dirsBefore, 'no temp dir left on this host');
});

/** Starts the owner fixture on the engine; resolves once its endless program runs. */
async function startOwner(t: TestContext, engine: PrivateEngine, timeoutMs: number): Promise<{ owner: WatchedProcess; container: string }> {
  const owner = watchedProcess(process.execPath, ['--import', 'tsx', OWNER], {
    env: { ...process.env, DPS_FIXTURE_DOCKER_HOST: engine.host, DPS_FIXTURE_TIMEOUT_MS: String(timeoutMs) },
  });
  t.after(() => {
    owner.kill('SIGKILL');
    return owner.exited;
  });
  await owner.waitForOutput('the owner runs its endless program', (stdout) => jsonLines(stdout).length > 0, 60_000);
  const sandboxId = String(jsonLines(owner.stdout)[0]?.sandbox);
  const [container] = await privateRunners(engine, sandboxId);
  assert.ok(container !== undefined, 'the running container');
  return { owner, container };
}

/** Resolves with the container's exit code once it has exited and the engine removed it (--rm); fails after ms. */
async function goneWithin(engine: PrivateEngine, container: string, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  const waited = await engine.docker(['wait', container], ms);
  assert.equal(waited.exitCode, 0, `docker wait ${container}: ${waited.stderr}`);
  // The engine removes it right after it exited: look until it is gone (bounded).
  for (;;) {
    const listed = await engine.docker(['ps', '--all', '--quiet', '--filter', `name=^${container}$`]);
    if (listed.stdout.trim() === '') return Number(waited.stdout.trim());
    assert.ok(performance.now() < deadline, `${container} exited but was not removed within ${ms} ms`);
    await delay(100);
  }
}

test('a container whose owner dies mid-run ends at once, with no reaper: its loader sees its stdin close', async (t) => {
  const engine = await startPrivateEngine(t, { isolatedTmp: true });
  const { owner, container } = await startOwner(t, engine, 600_000);
  const killed = performance.now();
  owner.kill('SIGKILL');
  const exitCode = await goneWithin(engine, container, 10_000);
  t.diagnostic(`the container exited ${exitCode} and was removed ${(performance.now() - killed).toFixed(0)} ms after its owner was killed`);
});

test("a container whose owner hangs (its stdin stays open) ends at the loader's deadline: the run's time limit and a grace", async (t) => {
  const engine = await startPrivateEngine(t, { isolatedTmp: true });
  const TIME_LIMIT_MS = 2_000;
  const { owner, container } = await startOwner(t, engine, TIME_LIMIT_MS);
  // The owner, and so its timer, stops: like a host that vanished without closing the connection.
  owner.kill('SIGSTOP');
  const stopped = performance.now();
  const exitCode = await goneWithin(engine, container, TIME_LIMIT_MS + LOADER_DEADLINE_GRACE_MS + 10_000);
  const took = performance.now() - stopped;
  t.diagnostic(`the container exited ${exitCode} and was removed ${took.toFixed(0)} ms after its owner stopped`);
  assert.equal(exitCode, 137);
  assert.ok(took > LOADER_DEADLINE_GRACE_MS, `not before the deadline (${took.toFixed(0)} ms)`);
});
