import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAttachedRunArgs, buildRemoveArgs, type ContainerLimits, type ContainerSpec } from '../../lib/docker/container-args.js';

const LIMITS: ContainerLimits = {
  memoryLimitMb: 50,
  cpus: 1,
  pidsLimit: 64,
  user: '1000:1000',
  network: 'none',
  runtime: undefined,
  readOnlyRoot: true,
  tmpSizeMb: 16,
  workdirSizeMb: 8,
  fileSizeLimitMb: 4,
  openFilesLimit: 256,
};

const SPEC: ContainerSpec = {
  name: 'dps-x-1',
  image: 'img:1',
  labels: { 'docker-python-sandbox': '', 'docker-python-sandbox.sandbox': 'x' },
  limits: LIMITS,
  input: { kind: 'mount', hostDir: '/tmp/dps-abc' },
  command: ['python3', '-c', 'loader'],
};

test('docker run argv: attached, self-removing, every limit, dropped privileges, read-only root with capped tmpfs, read-only code mount, labels', () => {
  // The argv as docker reads it, a flag and its value together.
  // prettier-ignore
  assert.deepEqual(buildAttachedRunArgs(SPEC), [
    'run', '--interactive', '--rm', '--pull', 'never', '--name', 'dps-x-1',
    '--label', 'docker-python-sandbox', '--label', 'docker-python-sandbox.sandbox=x',
    '--network', 'none', '--user', '1000:1000',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--memory', '50m', '--memory-swap', '50m', '--cpus', '1', '--pids-limit', '64',
    '--ulimit', 'nofile=256:256', '--ulimit', 'fsize=4194304:4194304', '--ipc', 'none',
    '--read-only',
    '--tmpfs', '/tmp:rw,nosuid,nodev,size=16m,mode=1777',
    '--tmpfs', '/sandbox:rw,nosuid,nodev,size=8m,uid=1000,gid=1000,mode=0700',
    '--workdir', '/sandbox', '--env', 'HOME=/sandbox',
    '--init', '--log-driver', 'none',
    '--mount', 'type=bind,source=/tmp/dps-abc,target=/sandbox-in,readonly',
    'img:1', 'python3', '-c', 'loader',
  ]);
});

test('docker run argv: on the stdin path the input dir is a tmpfs of the container user; a mount source with a comma is quoted', () => {
  const argv = buildAttachedRunArgs({ ...SPEC, limits: { ...LIMITS, user: '2000:3000' }, input: { kind: 'tmpfs', sizeMb: 138 } });
  assert.deepEqual(argv.slice(argv.indexOf('/sandbox-in:rw,nosuid,nodev,noexec,size=138m,uid=2000,gid=3000,mode=0700') - 1).slice(0, 2), [
    '--tmpfs',
    '/sandbox-in:rw,nosuid,nodev,noexec,size=138m,uid=2000,gid=3000,mode=0700',
  ]);
  assert.equal(argv.includes('--mount'), false);
  const quoted = buildAttachedRunArgs({ ...SPEC, input: { kind: 'mount', hostDir: '/tmp/a,b"c' } });
  assert.equal(quoted[quoted.indexOf('--mount') + 1], 'type=bind,"source=/tmp/a,b""c",target=/sandbox-in,readonly');
  assert.equal(buildAttachedRunArgs({ ...SPEC, input: undefined }).includes('--mount'), false);
});

test('docker run argv: a runtime is passed on; a writable root is possible but opt-in', () => {
  const argv = buildAttachedRunArgs({ ...SPEC, limits: { ...LIMITS, runtime: 'runsc', readOnlyRoot: false, user: '2000' } });
  assert.deepEqual(argv.slice(argv.indexOf('--runtime'), argv.indexOf('--runtime') + 2), ['--runtime', 'runsc']);
  assert.equal(argv.includes('--read-only'), false);
  assert.ok(argv.includes('/sandbox:rw,nosuid,nodev,size=8m,uid=2000,gid=2000,mode=0700'));
});

test('docker rm argv removes many containers and their anonymous volumes in one call', () => {
  // The argv as docker reads it, a flag and its value together.
  // prettier-ignore
  assert.deepEqual(buildRemoveArgs(['a', 'b']), ['rm', '--force', '--volumes', 'a', 'b']);
});
