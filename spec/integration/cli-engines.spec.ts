/**
 * The command line against an engine other than the default one, as a user would call it: `run`
 * and `cleanup` with --docker-host and --context, and `image load` putting the sandbox image on an
 * engine that lacks it. The other engine is a private one (spec/helpers/private-engine.ts); the
 * Docker context is made by the spec under a name of its own and removed at the end (the user's
 * current context is never changed).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { execa } from 'execa';
import { ImageTransfer } from '../../lib/docker/image-transfer.js';
import { createLabels, OWNER_START_LABEL } from '../../lib/docker/labels.js';
import { DockerCliError } from '../../lib/errors.js';
import { DEFAULT_IMAGE } from '../../lib/options.js';
import { Sandbox } from '../../lib/index.js';
import { startPrivateEngine, type PrivateEngine } from '../helpers/private-engine.js';
import { cli } from '../helpers/cli-process.js';

/**
 * A Docker context of the spec's own pointing at the engine, removed when the test ends. Made in
 * the user's docker config like any context, but never made current.
 */
async function contextFor(t: TestContext, engine: PrivateEngine): Promise<string> {
  const name = `dps-spec-${process.pid}-${randomBytes(4).toString('hex')}`;
  await execa('docker', ['context', 'create', name, '--description', 'docker-python-sandbox spec (temporary)', '--docker', `host=${engine.host}`], {
    stdin: 'ignore',
  });
  t.after(async () => {
    await execa('docker', ['context', 'rm', '--force', name], { stdin: 'ignore', reject: false });
  });
  return name;
}

/** A temp dir of the test's own for the CLI's TMPDIR, so that no other process's dead owners' dirs are counted. */
async function privateTmp(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dps-cli-engines-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Leaves an orphan on the engine: a container with the library's labels naming this process, but
 * with another start time, which is how a dead owner whose pid was reused looks.
 */
async function plantOrphan(engine: PrivateEngine): Promise<string> {
  const labels = { ...createLabels(`spec-orphan-${randomBytes(4).toString('hex')}`, 'runner'), [OWNER_START_LABEL]: '1' };
  const flags = Object.entries(labels).flatMap(([key, value]) => ['--label', value === '' ? key : `${key}=${value}`]);
  const created = await engine.docker(['create', ...flags, '--network', 'none', DEFAULT_IMAGE, 'true']);
  assert.equal(created.exitCode, 0, created.stderr);
  return created.stdout.trim();
}

async function exists(engine: PrivateEngine, container: string): Promise<boolean> {
  return (await engine.docker(['container', 'inspect', '--format', '{{.Id}}', container])).exitCode === 0;
}

test('run and cleanup reach the engine named by --docker-host or --context; both at once is a usage error', async (t) => {
  const engine = await startPrivateEngine(t);
  // A tag only the private engine has: a run with it succeeds only there.
  const onlyThere = `dps-cli-engines-spec:${process.pid}`;
  const tagged = await engine.docker(['tag', DEFAULT_IMAGE, onlyThere]);
  assert.equal(tagged.exitCode, 0, tagged.stderr);
  engine.onTeardown(() => engine.docker(['image', 'rm', onlyThere]));
  const context = await contextFor(t, engine);
  const program = { input: 'import sys\nprint(sys.version_info[0])' };

  const byHost = await cli(['run', '-', '--docker-host', engine.host, '--image', onlyThere], program);
  assert.deepEqual(byHost, { code: 0, stdout: '3\n', stderr: '' });
  const byContext = await cli(['run', '-', '--context', context, '--image', onlyThere], program);
  assert.deepEqual(byContext, { code: 0, stdout: '3\n', stderr: '' });
  // The control: the default engine has no such image, so the two runs above ran on the private one.
  const here = await cli(['run', '-', '--image', onlyThere], program);
  assert.equal(here.code, 125);
  assert.match(here.stderr, /ImageNotFoundError \(ERR_IMAGE_NOT_FOUND\)/);

  const both = await cli(['run', '-', '--docker-host', engine.host, '--context', context], program);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--docker-host and --context both name the engine: give one of them[\s\S]*Usage:/);
  const cleanupBoth = await cli(['cleanup', '--docker-host', engine.host, '--context', context]);
  assert.equal(cleanupBoth.code, 2);
  assert.match(cleanupBoth.stderr, /--docker-host and --context both name the engine/);
  const emptyHost = await cli(['cleanup', '--docker-host', '']);
  assert.equal(emptyHost.code, 2);
  assert.match(emptyHost.stderr, /--docker-host expects an engine address/);
  const misplaced = await cli(['cleanup', '--timeout', '5']);
  assert.equal(misplaced.code, 2);
  assert.match(misplaced.stderr, /--timeout is not an option of "cleanup"/);

  // cleanup removes an orphan on the private engine, through either flag.
  const env = { ...process.env, TMPDIR: await privateTmp(t) };
  for (const flags of [
    ['--docker-host', engine.host],
    ['--context', context],
  ]) {
    const orphan = await plantOrphan(engine);
    const outcome = await cli(['cleanup', ...flags], { env });
    assert.deepEqual(outcome, { code: 0, stdout: 'removed 1 orphaned container and 0 temp dirs\n', stderr: '' }, flags.join(' '));
    assert.equal(await exists(engine, orphan), false, `the orphan is gone (${flags.join(' ')})`);
  }
});

