import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildAttachedRunArgs,
  buildDetachedRunArgs,
  buildEventsArgs,
  buildLimitArgs,
  buildRemoveArgs,
  type ContainerLimits,
  type ContainerSpec,
} from '../../lib/docker/container-args.js';
import { DOCKER_FLAVOUR, type EngineFlavour } from '../../lib/docker/engine-flavour.js';

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

const PODMAN: EngineFlavour = { kind: 'podman', version: '4.3.1', remote: false, nproc: { soft: 32768, hard: 32768 } };

test("podman run argv: Docker's, but tmpfs mounts owned with U (no uid=/gid=) and no copy-up, an explicit nproc limit, no tmpfs of Podman's own, no container= or TERM= variables", () => {
  // The argv as podman reads it, a flag and its value together.
  // prettier-ignore
  assert.deepEqual(buildAttachedRunArgs({ ...SPEC, input: { kind: 'tmpfs', sizeMb: 138 } }, PODMAN), [
    'run', '--interactive', '--rm', '--pull', 'never', '--name', 'dps-x-1',
    '--label', 'docker-python-sandbox', '--label', 'docker-python-sandbox.sandbox=x',
    '--network', 'none', '--user', '1000:1000',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--memory', '50m', '--memory-swap', '50m', '--cpus', '1', '--pids-limit', '64',
    '--ulimit', 'nofile=256:256', '--ulimit', 'fsize=4194304:4194304', '--ipc', 'none',
    '--read-only',
    '--tmpfs', '/tmp:rw,nosuid,nodev,size=16m,mode=1777,notmpcopyup',
    '--tmpfs', '/sandbox:rw,nosuid,nodev,size=8m,U,mode=0700,notmpcopyup',
    '--workdir', '/sandbox', '--env', 'HOME=/sandbox',
    '--init', '--log-driver', 'none',
    '--ulimit', 'nproc=32768:32768', '--read-only-tmpfs=false', '--unsetenv', 'container', '--unsetenv', 'TERM',
    '--tmpfs', '/sandbox-in:rw,nosuid,nodev,noexec,size=138m,U,mode=0700,notmpcopyup',
    'img:1', 'python3', '-c', 'loader',
  ]);
  // The bind mount of the mount path is the same as Docker's.
  const mounted = buildAttachedRunArgs(SPEC, PODMAN);
  assert.equal(mounted[mounted.indexOf('--mount') + 1], 'type=bind,source=/tmp/dps-abc,target=/sandbox-in,readonly');
  // A writable root needs no --read-only-tmpfs; an unknown process limit (remote Podman) is left to Podman.
  const writable = buildAttachedRunArgs({ ...SPEC, limits: { ...LIMITS, readOnlyRoot: false } }, { ...PODMAN, nproc: undefined });
  assert.equal(writable.includes('--read-only-tmpfs=false'), false);
  assert.equal(
    writable.some((arg) => arg.startsWith('nproc=')),
    false,
  );
  assert.deepEqual(buildLimitArgs(LIMITS, DOCKER_FLAVOUR), buildLimitArgs(LIMITS), "Docker's flags are the default");
});

test('podman rm argv kills at once (--time 0) instead of waiting 10 s for the stop signal, and removes the others when one is gone (--ignore); events: died, and no oom event', () => {
  // prettier-ignore
  assert.deepEqual(buildRemoveArgs(['a', 'b'], PODMAN), ['rm', '--force', '--time', '0', '--ignore', '--volumes', 'a', 'b']);
  // prettier-ignore
  assert.deepEqual(buildEventsArgs('l=v', ['oom', 'die'], PODMAN), ['events', '--format', '{{json .}}', '--filter', 'type=container', '--filter', 'label=l=v', '--filter', 'event=died']);
  // prettier-ignore
  assert.deepEqual(buildEventsArgs('l=v', ['oom', 'die']), ['events', '--format', '{{json .}}', '--filter', 'type=container', '--filter', 'label=l=v', '--filter', 'event=oom', '--filter', 'event=die']);
  const holder = buildDetachedRunArgs({ name: 'h', image: 'img', labels: {}, limits: LIMITS, command: ['sleep', '1'] }, PODMAN);
  assert.ok(holder.includes('nproc=32768:32768'));
});
