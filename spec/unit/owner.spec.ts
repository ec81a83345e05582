/**
 * Owner liveness and the choice of orphans, with a fake process table (and a look at the real one).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { test } from 'node:test';
import type { LabelledContainer } from '../../lib/docker/engine.js';
import { createLabels, LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, OWNER_PIDNS_LABEL, OWNER_START_LABEL, ownerOfLabels } from '../../lib/docker/labels.js';
import { isOwnerAlive, ownerOfTempDir, ownerTempDirTemplate, ownIdentity, parseStartTime, processStartTime, type OwnerProbe } from '../../lib/owner.js';
import { selectOrphanContainers, selectOrphanTempDirs } from '../../lib/runner/orphan-reaper.js';
import { isOrphanedCreation, labelsOfArgv } from '../../lib/runner/orphaned-commands.js';

const HOST = 'this-host';

/** A process table: pid -> start time ('?' when unreadable), plus pids that exist under another user. */
function fakeProbe(table: Record<number, string>, otherUsers: readonly number[] = []): OwnerProbe {
  return {
    host: HOST,
    pidns: '4026531836',
    signal(pid) {
      if (otherUsers.includes(pid)) throw Object.assign(new Error('kill EPERM'), { code: 'EPERM' });
      if (!(pid in table)) throw Object.assign(new Error('kill ESRCH'), { code: 'ESRCH' });
    },
    startOf: (pid) => (table[pid] === undefined || table[pid] === '?' ? undefined : table[pid]),
  };
}

test('the start time is field 22 of /proc/<pid>/stat, counted after the last ")" (comm may hold spaces and parens)', () => {
  const tail = 'S 1 2 3 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 1000 10 18446744073709551615';
  assert.equal(parseStartTime(`4242 (node) ${tail}`), '987654');
  assert.equal(parseStartTime(`4242 (a) b) (c d) ${tail}`), '987654');
  assert.equal(parseStartTime('4242 (cut short) S 1 2'), undefined);
  assert.equal(parseStartTime('garbage'), undefined);
});

test('this process: its identity matches /proc/self/stat on Linux, and it is alive', () => {
  const me = ownIdentity();
  assert.equal(me.pid, process.pid);
  assert.equal(me.host, hostname());
  if (process.platform === 'linux') {
    assert.equal(me.start, parseStartTime(readFileSync('/proc/self/stat', 'utf8')));
    assert.match(me.start ?? '', /^\d+$/);
    assert.match(me.pidns ?? '', /^\d+$/);
  }
  assert.equal(isOwnerAlive(me), true);
});

test('a process that has exited is dead; a live pid with another start time is a reused pid, so dead too', () => {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const gone = { host: hostname(), pid: Number(child.stdout), start: '1' };
  assert.equal(isOwnerAlive(gone), false);
  if (process.platform === 'linux') {
    assert.equal(isOwnerAlive({ ...ownIdentity(), start: String(Number(ownIdentity().start) + 1) }), false);
    assert.equal(processStartTime(gone.pid), undefined);
  }
});

test('liveness: pid reuse, EPERM, other hosts and unknown start times', () => {
  const probe = fakeProbe({ 100: '5000', 200: '?' }, [300]);
  assert.equal(isOwnerAlive({ host: HOST, pid: 100, start: '5000' }, probe), true, 'same pid, same start');
  assert.equal(isOwnerAlive({ host: HOST, pid: 100, start: '4999' }, probe), false, 'same pid, another start: the pid was reused');
  assert.equal(isOwnerAlive({ host: HOST, pid: 100, start: undefined }, probe), true, 'owner start unknown: the pid alone decides');
  assert.equal(isOwnerAlive({ host: HOST, pid: 200, start: '1' }, probe), true, 'current start unreadable: the pid alone decides');
  assert.equal(isOwnerAlive({ host: HOST, pid: 300, start: undefined }, probe), true, 'EPERM: it exists, under another user');
  assert.equal(isOwnerAlive({ host: HOST, pid: 999, start: '1' }, probe), false, 'ESRCH: gone');
  assert.equal(isOwnerAlive({ host: 'other-host', pid: 999, start: '1' }, probe), true, 'another host cannot be checked: kept');
  assert.equal(isOwnerAlive({ host: HOST, pid: 999, start: '1', pidns: '4026532999' }, probe), true, 'another pid namespace (same hostname): kept');
  assert.equal(isOwnerAlive({ host: HOST, pid: 999, start: '1', pidns: '4026531836' }, probe), false, 'this pid namespace: checked');
  assert.equal(
    isOwnerAlive({ host: HOST, pid: 999, start: '1', pidns: '4026532999' }, { ...probe, pidns: undefined }),
    false,
    'own namespace unknown: the pid decides',
  );
  const odd: OwnerProbe = {
    ...probe,
    signal: () => {
      throw Object.assign(new Error('?'), { code: 'EINVAL' });
    },
  };
  assert.equal(isOwnerAlive({ host: HOST, pid: 100, start: '1' }, odd), true, 'an unexpected error is a doubt: kept');
});

