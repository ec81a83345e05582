/**
 * `docker-python-sandbox doctor` as a user runs it, against the real engine: on this (healthy)
 * host every check passes, under runc and under gVisor, and its probe containers are gone
 * afterwards; an engine that does not answer and an image that is not there fail with the address
 * and the fix named.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerEngine } from '../../lib/docker/engine.js';
import { OWNER_PID_LABEL } from '../../lib/docker/labels.js';
import type { DoctorCheck } from '../../lib/doctor/check.js';
import { cli, cliProcess } from '../helpers/cli-process.js';
import { runtimeMissing } from '../helpers/engine.js';

const engine = new DockerEngine({ binary: 'docker', host: undefined });

function checksOf(stdout: string): DoctorCheck[] {
  return (JSON.parse(stdout) as { checks: DoctorCheck[] }).checks;
}

function byName(checks: readonly DoctorCheck[], name: string): DoctorCheck {
  const check = checks.find((candidate) => candidate.name === name);
  assert.ok(check !== undefined, `a "${name}" check in ${checks.map((candidate) => candidate.name).join(', ')}`);
  return check;
}

test('a healthy host: every check passes (limits probed in real containers), exit 0, JSON, and no container is left', async () => {
  const started = performance.now();
  const { outcome, pid } = await cliProcess(['doctor', '--json']);
  console.log(`doctor --json took ${Math.round(performance.now() - started)} ms`);
  const checks = checksOf(outcome.stdout);
  const failures = checks.filter((check) => !check.ok);
  assert.deepEqual(failures, [], outcome.stdout);
  assert.equal(outcome.code, 0, outcome.stderr);
  for (const check of checks) {
    assert.deepEqual(Object.keys(check), ['name', 'ok', 'detail', 'fix']);
    assert.equal(check.fix, null);
    assert.ok(check.detail.length > 0, check.name);
  }
  assert.deepEqual(
    checks.map((check) => check.name),
    [
      'docker CLI',
      'engine',
      'cgroup',
      'gVisor',
      'image',
      'image (scientific)',
      'memory limit',
      'no swap',
      'pids limit',
      'CPU quota',
      'tmpfs size',
      'file size limit',
      'read-only root',
      'no network',
      'non-root user',
      'timing',
    ],
  );
  assert.match(byName(checks, 'engine').detail, /answers at the default socket/);
  assert.match(byName(checks, 'cgroup').detail, /^v[12] \(driver \w+\); a probe container's cgroup v[12]: memory 32 MiB, swap 0 MiB, CPU 0\.5, pids 32/);
  assert.match(byName(checks, 'memory limit').detail, /OOM-killed/);
  assert.match(byName(checks, 'image').detail, /built from this version's image\/ \(content hash [0-9a-f]{16}\)/);
  assert.deepEqual(await engine.listContainers({ [OWNER_PID_LABEL]: String(pid) }), [], 'the probe containers are removed');
});

test('under gVisor (--runtime runsc): every probe runs under runsc and passes', async (t) => {
  const missing = await runtimeMissing('runsc');
  if (missing !== undefined) return t.skip(`runsc is not registered: ${missing}`);
  const { outcome, pid } = await cliProcess(['doctor', '--runtime', 'runsc', '--json']);
  const checks = checksOf(outcome.stdout);
  assert.deepEqual(
    checks.filter((check) => !check.ok),
    [],
    outcome.stdout,
  );
  assert.equal(outcome.code, 0);
  assert.equal(byName(checks, 'runtime').detail, 'runsc is registered with the engine');
  assert.equal(byName(checks, 'gVisor').detail, 'runsc is registered and every probe below ran under it');
  assert.match(byName(checks, 'cgroup').detail, /a probe container sees no cgroup files/);
  assert.match(byName(checks, 'timing').detail, /under gVisor/);
  assert.deepEqual(await engine.listContainers({ [OWNER_PID_LABEL]: String(pid) }), [], 'the probe containers are removed');
});

test('an engine that does not answer: exit 1, the address and the fix named, nothing else tried', async () => {
  const outcome = await cli(['doctor', '--docker-host', 'unix:///nonexistent.sock']);
  assert.equal(outcome.code, 1);
  const lines = outcome.stdout.split('\n');
  assert.match(lines[0] ?? '', /^PASS {2}docker CLI {2}\S/);
  assert.match(lines[1] ?? '', /^FAIL {2}engine {6}no engine answers at unix:\/\/\/nonexistent\.sock \(docker said: Cannot connect/);
  assert.match(lines[2] ?? '', /fix: Start the engine \(as root on Debian: `npm run setup`\), or point --docker-host, --context or DOCKER_HOST/);
  assert.equal(lines[3], '1 of 2 checks failed');
  assert.ok(!outcome.stdout.includes('\u001b'), 'no colour when stdout is not a terminal');
});

test('a missing image: its check fails with the fix, and no probe runs', async () => {
  const outcome = await cli(['doctor', '--image', 'some-missing:tag', '--json']);
  assert.equal(outcome.code, 1);
  const checks = checksOf(outcome.stdout);
  const image = byName(checks, 'image');
  assert.equal(image.ok, false);
  assert.match(image.detail, /some-missing:tag is not on the engine at the default socket/);
  assert.match(image.fix ?? '', /docker pull some-missing:tag/);
  assert.deepEqual(byName(checks, 'probes'), {
    name: 'probes',
    ok: false,
    detail: 'not run: the image check failed',
    fix: 'Fix the failed check above, then run doctor again.',
  });
  assert.ok(byName(checks, 'engine').ok);
});

test('usage errors exit 2', async () => {
  const outcome = await cli(['doctor', '--docker-host', 'unix:///a.sock', '--context', 'b']);
  assert.equal(outcome.code, 2);
  assert.match(outcome.stderr, /^docker-python-sandbox doctor: give --docker-host or --context, not both\n\nUsage: docker-python-sandbox doctor/);
});
