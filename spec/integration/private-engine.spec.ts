/**
 * The private engine helper: a Sandbox runs on it, it goes down and comes back on demand, and the
 * shared engine's containers are untouched throughout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Sandbox } from '../../lib/index.js';
import { LABEL } from '../../lib/docker/labels.js';
import { DEFAULT_IMAGE } from '../../lib/options.js';
import { labelledContainers, runnerContainers, startSandbox } from '../helpers/engine.js';
import { startPrivateEngine } from '../helpers/private-engine.js';

test('a private engine runs a Sandbox, stops like a crash and starts again, leaving the shared engine alone', async (t) => {
  // Something of ours on the shared engine, to watch: a warm pool whose containers must survive.
  const shared = await startSandbox(t, { poolSize: 1 });
  const sharedRunners = await runnerContainers(shared.id);
  const sharedBefore = await labelledContainers(shared.id);
  assert.equal(sharedRunners.length, 1);

  const engine = await startPrivateEngine(t);
  assert.match(engine.host, /^unix:\/\/\/.+\/docker\.sock$/);
  const info = await engine.docker(['info', '--format', '{{.DockerRootDir}} {{json .Runtimes}}']);
  assert.equal(info.exitCode, 0, info.stderr);
  assert.ok(info.stdout.startsWith(`${engine.dir}/`), info.stdout);
  assert.doesNotMatch(info.stdout, /runsc/, 'runc only: the shared daemon.json is not read');

  // A Sandbox on the private engine: its containers are there, not on the shared engine.
  const privateSandbox = new Sandbox({ dockerHost: engine.host, poolSize: 1 });
  engine.onTeardown(() => privateSandbox.cleanup()); // t.after would run after the engine's teardown
  await privateSandbox.initialize();
  const result = await privateSandbox.run('print(sum(range(10)))');
  assert.equal(result.stdout, '45\n');
  assert.equal(result.status, 'ok');
  await privateSandbox.whenWarm(); // the used container is replaced in the background
  const onPrivate = await engine.docker(['ps', '--all', '--quiet', '--filter', `label=${LABEL}.sandbox=${privateSandbox.id}`]);
  assert.notEqual(onPrivate.stdout.trim(), '', 'the pool lives on the private engine');
  assert.deepEqual(await labelledContainers(privateSandbox.id), [], 'and not on the shared one');
  await privateSandbox.cleanup();

  // A container still running when the engine goes down dies with it.
  const survivor = await engine.docker(['run', '--detach', '--init', '--network', 'none', '--label', LABEL, DEFAULT_IMAGE, 'sleep', '1000']);
  assert.equal(survivor.exitCode, 0, survivor.stderr);

  await engine.stop();
  assert.equal(engine.running, false);
  const down = await engine.docker(['version', '--format', '{{.Server.Version}}']);
  assert.notEqual(down.exitCode, 0, 'no engine answers once stopped');
  assert.match(down.stderr, /Cannot connect to the Docker daemon|connect: no such file or directory|connection refused/);

  await engine.start();
  const up = await engine.docker(['version', '--format', '{{.Server.Version}}']);
  assert.equal(up.exitCode, 0, up.stderr);
  const running = await engine.docker(['ps', '--quiet', '--filter', `label=${LABEL}`, '--filter', 'status=running']);
  assert.equal(running.stdout.trim(), '', 'no container of the stopped engine runs again');

  // The restarted engine still runs a Sandbox.
  const again = new Sandbox({ dockerHost: engine.host, poolSize: 1 });
  engine.onTeardown(() => again.cleanup());
  await again.initialize();
  assert.equal((await again.run('print("after restart")')).stdout, 'after restart\n');
  await again.cleanup();

  // The shared engine: the shared Sandbox's containers are all still there (its network-namespace
  // holders may have been added meanwhile), its pool untouched and working.
  const sharedAfter = await labelledContainers(shared.id);
  assert.deepEqual(
    sharedBefore.filter((name) => !sharedAfter.includes(name)),
    [],
    'no shared container went away',
  );
  assert.deepEqual(await runnerContainers(shared.id), sharedRunners);
  assert.equal((await shared.run('print("shared ok")')).stdout, 'shared ok\n');
});