function container(id: string, labels: Record<string, string | undefined>): LabelledContainer {
  return { id, name: `dps-${id}`, labels };
}

function owned(id: string, pid: string | undefined, start: string | undefined, host: string | undefined = HOST): LabelledContainer {
  return container(id, { [OWNER_HOST_LABEL]: host, [OWNER_PID_LABEL]: pid, [OWNER_START_LABEL]: start });
}

test('orphans are the containers whose owner is dead; without owner labels only with `all`', () => {
  const probe = fakeProbe({ 100: '5000', 200: '7000' }, [300]);
  const containers = [
    owned('live', '100', '5000'),
    owned('reused-pid', '100', '4000'),
    owned('dead', '150', '6000'),
    owned('dead-no-start', '151', undefined),
    owned('eperm', '300', '1'),
    owned('other-host', '150', '6000', 'elsewhere'),
    container('old-version', {}),
    owned('no-pid', undefined, undefined),
    owned('bad-pid', '0', undefined),
    owned('group-pid', '-1', undefined),
    owned('no-host', '150', '6000', ''),
    container('other-pidns', { [OWNER_HOST_LABEL]: HOST, [OWNER_PID_LABEL]: '150', [OWNER_START_LABEL]: '6000', [OWNER_PIDNS_LABEL]: '4026532999' }),
    container('same-pidns', { [OWNER_HOST_LABEL]: HOST, [OWNER_PID_LABEL]: '150', [OWNER_START_LABEL]: '6000', [OWNER_PIDNS_LABEL]: '4026531836' }),
  ];
  assert.deepEqual(
    selectOrphanContainers(containers, { probe }).map((c) => c.id),
    ['reused-pid', 'dead', 'dead-no-start', 'same-pidns'],
  );
  assert.deepEqual(
    selectOrphanContainers(containers, { all: true, probe }).map((c) => c.id),
    containers.map((c) => c.id),
  );
});

test('labels carry the owner, and read back as it', () => {
  const labels = createLabels('abc', 'runner');
  assert.equal(labels[LABEL], '');
  assert.deepEqual(ownerOfLabels(labels), ownIdentity());
  assert.deepEqual(ownerOfLabels({ [OWNER_HOST_LABEL]: 'h', [OWNER_PID_LABEL]: '12', [OWNER_START_LABEL]: 'nope' }), {
    host: 'h',
    pid: 12,
    start: undefined,
    pidns: undefined,
  });
  assert.equal(ownerOfLabels({ [OWNER_PID_LABEL]: '12' }), undefined);
});

