/**
 * The private engine helper's options: an engine that cannot see this host's /tmp (isolatedTmp),
 * extra dockerd flags (another listener beside the helper's socket), and a daemon frozen with
 * SIGSTOP, thawed, and frozen again for the teardown to deal with.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { LABEL } from '../../lib/docker/labels.js';
import { DEFAULT_IMAGE } from '../../lib/options.js';
import { startPrivateEngine } from '../helpers/private-engine.js';

test('an isolated private engine does not see /tmp, listens where extraArgs say, and survives a freeze at teardown', async (t) => {
  // Another socket, where both this host and the isolated engine see it (not under /tmp).
  const extraDir = await mkdtemp('/var/tmp/dps-pe-extra-');
  t.after(() => rm(extraDir, { recursive: true, force: true }));
  const extraHost = `unix://${join(extraDir, 'extra.sock')}`;
  const engine = await startPrivateEngine(t, { isolatedTmp: true, extraArgs: ['--host', extraHost, '--label', 'dps-extra-args=yes'] });

  // extraArgs: the daemon listens on both sockets and took the other flag too.
  const viaExtra = await execa('docker', ['--host', extraHost, 'info', '--format', '{{json .Labels}}'], { reject: false, stdin: 'ignore' });
  assert.equal(viaExtra.exitCode, 0, String(viaExtra.stderr));
  assert.match(String(viaExtra.stdout), /dps-extra-args=yes/);
  assert.equal((await engine.docker(['version', '--format', '{{.Server.Version}}'])).exitCode, 0, 'the helper socket still answers');

  // isolatedTmp: a file in this host's /tmp is not there for the engine.
  const hostDir = await mkdtemp(join(tmpdir(), 'dps-pe-isolated-'));
  t.after(() => rm(hostDir, { recursive: true, force: true }));
  await chmod(hostDir, 0o755); // the image's user is not root
  await writeFile(join(hostDir, 'nonce'), 'seen\n', { mode: 0o644 });
  const run = (mount: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> =>
    engine.docker(['run', '--rm', '--network', 'none', '--label', LABEL, ...mount, DEFAULT_IMAGE, 'cat', '/probe/nonce']);
  const bind = await run(['--mount', `type=bind,source=${hostDir},target=/probe,readonly`]);
  assert.notEqual(bind.exitCode, 0);
  assert.match(bind.stderr, /bind source path does not exist/);
  // -v makes the missing dir on the engine's side: the container sees an empty one.
  const volume = await run(['--volume', `${hostDir}:/probe:ro`]);
  assert.notEqual(volume.exitCode, 0);
  assert.match(volume.stderr, /No such file or directory/);
  // The shared engine sees the file, and nothing of the isolated engine's /tmp reached this host.
  const shared = await execa(
    'docker',
    [
      'run',
      '--rm',
      '--network',
      'none',
      '--label',
      LABEL,
      '--mount',
      `type=bind,source=${hostDir},target=/probe,readonly`,
      DEFAULT_IMAGE,
      'cat',
      '/probe/nonce',
    ],
    {
      reject: false,
      stdin: 'ignore',
    },
  );
  assert.equal(shared.stdout, 'seen', String(shared.stderr));
  assert.doesNotMatch(await readFile('/proc/self/mountinfo', 'utf8'), /dps-isolated-tmp/);

  // freeze: the socket accepts, nothing answers; thaw: it answers again.
  await engine.freeze();
  assert.equal(engine.frozen, true);
  await new Promise<void>((resolve, reject) => {
    const socket = connect(engine.host.slice('unix://'.length), () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
  const hung = await engine.docker(['version', '--format', '{{.Server.Version}}'], 2_000);
  assert.notEqual(hung.exitCode, 0, 'a frozen engine does not answer');
  await engine.thaw();
  assert.equal(engine.frozen, false);
  assert.equal((await engine.docker(['version', '--format', '{{.Server.Version}}'])).exitCode, 0);

  // Frozen at the end of the test: the teardown thaws it before it stops it (a failure there fails this test).
  await engine.freeze();
});
