/**
 * What is Podman's own (README "Podman"), on this machine's rootful Podman: how the binary is
 * recognised, what is refused, what containers look like from inside, its events, and reaping in
 * its store. Run by `npm run test:podman` (scripts/test-podman.sh), after setup-podman.sh; the
 * integration specs that make sense on Podman run there too, with DPS_TEST_DOCKER=podman.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { DockerEngine } from '../../lib/docker/engine.js';
import { parseProcessLimit, podmanProcessLimit, type RlimitPair } from '../../lib/docker/engine-flavour.js';
import { LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, OWNER_START_LABEL, ROLE_LABEL, SANDBOX_LABEL, createLabels } from '../../lib/docker/labels.js';
import { ContainerEvents } from '../../lib/runner/container-events.js';
import { limitsOf } from '../../lib/runner/container-fleet.js';
import { parseSandboxOptions } from '../../lib/options.js';
import { removeOrphans, Sandbox, SandboxOptionsError } from '../../lib/index.js';
import { eventually } from '../helpers/eventually.js';

const PODMAN = 'podman';
const podman = new DockerEngine({ binary: PODMAN, host: undefined });
const docker = new DockerEngine({ binary: 'docker', host: undefined });
const LIMITS = limitsOf(parseSandboxOptions({}));
const IMAGE = parseSandboxOptions({}).image;

/** What Podman's containers get as RLIMIT_NPROC, from this process's limit and pid_max, read here. */
function expectedNproc(): RlimitPair {
  const own = parseProcessLimit(readFileSync('/proc/self/limits', 'utf8'))!;
  return podmanProcessLimit(own, Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')));
}

async function podmanSandbox(t: test.TestContext, options: ConstructorParameters<typeof Sandbox>[0] = {}): Promise<Sandbox> {
  const sandbox = new Sandbox({ dockerPath: PODMAN, ...options });
  t.after(() => sandbox.cleanup());
  await sandbox.initialize();
  return sandbox;
}

test('open() finds that `podman` is Podman, and that `docker` is Docker', async () => {
  await podman.open();
  assert.equal(podman.flavour.kind, 'podman');
  assert.match(podman.flavour.version ?? '', /^\d+\.\d+/);
  assert.deepEqual(podman.flavour.nproc, expectedNproc());
  await docker.open();
  assert.equal(docker.flavour.kind, 'docker');
  assert.equal(docker.netnsReuseUnsupported, undefined);
});

test("a Sandbox on Podman runs in Podman's store, labelled, one network namespace per container (no holders)", async (t) => {
  const sandbox = await podmanSandbox(t, { poolSize: 2 });
  const results = await Promise.all([sandbox.run('print("one")'), sandbox.run('print("two")'), sandbox.run('print("three")')]);
  assert.deepEqual(
    results.map((result) => result.stdout),
    ['one\n', 'two\n', 'three\n'],
  );
  await sandbox.whenWarm();
  const runners = await podman.listContainers({ [LABEL]: undefined, [SANDBOX_LABEL]: sandbox.id, [ROLE_LABEL]: 'runner' });
  assert.equal(runners.length, 2, 'the pool, refilled');
  assert.deepEqual(await podman.listContainers({ [SANDBOX_LABEL]: sandbox.id, [ROLE_LABEL]: 'netns' }), [], 'no network-namespace holder');
  assert.deepEqual(await docker.listContainers({ [SANDBOX_LABEL]: sandbox.id }), [], "nothing in Docker's store");
  await sandbox.cleanup();
  assert.deepEqual(await podman.listContainers({ [SANDBOX_LABEL]: sandbox.id }), [], 'cleanup() removed them all');
});

test("inside: Docker's environment, no writable place but the capped tmpfs mounts, this host's process limit, catatonit as init", async (t) => {
  const sandbox = await podmanSandbox(t);
  const result = await sandbox.run(
    [
      'import os, resource, json',
      'writable = []',
      'for d in ("/run", "/var/tmp", "/etc", "/"):',
      '    try:',
      '        open(os.path.join(d, "probe"), "w").close(); writable.append(d)',
      '    except OSError: pass',
      'print(json.dumps([sorted(os.environ), writable, list(resource.getrlimit(resource.RLIMIT_NPROC)), open("/proc/1/cmdline").read().split("\\0")[0]]))',
    ].join('\n'),
  );
  const [env, writable, nproc, init] = JSON.parse(result.stdout) as [string[], string[], number[], string];
  assert.deepEqual(env, ['HOME', 'HOSTNAME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE'], 'no container=podman');
  assert.deepEqual(writable, [], 'no tmpfs of Podman own on /run or /var/tmp');
  const { soft, hard } = expectedNproc();
  assert.deepEqual(nproc, [soft, hard]);
  assert.equal(init, '/run/podman-init');
});

test("an OOM-killed run leaves no file in this process's working directory (Podman's conmon writes `oom` into the CLI's)", async (t) => {
  const before = statSync(join(process.cwd(), 'oom'), { throwIfNoEntry: false })?.mtimeMs;
  const sandbox = await podmanSandbox(t, { poolSize: 1, memoryLimitMb: 32 });
  const result = await sandbox.run('x = bytearray(256 * 2**20)');
  assert.equal(result.status, 'oom', result.stderr);
  const after = statSync(join(process.cwd(), 'oom'), { throwIfNoEntry: false })?.mtimeMs;
  assert.equal(after, before, `no oom file was written in ${process.cwd()}`);
  assert.ok(existsSync(join(tmpdir(), 'docker-python-sandbox-podman', 'oom')), "conmon's file went to the library's own directory");
});

test('dockerHost, context and gVisor are refused on Podman with a SandboxOptionsError, and nothing starts', async () => {
  for (const [options, path] of [
    [{ dockerHost: 'unix:///var/run/docker.sock' }, 'dockerHost'],
    [{ context: 'default' }, 'context'],
    [{ runtime: 'runsc' }, 'runtime'],
  ] as const) {
    const sandbox = new Sandbox({ dockerPath: PODMAN, ...options });
    await assert.rejects(sandbox.initialize(), (error: unknown) => {
      assert.ok(error instanceof SandboxOptionsError, String(error));
      assert.equal(error.issues[0]?.path, path);
      assert.match(error.message, /Podman/);
      return true;
    });
    assert.deepEqual(await podman.listContainers({ [SANDBOX_LABEL]: sandbox.id }), []);
  }
});

test('a missing image names Podman and `npm run setup:podman`', async () => {
  const sandbox = new Sandbox({ dockerPath: PODMAN, image: 'docker-python-sandbox:not-in-podman' });
  await assert.rejects(sandbox.initialize(), /is not in Podman's store, which is separate from Docker's\. Put it there with `npm run setup:podman`/);
});

test("Podman's died events reach the container they name", async (t) => {
  const id = `podman-events-${process.pid}`;
  const events = new ContainerEvents(podman, `${SANDBOX_LABEL}=${id}`);
  events.start();
  t.after(() => events.stop());
  const labels = { ...createLabels(id, 'runner') };
  // The follower's `podman events` starts listening a moment after start(): containers are made
  // and removed until one's death is heard (each try bounded), which shows it listens.
  let heard: string | undefined;
  for (let attempt = 0; heard === undefined && attempt < 10; attempt++) {
    const name = `dps-${id}-${attempt}`;
    let died = false;
    events.watch({ name, noteOom: () => {}, noteDied: () => (died = true) });
    await podman.runDetached({ name, image: IMAGE, labels, limits: LIMITS, command: ['sleep', '60'] });
    await podman.removeContainers([name]);
    const deadline = performance.now() + 3_000;
    while (!died && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    if (died) heard = name;
  }
  assert.ok(heard !== undefined, 'a died event arrived for a removed container');
});

test('a run stopped at its time limit frees its container at once, though its program ignores SIGTERM (rm --time 0)', async (t) => {
  const sandbox = await podmanSandbox(t, { timeoutMs: 1_000 });
  const [used] = await podman.listContainers({ [SANDBOX_LABEL]: sandbox.id, [ROLE_LABEL]: 'runner' });
  const result = await sandbox.run('import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(1)');
  assert.equal(result.timedOut, true);
  const ended = performance.now();
  await eventually('the timed-out container is gone', async () => !(await podman.listContainers({ [SANDBOX_LABEL]: sandbox.id })).includes(used!), 5_000);
  t.diagnostic(`gone ${(performance.now() - ended).toFixed(0)} ms after the run ended`);
});

test("removeOrphans() on Podman removes a dead owner's containers, never a live owner's or an unlabelled one", async (t) => {
  const exited = spawn('true');
  await new Promise((resolve) => exited.once('exit', resolve));
  const deadPid = exited.pid!;
  const sandboxId = `podman-orphans-${process.pid}`;
  const mine = createLabels(sandboxId, 'runner');
  // A dead owner's labels: its pid, gone, says so (no start time is needed for that).
  const dead = Object.fromEntries(
    Object.entries({ ...mine, [OWNER_HOST_LABEL]: hostname(), [OWNER_PID_LABEL]: String(deadPid) }).filter(([key]) => key !== OWNER_START_LABEL),
  );
  const names = { dead: `dps-${sandboxId}-dead`, live: `dps-${sandboxId}-live`, stranger: `not-a-sandbox-${process.pid}` };
  t.after(async () => {
    await podman.removeContainers([names.dead, names.live]);
    // The unlabelled one is not removed by name: it ends on its own (sleep), and --rm takes it.
  });
  await podman.runDetached({ name: names.dead, image: IMAGE, labels: dead, limits: LIMITS, command: ['sleep', '60'] });
  await podman.runDetached({ name: names.live, image: IMAGE, labels: mine, limits: LIMITS, command: ['sleep', '60'] });
  await podman.runDetached({ name: names.stranger, image: IMAGE, labels: {}, limits: LIMITS, command: ['sleep', '15'] });

  const report = await removeOrphans({ dockerPath: PODMAN });
  assert.ok(report.containers >= 1, JSON.stringify(report));
  const left = await podman.listContainers({ [SANDBOX_LABEL]: sandboxId });
  assert.deepEqual(left, [names.live]);
  const all = (await promisify(execFile)(PODMAN, ['ps', '--all', '--format', '{{.Names}}'])).stdout.split('\n');
  assert.ok(all.includes(names.stranger), 'the unlabelled container is still there');
});

test("listing containers that are not running uses Podman's states (it has no dead state)", async (t) => {
  const sandboxId = `podman-states-${process.pid}`;
  const name = `dps-${sandboxId}-created`;
  t.after(() => podman.removeContainers([name]));
  // Created, never started: as a container left by an engine that went down mid-start.
  const labels = Object.entries(createLabels(sandboxId, 'runner')).flatMap(([key, value]) => ['--label', value === '' ? key : `${key}=${value}`]);
  await promisify(execFile)(PODMAN, ['create', '--name', name, ...labels, IMAGE, 'true']);
  assert.deepEqual(await podman.listContainers({ [SANDBOX_LABEL]: sandboxId }, { notRunning: true }), [name]);
  await podman.removeContainers([name]);
  assert.deepEqual(await podman.listContainers({ [SANDBOX_LABEL]: sandboxId }), []);
});

test('a `docker` that is Podman under another name (as podman-docker installs) is driven as Podman', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dps-podman-alias-'));
  const alias = join(dir, 'docker');
  await writeFile(alias, '#!/bin/sh\nexec podman "$@"\n', { mode: 0o755 });
  const sandbox = await podmanSandbox(t, { dockerPath: alias });
  t.after(() => rm(dir, { recursive: true, force: true })); // after the Sandbox's cleanup, which runs the alias
  assert.equal((await sandbox.run('print("through the alias")')).stdout, 'through the alias\n');
  await sandbox.whenWarm(); // the used container is replaced in the background
  assert.equal((await podman.listContainers({ [SANDBOX_LABEL]: sandbox.id, [ROLE_LABEL]: 'runner' })).length, 1);
});

test('removing several containers when one of them is gone already removes the others (Podman 4.3 removes none without --ignore)', async (t) => {
  const sandboxId = `podman-rm-${process.pid}`;
  const names = [`dps-${sandboxId}-1`, `dps-${sandboxId}-2`];
  t.after(() => podman.removeContainers(names));
  const labels = createLabels(sandboxId, 'runner');
  for (const name of names) await podman.runDetached({ name, image: IMAGE, labels, limits: LIMITS, command: ['sleep', '60'] });
  await podman.removeContainers([`dps-${sandboxId}-gone`, ...names]);
  assert.deepEqual(await podman.listContainers({ [SANDBOX_LABEL]: sandboxId }), []);
});
