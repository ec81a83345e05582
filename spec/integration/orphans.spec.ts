/**
 * Orphan reaping on a real engine: a host process SIGKILLed mid-run leaves its containers and temp
 * dirs behind; a new Sandbox's initialize(), or `docker-python-sandbox cleanup`, removes them and
 * nothing of a live owner. `cleanup --all` runs against a private engine only.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { DockerEngine } from '../../lib/docker/engine.js';
import { LABEL, OWNER_PID_LABEL, ROLE_LABEL, SANDBOX_LABEL } from '../../lib/docker/labels.js';
import { findOrphanedCommands, waitForOrphanedCommands } from '../../lib/runner/orphaned-commands.js';
import { parseSandboxOptions } from '../../lib/options.js';
import { limitsOf } from '../../lib/runner/container-fleet.js';
import { EngineUnavailableError, removeOrphans, Sandbox, SandboxOptionsError, type SandboxOptions } from '../../lib/index.js';
import { startPrivateEngine } from '../helpers/private-engine.js';
import { watchedProcess } from '../helpers/watched-process.js';
import { cli } from '../helpers/cli-process.js';

const OWNER = fileURLToPath(new URL('../fixtures/orphan-owner.ts', import.meta.url));

/** The running orphaned creation commands (see lib/runner/orphaned-commands.ts) of one dead owner. */
async function commandsOf(pid: number): Promise<number[]> {
  const pids = await findOrphanedCommands();
  const lines = await Promise.all(pids.map((command) => readFile(`/proc/${command}/cmdline`, 'utf8').catch(() => '')));
  return pids.filter((_, index) => lines[index]!.split('\0').includes(`${OWNER_PID_LABEL}=${pid}`));
}

function engineAt(host: string | undefined): DockerEngine {
  return new DockerEngine({ binary: 'docker', host });
}

/** Registers work for the end of a test. node:test runs after-hooks in the order they were added. */
type OnEnd = (work: () => Promise<void>) => void;

/**
 * After-hooks that run before those added later, however many are added to it: register it before
 * startPrivateEngine(t), whose teardown (stopping the engine) must come after them.
 */
function endHooks(t: TestContext): OnEnd {
  const works: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const work of works.reverse()) await work().catch(() => {});
  });
  return (work) => void works.push(work);
}

/**
 * A temp dir of the test's own, used as TMPDIR by the processes whose leftovers it checks: other
 * processes on this machine reap dead owners' temp dirs in os.tmpdir() too, and would race it.
 */
async function privateTmp(onEnd: OnEnd): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dps-orphans-spec-'));
  onEnd(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface KilledOwner {
  sandbox: string;
  pid: number;
  /** Its containers after its death, once they stopped changing (its idle ones exit on their own). */
  containers: string[];
  tempDirs: string[];
}

/** This process's reaper looks in os.tmpdir(): the private one, for the time of a test. */
function useTmpDir(onEnd: OnEnd, tmp: string): void {
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  onEnd(() => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    return Promise.resolve();
  });
}

/** Temp dirs of one owner pid (names made by ownerTempDirTemplate()). */
async function tempDirsOf(pid: number, dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith(`dps-${pid}-`)).sort();
}

/** Polls until a listing gives the same answer three times in a row, 300 ms apart (10 s at most). */
async function settled(list: () => Promise<string[]>): Promise<string[]> {
  let last = (await list()).sort();
  let same = 0;
  for (const started = Date.now(); same < 2 && Date.now() - started < 10_000;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = (await list()).sort();
    same = JSON.stringify(next) === JSON.stringify(last) ? same + 1 : 0;
    last = next;
  }
  return last;
}

/**
 * Starts the fixture host process (a Sandbox with a long run, TMPDIR=tmp), SIGKILLs it once its
 * run is going, and returns what it left. Its leftovers are removed when the test ends in any case.
 */
