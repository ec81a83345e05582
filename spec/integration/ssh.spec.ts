/**
 * Sandboxes on an ssh:// engine, against a real sshd of the spec's own on 127.0.0.1 (its own config,
 * host keys, authorized key and port: spec/helpers/sshd.ts) that forwards to the shared engine's
 * socket. The library starts `ssh` as it would for a user; the spec's PATH finds a wrapper that
 * adds the spec's client config, so ~/.ssh is never read or written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { execa } from 'execa';
import { EngineUnavailableError, removeOrphans, Sandbox, type SandboxOptions } from '../../lib/index.js';
import { labelledContainers, sandboxTempDirs } from '../helpers/engine.js';
import { atEnd, isRunning, sshdMissing, startSshd, tunnelProcesses, useSshdClient, type LocalSshd } from '../helpers/sshd.js';
import { startPrivateEngine } from '../helpers/private-engine.js';
import { watchedProcess } from '../helpers/watched-process.js';

const OWNER = fileURLToPath(new URL('../fixtures/ssh-owner.ts', import.meta.url));
const missing = sshdMissing();
const skip = missing === undefined ? false : `no sshd to test with: ${missing}`;
/** How long a SIGKILLed owner's ssh process may outlive it (the kernel's death signal ends it at once). */
const ORPHAN_TUNNEL_BOUND_MS = 2_000;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Resolves once `condition()` holds; fails after ms. Each check looks at /proc: no sleep stands in for an event. */
async function waitUntil(what: string, ms: number, condition: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

async function sshSandbox(t: TestContext, sshd: LocalSshd, options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = new Sandbox({ dockerHost: sshd.address(), ...options });
  atEnd(t, () => sandbox.cleanup());
  await sandbox.initialize();
  return sandbox;
}

test(
  'a Sandbox over ssh:// runs programs (stdin, argv, env, files, collect) through ONE ssh connection; cleanup() leaves no ssh process or temp dir',
  { skip },
  async (t) => {
    const sshd = await startSshd(t);
    useSshdClient(t, sshd);
    const dirsBefore = await sandboxTempDirs();
    const sandbox = await sshSandbox(t, sshd, { poolSize: 2 });
    const tunnels = await tunnelProcesses(process.pid);
    assert.equal(tunnels.length, 1, 'one ssh process for the engine');

    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        sandbox.run({
          code: 'import os, sys\nprint(sys.argv[1], os.environ["N"], sys.stdin.read())',
          argv: [`run${index}`],
          env: { N: String(index) },
          stdin: 'in',
        }),
      ),
    );
    runs.forEach((result, index) => assert.equal(result.stdout, `run${index} ${index} in\n`, JSON.stringify(result)));
    const collected = await sandbox.run({
      code: 'data = open("in.txt").read()\nopen("out/result.txt", "w").write(data.upper())\nprint(len(data))',
      files: { 'in.txt': 'hello over ssh', 'out/.keep': '' },
      collect: ['out/*.txt'],
    });
    assert.equal(collected.stdout, '14\n', JSON.stringify(collected));
    assert.equal(collected.files['out/result.txt']?.toString(), 'HELLO OVER SSH');
    assert.equal((await sandbox.run('print(6 * 7)')).stdout, '42\n');

    assert.equal(sshd.acceptedConnections(), 1, `sshd accepted one connection for 8 runs and the pool's docker calls:\n${sshd.log()}`);
    assert.deepEqual(
      (await tunnelProcesses(process.pid)).map((tunnel) => tunnel.pid),
      tunnels.map((tunnel) => tunnel.pid),
    );

    await sandbox.cleanup();
    assert.deepEqual(await tunnelProcesses(process.pid), [], 'no ssh process after cleanup()');
    assert.equal(await exists(dirname(tunnels[0]!.socket)), false, 'the socket dir is removed');
    assert.deepEqual(await sandboxTempDirs(), dirsBefore);
    assert.deepEqual(await labelledContainers(sandbox.id), []);
  },
);

test(
  "an engine that cannot see this host's files, over ssh:// with its socket path in the address: code, stdin and files travel in-band",
  { skip },
  async (t) => {
    const sshd = await startSshd(t);
    useSshdClient(t, sshd);
    const engine = await startPrivateEngine(t, { isolatedTmp: true });
    const address = sshd.address(engine.host.slice('unix://'.length));
    const sandbox = new Sandbox({ dockerHost: address, poolSize: 1 });
    atEnd(t, () => sandbox.cleanup());
    await sandbox.initialize();
    const result = await sandbox.run({
      code: 'import sys\nprint(open("data.txt").read(), sys.stdin.read(), sys.argv[1])',
      stdin: 'from stdin',
      files: { 'data.txt': 'from a file' },
      argv: ['from argv'],
    });
    assert.equal(result.stdout, 'from a file from stdin from argv\n', JSON.stringify(result));
    assert.equal(sshd.acceptedConnections(), 1);
    await sandbox.cleanup();
    assert.deepEqual(await tunnelProcesses(process.pid), []);
  },
);