test('image load copies the image onto an engine that lacks it, with progress; then a Sandbox runs there; a second one (through npm run setup) sends nothing', async (t) => {
  const engine = await startPrivateEngine(t, { images: [] });
  // The slot's data root is kept between runs: make sure the image is not there. It is there again
  // (the same id) at the end, so the next spec on this slot loads nothing.
  await engine.docker(['image', 'rm', '--force', DEFAULT_IMAGE]);
  assert.notEqual((await engine.docker(['image', 'inspect', DEFAULT_IMAGE])).exitCode, 0, 'the private engine lacks the image');
  const context = await contextFor(t, engine);

  // The image missing on the source engine (here DOCKER_HOST, the private engine itself): exit 125 and the hint.
  const missing = await cli(['image', 'load', '--docker-host', engine.host], { env: { ...process.env, DOCKER_HOST: engine.host } });
  assert.equal(missing.code, 125);
  assert.match(
    missing.stderr,
    /the image docker-python-sandbox:latest is not on this machine's engine, so there is nothing to load: build it with `npm run setup`/,
  );
  const other = await cli(['image', 'load', '--docker-host', engine.host, '--image', 'dps-no-such-image:never']);
  assert.equal(other.code, 125);
  assert.match(other.stderr, /dps-no-such-image:never is not on this machine's engine[\s\S]*build or pull it/);

  // Through the context: were it ignored, the load would go to the default engine, which has the image.
  const started = performance.now();
  const loaded = await cli(['image', 'load', '--context', context]);
  const elapsed = performance.now() - started;
  assert.equal(loaded.code, 0, loaded.stderr);
  const id = (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', DEFAULT_IMAGE])).stdout.trim();
  const shortId = id.replace('sha256:', '').slice(0, 12);
  const lines = loaded.stderr.split('\n').filter(Boolean);
  assert.match(lines[0]!, new RegExp(`^sending docker-python-sandbox:latest \\(${shortId}, about \\d+\\.\\d MB\\) to context "${context}"$`));
  // Not a terminal: plain progress lines, one per tenth at most.
  const progress = lines.slice(1);
  assert.ok(progress.length >= 1 && progress.length <= 10, loaded.stderr);
  for (const line of progress) assert.match(line, /^\d+\.\d MB of ~\d+\.\d MB \(\d+%\)$/);
  assert.match(loaded.stdout, new RegExp(`^loaded docker-python-sandbox:latest \\(${shortId}\\) onto context "${context}": \\d+\\.\\d MB in \\d+\\.\\d s\\n$`));
  assert.equal((await engine.docker(['image', 'inspect', '--format', '{{.Id}}', DEFAULT_IMAGE])).stdout.trim(), id);
  t.diagnostic(`image load of ${DEFAULT_IMAGE} to a private engine: ${loaded.stdout.trim()} (CLI process ${Math.round(elapsed)} ms)`);

  const sandbox = new Sandbox({ dockerHost: engine.host });
  engine.onTeardown(() => sandbox.cleanup());
  await sandbox.initialize();
  assert.equal((await sandbox.run('print(6 * 7)')).stdout, '42\n');
  await sandbox.cleanup();

  // Again through `npm run setup -- --docker-host`: the local setup finds everything in place, then
  // runs the same image load, which finds the image there and sends nothing.
  const setup = await execa('bash', [fileURLToPath(new URL('../../scripts/setup.sh', import.meta.url)), '--docker-host', engine.host], {
    stdin: 'ignore',
    reject: false,
  });
  assert.equal(setup.exitCode, 0, `${setup.stdout}\n${setup.stderr}`);
  assert.equal(setup.stdout.split('\n').at(-1), `docker-python-sandbox:latest is already on ${engine.host} (same image id ${shortId}); nothing sent`);
});

test('image load: usage errors exit 2, an engine that does not answer exits 125', async () => {
  const noTarget = await cli(['image', 'load']);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /"image load" needs the engine to load the image onto: --docker-host <address> or --context <name>/);
  const both = await cli(['image', 'load', '--docker-host', 'unix:///nonexistent/docker.sock', '--context', 'x']);
  assert.equal(both.code, 2);
  const stray = await cli(['image', 'load', '--docker-host', 'unix:///nonexistent/docker.sock', '--json']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--json is not an option of "image load"/);
  const unknown = await cli(['image', 'push']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /expected "image load", got "image push"/);
  const down = await cli(['image', 'load', '--docker-host', 'unix:///nonexistent/docker.sock']);
  assert.equal(down.code, 125);
  assert.match(down.stderr, /EngineUnavailableError \(ERR_ENGINE_UNAVAILABLE\): No Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock/);
});

test('an image transfer whose docker load or docker save fails rejects with that command and its stderr', async (t) => {
  const failing = fileURLToPath(new URL('../fixtures/docker/transfer-fails', import.meta.url));
  const real = { binary: 'docker', host: undefined };
  const fake = { binary: failing, host: undefined };
  t.after(() => delete process.env.DPS_FIXTURE_FAIL);

  // Both ends are the default engine, which has the image: send() anyway, to watch it fail.
  process.env.DPS_FIXTURE_FAIL = 'load';
  const toFailingLoad = new ImageTransfer(DEFAULT_IMAGE, real, fake);
  const plan = await toFailingLoad.plan();
  assert.equal(plan.alreadyThere, true);
  assert.ok(plan.size > 1_000_000, `the image's size: ${plan.size}`);
  await assert.rejects(toFailingLoad.send(plan), (error: unknown) => {
    assert.ok(error instanceof DockerCliError, String(error));
    assert.match(error.command ?? '', /transfer-fails load$/);
    assert.match(error.message, /no space left on device \(spec fixture\)/);
    return true;
  });

  // A save that fails ends the stream at once; the (real) load then fails on the empty stream, but the save is the cause.
  process.env.DPS_FIXTURE_FAIL = 'save';
  const fromFailingSave = new ImageTransfer(DEFAULT_IMAGE, fake, real);
  await assert.rejects(fromFailingSave.send(plan), (error: unknown) => {
    assert.ok(error instanceof DockerCliError, String(error));
    assert.match(error.command ?? '', /transfer-fails save docker-python-sandbox:latest$/);
    assert.match(error.message, /permission denied \(spec fixture\)/);
    return true;
  });
});