async function killedOwner(onEnd: OnEnd, tmp: string, dockerHost?: string): Promise<KilledOwner> {
  const engine = engineAt(dockerHost);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', OWNER], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp, DPS_FIXTURE_DOCKER_HOST: dockerHost ?? '' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let owner: { sandbox: string; pid: number } | undefined;
  onEnd(async () => {
    child.kill('SIGKILL');
    await exited;
    if (owner === undefined) return;
    // Orphans this test made, should an assertion have failed before they were reaped.
    await engine.removeContainers(await engine.listContainers({ [SANDBOX_LABEL]: owner.sandbox }));
  });
  owner = await new Promise<{ sandbox: string; pid: number }>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`the owner process did not start its run within 60 s: ${stderr}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { sandbox: string; pid: number });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the owner process exited before its run started: ${stderr}`));
    });
  });
  assert.equal(owner.pid, child.pid, 'the labels name the process that is killed');
  child.kill('SIGKILL');
  await exited;
  // At once: on the shared engine, other processes' Sandboxes reap dead owners' containers too.
  const holders = await engine.listContainers({ [SANDBOX_LABEL]: owner.sandbox, [ROLE_LABEL]: 'netns' });
  assert.ok(holders.length >= 1, 'its network-namespace holders outlive it (until they expire)');
  const tempDirs = await tempDirsOf(owner.pid, tmp);
  assert.equal(tempDirs.length, 2, 'one temp dir per container of the pool is left behind');
  // Its runners, the one running a program included, go by themselves: their stdin closed with the owner.
  const runnersGone = performance.now() + 10_000;
  while ((await engine.listContainers({ [SANDBOX_LABEL]: owner.sandbox, [ROLE_LABEL]: 'runner' })).length > 0) {
    assert.ok(performance.now() < runnersGone, "the owner's runner containers did not remove themselves within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const containers = await settled(() => engine.listContainers({ [SANDBOX_LABEL]: owner.sandbox }));
  return { ...owner, containers, tempDirs };
}

/** Every container of a live Sandbox, once its background work (holders) has settled. */
async function containersOf(sandbox: Sandbox, engine = engineAt(undefined)): Promise<string[]> {
  await sandbox.whenWarm();
  return settled(() => engine.listContainers({ [SANDBOX_LABEL]: sandbox.id }));
}

/** An initialized Sandbox, cleaned up at the end (before a private engine stops, when onEnd is endHooks'). */
async function liveSandbox(onEnd: OnEnd, options: SandboxOptions): Promise<Sandbox> {
  const sandbox = new Sandbox(options);
  onEnd(() => sandbox.cleanup());
  await sandbox.initialize();
  return sandbox;
}

test("initialize() reaps the containers and temp dirs of a SIGKILLed owner, never a live Sandbox's", async (t) => {
  const onEnd = endHooks(t);
  const tmp = await privateTmp(onEnd);
  const live = await liveSandbox(onEnd, { poolSize: 2 });
  const liveBefore = await containersOf(live);
  assert.ok(liveBefore.length >= 2);

  const dead = await killedOwner(onEnd, tmp);

  useTmpDir(onEnd, tmp);
  const fresh = await liveSandbox(onEnd, { poolSize: 1 });
  assert.deepEqual(await engineAt(undefined).listContainers({ [SANDBOX_LABEL]: dead.sandbox }), [], 'every container of the dead owner is gone');
  assert.deepEqual(await tempDirsOf(dead.pid, tmp), [], 'and so are its temp dirs');
  assert.equal((await readdir(tmp)).filter((name) => name.startsWith(`dps-${process.pid}-`)).length, 1, "the new Sandbox's own dir is kept");

  const liveAfter = await engineAt(undefined).listContainers({ [SANDBOX_LABEL]: live.id });
  assert.deepEqual(
    liveBefore.filter((name) => !liveAfter.includes(name)),
    [],
    'the live Sandbox kept all its containers',
  );
  assert.equal((await live.run('print("still here")')).stdout, 'still here\n');
  assert.equal((await fresh.run('print("fresh")')).stdout, 'fresh\n');
});

test('initialize() also reaps what a SIGKILLed owner was still creating when it died (its holders)', async (t) => {
  const onEnd = endHooks(t);
  const tmp = await privateTmp(onEnd);
  const child = watchedProcess(process.execPath, ['--import', 'tsx', OWNER, 'holders-in-flight'], { env: { ...process.env, TMPDIR: tmp } });
  let sandboxId: string | undefined;
  onEnd(async () => {
    child.kill();
    await child.exited;
    const engine = engineAt(undefined);
    if (sandboxId !== undefined) await engine.removeContainers(await engine.listContainers({ [SANDBOX_LABEL]: sandboxId }));
  });
  await child.waitForOutput('the owner is initialized', (out) => out.includes('\n'), 60_000);
  const owner = JSON.parse(child.stdout.split('\n')[0]!) as { sandbox: string; pid: number };
  sandboxId = owner.sandbox;
  child.kill('SIGKILL');
  await child.exited;
  const inFlight = await commandsOf(owner.pid);
  assert.ok(inFlight.length >= 1, 'holder creations (docker run --detach) were under way when the owner died');

  await liveSandbox(onEnd, { poolSize: 1 });
  assert.deepEqual(await commandsOf(owner.pid), [], "initialize() waited for the dead owner's creations");
  // Had the reaping listed containers before those creations ended, what they made would stay.
  assert.equal(await waitForOrphanedCommands(), 0);
  assert.deepEqual(await engineAt(undefined).listContainers({ [SANDBOX_LABEL]: owner.sandbox }), [], 'nothing of the dead owner is left');
  t.diagnostic(`${inFlight.length} creations were in flight when the owner died`);
});

test('a live Sandbox reaps, from time to time, the leftovers of owners that die while it runs; reapOrphans: false does not', async (t) => {
  const onEnd = endHooks(t);
  const tmp = await privateTmp(onEnd);
  useTmpDir(onEnd, tmp);
  const engine = engineAt(undefined);
  const child = watchedProcess(process.execPath, ['--import', 'tsx', OWNER], { env: { ...process.env, TMPDIR: tmp } });
  let owner: { sandbox: string; pid: number } | undefined;
  onEnd(async () => {
    child.kill();
    await child.exited;
    if (owner !== undefined) await engine.removeContainers(await engine.listContainers({ [SANDBOX_LABEL]: owner.sandbox }));
  });
  await child.waitForOutput('the owner runs its program', (out) => out.includes('\n'), 60_000);
  owner = JSON.parse(child.stdout.split('\n')[0]!) as { sandbox: string; pid: number };
  // Both start while the owner lives: their initialize() has nothing to reap.
  const reaping = await liveSandbox(onEnd, { poolSize: 1, reapIntervalMs: 1_000 });
  const notReaping = await liveSandbox(onEnd, { poolSize: 1, reapOrphans: false });
  assert.ok((await engine.listContainers({ [SANDBOX_LABEL]: owner.sandbox })).length >= 1);

  child.kill('SIGKILL');
  await child.exited;
  const diedAt = performance.now();
  const deadline = diedAt + 20_000;
  while ((await engine.listContainers({ [SANDBOX_LABEL]: owner.sandbox })).length > 0 || (await tempDirsOf(owner.pid, tmp)).length > 0) {
    assert.ok(performance.now() < deadline, "the dead owner's containers and temp dirs went within 20 s (reapIntervalMs 1000)");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.diagnostic(`the dead owner's leftovers went ${(performance.now() - diedAt).toFixed(0)} ms after its death`);
  assert.equal((await reaping.run('print("reaper")')).stdout, 'reaper\n');
  assert.equal((await notReaping.run('print("other")')).stdout, 'other\n', 'a live Sandbox is never reaped');
});

test("reapOrphans: false: initialize() leaves a dead owner's containers alone", async (t) => {
  const onEnd = endHooks(t);
  const tmp = await privateTmp(onEnd);
  const dead = await killedOwner(onEnd, tmp);
  await liveSandbox(onEnd, { poolSize: 1, reapOrphans: false });
  const left = await engineAt(undefined).listContainers({ [SANDBOX_LABEL]: dead.sandbox });
  assert.ok(left.length >= 1, "the dead owner's containers are still there");
});

test("`docker-python-sandbox cleanup` removes a SIGKILLed owner's containers and temp dirs and says how many (private engine)", async (t) => {
  // A private engine and TMPDIR: on the shared ones, other processes reap the same orphans, and the count would race them.
  const onEnd = endHooks(t);
  const engine = await startPrivateEngine(t);
  const docker = engineAt(engine.host);
  const tmp = await privateTmp(onEnd);
  const live = await liveSandbox(onEnd, { poolSize: 1, dockerHost: engine.host });
  const liveBefore = await containersOf(live, docker);
  const dead = await killedOwner(onEnd, tmp, engine.host);

  const env = { ...process.env, DOCKER_HOST: engine.host, TMPDIR: tmp };
  const outcome = await cli(['cleanup'], { env });
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(outcome.stdout, `removed ${dead.containers.length} orphaned containers and 2 temp dirs\n`);
  assert.deepEqual(await docker.listContainers({ [SANDBOX_LABEL]: dead.sandbox }), []);
  assert.deepEqual(await tempDirsOf(dead.pid, tmp), []);

  const liveAfter = await docker.listContainers({ [SANDBOX_LABEL]: live.id });
  assert.deepEqual(liveAfter.sort(), liveBefore, 'the live owner was left alone');
  assert.equal((await live.run('print(1)')).stdout, '1\n');

  const again = await cli(['cleanup'], { env });
  assert.deepEqual(again, { code: 0, stdout: 'removed 0 orphaned containers and 0 temp dirs\n', stderr: '' });
});

test('`cleanup` exits 125 when no engine answers, and --all is an option of cleanup only', async () => {
  const down = await cli(['cleanup'], { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
  assert.equal(down.code, 125);
  assert.match(down.stderr, /EngineUnavailableError \(ERR_ENGINE_UNAVAILABLE\): No Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock/);
  const flag = await cli(['cleanup', '--docker-host', 'unix:///nonexistent/docker.sock']);
  assert.equal(flag.code, 125);
  const misplaced = await cli(['run', '-', '--all']);
  assert.equal(misplaced.code, 2);
  assert.match(misplaced.stderr, /--all is an option of "cleanup"/);
});

test('removeOrphans() resolves with counts, rejects when no engine answers or with a bad option', async () => {
  const report = await removeOrphans();
  assert.deepEqual(Object.keys(report).sort(), ['containers', 'tempDirs']);
  assert.ok(Number.isInteger(report.containers) && Number.isInteger(report.tempDirs));
  await assert.rejects(removeOrphans({ dockerHost: 'unix:///nonexistent/docker.sock' }), EngineUnavailableError);
  await assert.rejects(removeOrphans({ all: 'yes', every: true } as never), (error: unknown) => {
    assert.ok(error instanceof SandboxOptionsError);
    assert.match(error.message, /all: must be true or false/);
    assert.match(error.message, /every: is not a known option/);
    return true;
  });
});

test('`cleanup --all` (on a private engine) says how many containers carry the label, removes them all, and nothing unlabelled', async (t) => {
  const onEnd = endHooks(t);
  const engine = await startPrivateEngine(t);
  const docker = engineAt(engine.host);
  const tmp = await privateTmp(onEnd);

  // Something that is not ours, on the same engine: --all must not touch it. Nobody removes it:
  // it waits on its stdin, and when the test ends it is closed, so it exits and goes (--rm).
  const stranger = `not-a-sandbox-${process.pid}-${Date.now()}`;
  const options = parseSandboxOptions({});
  const unlabelled = docker.runAttached({
    name: stranger,
    image: options.image,
    labels: {},
    limits: limitsOf(options),
    command: ['python3', '-c', 'import sys; print("up", flush=True); sys.stdin.read()'],
  });
  onEnd(async () => {
    unlabelled.stdin.end();
    await unlabelled.exited;
  });
  await new Promise<void>((resolve, reject) => {
    unlabelled.stdout.once('data', () => resolve());
    void unlabelled.exited.then(() => reject(new Error('the unlabelled container did not start')));
  });

  const live = await liveSandbox(onEnd, { poolSize: 1, dockerHost: engine.host });
  const liveContainers = await containersOf(live, docker);
  const dead = await killedOwner(onEnd, tmp, engine.host);
  const labelled = await docker.listContainers({ [LABEL]: undefined });
  assert.deepEqual(labelled.sort(), [...liveContainers, ...dead.containers].sort(), "the engine holds the live Sandbox's and the dead owner's containers");

  const outcome = await cli(['cleanup', '--all'], { env: { ...process.env, DOCKER_HOST: engine.host, TMPDIR: tmp } });
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(
    outcome.stdout,
    `found ${labelled.length} containers with the label docker-python-sandbox; removing them all\nremoved ${labelled.length} containers and 2 temp dirs\n`,
  );
  // The live Sandbox heals itself afterwards (new holders replace those it saw die): what counts
  // is that none of the containers there before is left.
  const remaining = await docker.listContainers({ [LABEL]: undefined });
  assert.deepEqual(
    remaining.filter((name) => labelled.includes(name)),
    [],
    "every labelled container is gone, the live Sandbox's too",
  );
  assert.deepEqual(await tempDirsOf(dead.pid, tmp), [], "the dead owner's temp dirs are gone");
  assert.ok((await docker.listContainers({})).includes(stranger), 'the unlabelled container is still there');
});