test(
  'the ssh process dies: runs fail with EngineUnavailableError naming the ssh:// address, or wait, until it is back; then they work',
  { skip },
  async (t) => {
    const sshd = await startSshd(t);
    useSshdClient(t, sshd);
    const sandbox = await sshSandbox(t, sshd, { poolSize: 1 });
    assert.equal((await sandbox.run('print(1)')).stdout, '1\n');
    const [tunnel] = await tunnelProcesses(process.pid);
    assert.ok(tunnel !== undefined);
    process.kill(tunnel.pid, 'SIGKILL');

    const outcomes: string[] = [];
    const deadline = performance.now() + 30_000;
    for (;;) {
      assert.ok(performance.now() < deadline, `no run worked within 30 s of the kill: ${outcomes.join(', ')}`);
      try {
        const result = await sandbox.run('print("back")');
        assert.equal(result.stdout, 'back\n', JSON.stringify(result));
        outcomes.push('ok');
        break;
      } catch (error) {
        assert.ok(error instanceof EngineUnavailableError, `not an EngineUnavailableError: ${String(error)}`);
        assert.ok(error.message.includes(sshd.address()), `the message names the ssh address: ${error.message}`);
        assert.ok(!error.message.includes(tunnel.socket), `the message does not name the local socket: ${error.message}`);
        outcomes.push('EngineUnavailableError');
      }
    }
    t.diagnostic(`runs after the kill: ${outcomes.join(', ')}`);
    for (let index = 0; index < 3; index++) assert.equal((await sandbox.run(`print(${index})`)).stdout, `${index}\n`);
    const after = await tunnelProcesses(process.pid);
    assert.equal(after.length, 1);
    assert.notEqual(after[0]!.pid, tunnel.pid, 'a new ssh process');
    assert.equal(after[0]!.socket, tunnel.socket, 'on the same local socket');
    assert.equal(sshd.acceptedConnections(), 2, 'one connection, then one more after the kill');
    await sandbox.cleanup();
    assert.deepEqual(await tunnelProcesses(process.pid), []);
  },
);

test(
  'the remote host goes away: runs fail with EngineUnavailableError naming the ssh:// address and what ssh said; once it is back, runs work again',
  { skip },
  async (t) => {
    const sshd = await startSshd(t);
    useSshdClient(t, sshd);
    const sandbox = await sshSandbox(t, sshd, { poolSize: 1, queueTimeoutMs: 1_000 });
    assert.equal((await sandbox.run('print(1)')).stdout, '1\n');
    const [tunnel] = await tunnelProcesses(process.pid);
    assert.ok(tunnel !== undefined);

    await sshd.takeDown();
    await waitUntil('the ssh process sees its connection drop', 10_000, async () => !(await isRunning(tunnel.pid)));
    await assert.rejects(sandbox.run('print(2)'), (error: unknown) => {
      assert.ok(error instanceof EngineUnavailableError, `not an EngineUnavailableError: ${String(error)}`);
      assert.ok(error.message.includes(sshd.address()), `the message names the ssh address: ${error.message}`);
      assert.match(error.message, /Connection refused/, 'and says what ssh said');
      assert.ok(!error.message.includes(tunnel.socket), `the message does not name the local socket: ${error.message}`);
      return true;
    });

    await sshd.bringUp();
    const back = performance.now();
    const outcomes: string[] = [];
    // The tunnel's restarts back off to 2 s at most, the pool's to 5 s.
    const deadline = performance.now() + 30_000;
    for (;;) {
      assert.ok(performance.now() < deadline, `no run worked within 30 s of sshd coming back: ${outcomes.join(', ')}`);
      try {
        assert.equal((await sandbox.run('print("back")')).stdout, 'back\n');
        break;
      } catch (error) {
        assert.ok(error instanceof EngineUnavailableError, `not an EngineUnavailableError: ${String(error)}`);
        outcomes.push('EngineUnavailableError');
      }
    }
    t.diagnostic(`runs after sshd came back: ${[...outcomes, 'ok'].join(', ')}, the first that worked ${(performance.now() - back).toFixed(0)} ms after`);
    assert.equal((await sandbox.run('print(3)')).stdout, '3\n');
    assert.equal(sshd.acceptedConnections(), 2, 'one connection before, one after');
    assert.equal((await tunnelProcesses(process.pid)).length, 1);
  },
);

test(`a SIGKILLed owner's ssh process ends within ${ORPHAN_TUNNEL_BOUND_MS} ms`, { skip }, async (t) => {
  const sshd = await startSshd(t);
  const owner = watchedProcess(process.execPath, ['--import', 'tsx', OWNER], { env: { ...sshd.env, DPS_FIXTURE_DOCKER_HOST: sshd.address() } });
  atEnd(t, () => owner.kill('SIGKILL'));
  await owner.waitForOutput('the owner is ready', (stdout) => stdout.includes('"sandbox"'), 60_000);
  const { sandbox } = JSON.parse(owner.stdout.trim()) as { sandbox: string };
  atEnd(t, async () => {
    // What the dead owner left on the shared engine: its containers end on their own; reaping takes the rest.
    await removeOrphans();
    assert.deepEqual(await labelledContainers(sandbox), []);
  });
  const tunnels = await tunnelProcesses(owner.pid);
  assert.equal(tunnels.length, 1, "the owner's one ssh process");
  atEnd(t, () => rm(dirname(tunnels[0]!.socket), { recursive: true, force: true }));

  owner.kill('SIGKILL');
  await owner.waitForExit(10_000);
  const ms = await waitUntil("the dead owner's ssh process ends", ORPHAN_TUNNEL_BOUND_MS, async () => !(await isRunning(tunnels[0]!.pid)));
  t.diagnostic(`the ssh process ended ${ms.toFixed(0)} ms after its owner`);
});

