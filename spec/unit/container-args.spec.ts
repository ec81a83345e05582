import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAttachedExecArgs, buildRemoveArgs, buildRunArgs } from '../../lib/docker/container-args.js';

test('docker run argv: no network, memory without swap, dropped privileges, read-only code mount, labels', () => {
  const argv = buildRunArgs({
    name: 'dps-x-1',
    image: 'img:1',
    labels: { 'docker-python-sandbox': '', 'docker-python-sandbox.sandbox': 'x' },
    memoryLimitMb: 50,
    inputDir: '/tmp/dps-abc',
  });
  assert.deepEqual(argv, [
    'run', '--detach', '--pull', 'never', '--name', 'dps-x-1',
    '--label', 'docker-python-sandbox', '--label', 'docker-python-sandbox.sandbox=x',
    '--network', 'none', '--memory', '50m', '--memory-swap', '50m',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--init', '--log-driver', 'none',
    '--volume', '/tmp/dps-abc:/sandbox-in:ro',
    'img:1', 'sleep', 'infinity',
  ]);
});

test('docker exec argv keeps stdin open and passes env explicitly', () => {
  assert.deepEqual(buildAttachedExecArgs({ container: 'c', argv: ['python3', '-c', 'x'], env: { A: '1' } }), [
    'exec', '--interactive', '--env', 'A=1', 'c', 'python3', '-c', 'x',
  ]);
});

test('docker rm argv removes many containers and their anonymous volumes in one call', () => {
  assert.deepEqual(buildRemoveArgs(['a', 'b']), ['rm', '--force', '--volumes', 'a', 'b']);
});