test('temp dir names encode the owner; only that exact pattern is ever taken for one', () => {
  assert.equal(ownerTempDirTemplate({ host: HOST, pid: 42, start: '777' }), 'dps-42-777-XXXXXX');
  assert.equal(ownerTempDirTemplate({ host: HOST, pid: 42, start: undefined }), 'dps-42-x-XXXXXX');
  assert.deepEqual(ownerOfTempDir('dps-42-777-aB3dE6', HOST), { host: HOST, pid: 42, start: '777' });
  assert.deepEqual(ownerOfTempDir('dps-42-x-aB3dE6', HOST), { host: HOST, pid: 42, start: undefined });
  // Earlier builds' names (a prefix, then tmp's -<pid>-<12 random>) are still recognised.
  assert.deepEqual(ownerOfTempDir('dps-42-777-42-aB3dE6gH9jK1', HOST), { host: HOST, pid: 42, start: '777' });
  assert.deepEqual(ownerOfTempDir('dps-42-x-42-aB3dE6gH9jK1', HOST), { host: HOST, pid: 42, start: undefined });
  for (const name of [
    'dps--42-aB3dE6gH9jK1', // version 2.0's pid-only names
    'dps-42-777-43-aB3dE6gH9jK1', // the two pids differ
    'dps-42-777-42-aB3dE6gH9jK', // 11 random characters
    'dps-42-777-42-aB3dE6gH9jK1-more',
    'dps-42-777-aB3dE', // 5 random characters
    'dps-42-777-aB3dE6x',
    'dps-42-777-aB3.E6',
    'dps-42-777-42-aB3dE6gH9j.1',
    'dps-0-777-0-aB3dE6gH9jK1',
    'dps-cli-spec-Xk2ab9',
    'dps-bench-abc123',
    'dps-rootfs.Ab12Cd',
    'xdps-42-777-42-aB3dE6gH9jK1',
  ]) {
    assert.equal(ownerOfTempDir(name, HOST), undefined, name);
  }
});

test('orphaned temp dirs: those of dead or reused pids of this host, in the exact pattern', () => {
  const probe = fakeProbe({ 100: '5000' }, [300]);
  const names = [
    'dps-100-5000-100-aaaaaaaaaaaa', // live
    'dps-100-4000-100-bbbbbbbbbbbb', // pid reused
    'dps-150-6000-150-cccccccccccc', // dead
    'dps-151-x-151-dddddddddddd', // dead, start unknown
    'dps-300-1-300-eeeeeeeeeeee', // EPERM
    'dps--150-ffffffffffff', // older name: never
    'dps-cli-spec-150xyz',
  ];
  assert.deepEqual(selectOrphanTempDirs(names, probe), ['dps-100-4000-100-bbbbbbbbbbbb', 'dps-150-6000-150-cccccccccccc', 'dps-151-x-151-dddddddddddd']);
});

test("a dead owner's container creation still running is recognised by the labels on its command line", () => {
  const probe = fakeProbe({ 100: '555' });
  const labels = (pid: number): string[] => [
    '--label',
    LABEL,
    '--label',
    `${OWNER_HOST_LABEL}=${HOST}`,
    '--label',
    `${OWNER_PID_LABEL}=${pid}`,
    '--label',
    `${OWNER_START_LABEL}=555`,
    `--label=${OWNER_PIDNS_LABEL}=4026531836`,
  ];
  const detached = (pid: number): string[] => ['docker', 'run', '--detach', '--name', 'dps-x-netns-1', ...labels(pid), 'image', 'sleep', 'infinity'];
  assert.deepEqual(labelsOfArgv(labels(7)), {
    [LABEL]: '',
    [OWNER_HOST_LABEL]: HOST,
    [OWNER_PID_LABEL]: '7',
    [OWNER_START_LABEL]: '555',
    [OWNER_PIDNS_LABEL]: '4026531836',
  });
  assert.equal(isOrphanedCreation(detached(200), probe), true, 'the owner (pid 200) is dead');
  assert.equal(isOrphanedCreation(detached(100), probe), false, 'the owner is alive');
  assert.equal(isOrphanedCreation(['docker', 'run', '--interactive', ...labels(200), 'image', 'python3'], probe), false, 'an attached run ends by itself');
  assert.equal(isOrphanedCreation(['docker', 'run', '--detach', '--label', `${OWNER_PID_LABEL}=200`, 'image'], probe), false, "not the library's");
  const otherHost = detached(200).map((arg) => arg.replace(`=${HOST}`, '=elsewhere'));
  assert.equal(isOrphanedCreation(otherHost, probe), false, "another host's owner cannot be checked");
});