test("reaping ends a dead owner's ssh tunnel that lived on (no death signal) and removes its temp dir", { skip }, async (t) => {
  const sshd = await startSshd(t);
  // A dead owner: a process that has exited. Its temp dir is named as the library names them.
  const gone = await execa('sh', ['-c', 'echo $$']);
  const dir = join(tmpdir(), `dps-${gone.stdout.trim()}-x-spec${String(process.pid % 100).padStart(2, '0')}`);
  await mkdir(dir, { mode: 0o700 });
  atEnd(t, () => rm(dir, { recursive: true, force: true }));
  const ssh = spawn(
    join(sshd.binDir, 'ssh'),
    ['-N', '-o', 'BatchMode=yes', '-L', `${join(dir, 'docker.sock')}:/var/run/docker.sock`, '-p', String(sshd.port), `${sshd.user}@127.0.0.1`],
    {
      stdio: 'ignore',
    },
  );
  atEnd(t, () => ssh.kill('SIGKILL'));
  await waitUntil('the leftover tunnel listens', 10_000, () => exists(join(dir, 'docker.sock')));
  const [leftover] = await tunnelProcesses(Number(gone.stdout.trim()));
  assert.ok(leftover !== undefined, 'the leftover tunnel is found by its owner');

  await removeOrphans();
  await waitUntil('the leftover ssh process ends', 5_000, async () => !(await isRunning(leftover.pid)));
  assert.equal(await exists(dir), false, 'its temp dir is removed');
});

test(
  'a context whose endpoint is ssh:// (with the socket path in the address) gets the same one connection; a missing context is named',
  { skip },
  async (t) => {
    const sshd = await startSshd(t);
    useSshdClient(t, sshd);
    const config = await mkdtemp(join(tmpdir(), 'dps-docker-config-'));
    atEnd(t, () => rm(config, { recursive: true, force: true }));
    const previous = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = config;
    atEnd(t, () => {
      if (previous === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = previous;
    });
    await execa('docker', ['context', 'create', 'dps-ssh-spec', '--docker', `host=${sshd.address('/var/run/docker.sock')}`], { stdin: 'ignore' });

    const sandbox = new Sandbox({ context: 'dps-ssh-spec' });
    atEnd(t, () => sandbox.cleanup());
    await sandbox.initialize();
    for (let index = 0; index < 3; index++) assert.equal((await sandbox.run(`print(${index} * 2)`)).stdout, `${index * 2}\n`);
    assert.equal((await tunnelProcesses(process.pid)).length, 1);
    assert.equal(sshd.acceptedConnections(), 1);
    await sandbox.cleanup();
    assert.deepEqual(await tunnelProcesses(process.pid), []);

    const nowhere = new Sandbox({ context: 'dps-no-such-context' });
    await assert.rejects(nowhere.initialize(), (error: unknown) => {
      assert.ok(error instanceof EngineUnavailableError, String(error));
      assert.match(error.message, /There is no Docker context "dps-no-such-context": `docker context ls` lists/);
      return true;
    });
  },
);

test(
  'initialize() fails with EngineUnavailableError naming the ssh:// address: no sshd there, or no engine socket at the path; nothing is left',
  { skip },
  async (t) => {
    const sshd = await startSshd(t);
    useSshdClient(t, sshd);
    const dirsBefore = await sandboxTempDirs();

    const wrongSocket = sshd.address('/var/run/no-engine-here.sock');
    const noEngine = new Sandbox({ dockerHost: wrongSocket });
    await assert.rejects(noEngine.initialize(), (error: unknown) => {
      assert.ok(error instanceof EngineUnavailableError, String(error));
      assert.ok(error.message.startsWith(`No Docker engine answers at ${wrongSocket}: the ssh connection is up`), error.message);
      assert.match(error.message, /no-engine-here\.sock/);
      return true;
    });

    const refused = `ssh://${sshd.user}@127.0.0.1:1`;
    const noSshd = new Sandbox({ dockerHost: refused });
    await assert.rejects(noSshd.initialize(), (error: unknown) => {
      assert.ok(error instanceof EngineUnavailableError, String(error));
      assert.ok(error.message.startsWith(`Could not keep an ssh connection to ${refused}: ssh exited with code 255`), error.message);
      assert.match(error.message, /Connection refused/);
      return true;
    });
    assert.deepEqual(await tunnelProcesses(process.pid), []);
    assert.deepEqual(await sandboxTempDirs(), dirsBefore);
  },
);
