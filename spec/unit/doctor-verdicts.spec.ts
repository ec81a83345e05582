/**
 * How doctor judges what its probe containers, `docker info` and the timings found: pure functions
 * from results to pass/fail checks, on results shaped like the real ones (runc and gVisor, cgroup v1
 * and v2, an engine that does not enforce a limit).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliVerdict, gvisorAbsentVerdict, runtimeVerdict } from '../../lib/doctor/engine-checks.js';
import { parseEngineInfo, type EngineFacts } from '../../lib/doctor/engine-facts.js';
import { flavourOf, imageVerdict } from '../../lib/doctor/image-check.js';
import {
  cgroupVerdict,
  cpuCeiling,
  cpuVerdict,
  isolationVerdicts,
  memoryVerdict,
  pidsVerdict,
  probeOutput,
  storageVerdicts,
  swapVerdict,
  type CgroupView,
  type IsolationReport,
  type ProbeRun,
} from '../../lib/doctor/probe-verdicts.js';
import { probeLimits } from '../../lib/doctor/probe-runs.js';
import { timingVerdict } from '../../lib/doctor/timing.js';

const RUNC = probeLimits(undefined);
const RUNSC = probeLimits('runsc');
const MIB = 1024 * 1024;

function run(overrides: Partial<ProbeRun> = {}): ProbeRun {
  return {
    status: 'ok',
    oomKilled: false,
    exitCode: 0,
    signal: null,
    stdout: '',
    stderr: '',
    usage: { cpuMs: 10, peakMemoryBytes: 9 * MIB },
    timedOut: false,
    ...overrides,
  };
}
const OOM = run({ status: 'oom', oomKilled: true, exitCode: 137, signal: 'SIGKILL', usage: { cpuMs: 20, peakMemoryBytes: 31 * MIB } });
/** gVisor's sandbox killed whole at its limit, the engine's oom event missed. */
const KILLED_WITH_SANDBOX = run({ status: 'error', exitCode: 137, signal: 'SIGKILL', usage: null });
/** run_probes.py's line for one probe. */
const line = (probe: string, result: unknown): string => `${JSON.stringify({ probe, result })}\n`;

const V1_VIEW: CgroupView = { version: 1, memoryLimit: 32 * MIB, swapAllowed: 0, peakMemory: 9 * MIB, cpuQuota: 0.5, pidsLimit: 32 };

test("a probe's result is its own line; none when it printed none, raised, or was cut short", () => {
  const stdout = `noise\n${line('isolation', { uid: 1000 })}${line('fork_count', { forks: 3, refused: 'EAGAIN' })}{"probe": "cpu_bu`;
  assert.deepEqual(probeOutput(run({ stdout }), 'fork_count'), { forks: 3, refused: 'EAGAIN' });
  assert.deepEqual(probeOutput(run({ stdout }), 'isolation'), { uid: 1000 });
  assert.equal(probeOutput(run({ stdout }), 'cpu_burn'), undefined);
  assert.equal(probeOutput(run({ stdout: '' }), 'isolation'), undefined);
  const raised = run({ stdout: '{"probe": "fill_storage", "error": "PermissionError: [Errno 13] /tmp"}\n' });
  assert.equal(probeOutput(raised, 'fill_storage'), undefined);
  assert.match(storageVerdicts(raised, RUNC)[0]!.detail, /the fill_storage probe raised PermissionError/);
});

test('memory: OOM-killed passes; a program that got its memory fails with the fix; gVisor kills pass', () => {
  assert.equal(memoryVerdict(OOM, RUNC, 128).ok, true);
  assert.match(memoryVerdict(OOM, RUNC, 128).detail, /128 MiB under --memory 32m was OOM-killed/);
  const unlimited = memoryVerdict(run({ stdout: line('memory_hog', { allocatedMib: 128 }) }), RUNC, 128);
  assert.equal(unlimited.ok, false);
  assert.match(unlimited.detail, /touched 128 MiB under --memory 32m: memory is not limited/);
  assert.match(unlimited.fix ?? '', /memory cgroup controller/);
  assert.equal(memoryVerdict(KILLED_WITH_SANDBOX, RUNSC, 256).ok, true);
  assert.equal(memoryVerdict(KILLED_WITH_SANDBOX, RUNC, 128).ok, false, 'under runc the loader reads the cgroup: a SIGKILL without OOM is a failure');
  assert.match(memoryVerdict(KILLED_WITH_SANDBOX, RUNC, 128).fix ?? '', /memory\.events/);
  assert.equal(memoryVerdict(run({ status: 'error', exitCode: 1, stderr: 'Traceback...\nMemoryError\n' }), RUNC, 128).ok, true);
});

test('swap: OOM-killed just above the limit passes and says what the cgroup allows; swapping fails', () => {
  const ok = swapVerdict(OOM, RUNC, 48, V1_VIEW);
  assert.equal(ok.ok, true);
  assert.match(ok.detail, /48 MiB under --memory 32m --memory-swap 32m was OOM-killed, not swapped out; the cgroup allows 0 MiB of swap/);
  const swapped = swapVerdict(run({ stdout: line('memory_hog', { allocatedMib: 48 }) }), RUNC, 48, { ...V1_VIEW, swapAllowed: 'max' });
  assert.equal(swapped.ok, false);
  assert.match(swapped.detail, /the excess went to swap; the cgroup allows unlimited swap/);
  assert.match(swapped.fix ?? '', /swapaccount=1/);
});

test('pids: a fork refused with EAGAIN below the limit passes; a loop that got every fork fails', () => {
  assert.equal(pidsVerdict(run({ stdout: line('fork_count', { forks: 28, refused: 'EAGAIN' }) }), RUNC, 48).ok, true);
  const unlimited = pidsVerdict(run({ stdout: line('fork_count', { forks: 48, refused: null }) }), RUNC, 48);
  assert.equal(unlimited.ok, false);
  assert.match(unlimited.detail, /started 48 processes .* --pids-limit 32: the pids limit is not enforced/);
  assert.equal(pidsVerdict(run({ stdout: line('fork_count', { forks: 40, refused: 'EAGAIN' }) }), RUNC, 48).ok, false, 'refused, but above the limit');
  assert.equal(pidsVerdict(KILLED_WITH_SANDBOX, RUNSC, 144).ok, true, 'under gVisor the memory limit stops a fork loop');
  assert.equal(pidsVerdict(run({ status: 'timeout', timedOut: true, exitCode: null }), RUNC, 48).ok, false);
});

test('CPU: a busy loop that ran within the quota (and one period of burst) passes; one that ran all the time under --cpus 0.5 fails', () => {
  assert.equal(cpuCeiling(0.5), 0.7);
  const within = cpuVerdict(run({ stdout: line('cpu_burn', { wallSeconds: 0.5, runningSeconds: 0.26, cpuSeconds: 0.25 }) }), RUNC, V1_VIEW);
  assert.equal(within.ok, true);
  assert.equal(within.detail, "a busy loop ran 0.52 of the time under --cpus 0.5; the cgroup's quota: 0.5 CPU");
  // gVisor counts the throttled time as CPU time: the loop's own view of its stalls decides.
  assert.equal(cpuVerdict(run({ stdout: line('cpu_burn', { wallSeconds: 0.5, runningSeconds: 0.26, cpuSeconds: 0.38 }) }), RUNSC, undefined).ok, true);
  const over = cpuVerdict(run({ stdout: line('cpu_burn', { wallSeconds: 0.5, runningSeconds: 0.49, cpuSeconds: 0.49 }) }), RUNC, undefined);
  assert.equal(over.ok, false);
  assert.match(over.fix ?? '', /CFS bandwidth/);
  assert.equal(cpuVerdict(run({ status: 'error', exitCode: 1 }), RUNC, undefined).ok, false);
});

test('storage: ENOSPC at the tmpfs size and EFBIG at the file-size limit pass; writing past either fails', () => {
  const good = storageVerdicts(run({ stdout: line('fill_storage', { tmpBytes: 4 * MIB, tmpError: 'ENOSPC', fileBytes: 2 * MIB, fileError: 'EFBIG' }) }), RUNC);
  assert.deepEqual(
    good.map((check) => [check.name, check.ok]),
    [
      ['tmpfs size', true],
      ['file size limit', true],
    ],
  );
  assert.match(good[1]!.detail, /failed with EFBIG at 2 MiB/);
  const bad = storageVerdicts(run({ stdout: line('fill_storage', { tmpBytes: 8 * MIB, tmpError: null, fileBytes: 4 * MIB, fileError: 'ENOSPC' }) }), RUNC);
  assert.deepEqual(
    bad.map((check) => check.ok),
    [false, false],
  );
  assert.match(bad[0]!.detail, /wrote 8 MiB to \/tmp under --tmpfs size=4m \(then no error\)/);
  assert.deepEqual(
    storageVerdicts(run({ status: 'timeout', timedOut: true, exitCode: null }), RUNC).map((check) => check.ok),
    [false, false],
  );
});

const ISOLATED: IsolationReport = {
  uid: 1000,
  euid: 1000,
  gid: 1000,
  capEff: '0000000000000000',
  noNewPrivs: '1',
  rootReadOnly: true,
  rootWrite: 'EROFS',
  interfaces: ['lo'],
  route: 'ENETUNREACH',
  cgroup: V1_VIEW,
};

test('isolation: read-only root, only lo and no route, a non-root user without capabilities', () => {
  const { checks, report } = isolationVerdicts(run({ stdout: line('isolation', ISOLATED) }));
  assert.deepEqual(
    checks.map((check) => [check.name, check.ok]),
    [
      ['read-only root', true],
      ['no network', true],
      ['non-root user', true],
    ],
  );
  assert.equal(checks[2]!.detail, 'uid 1000, euid 1000, gid 1000, no capabilities, no_new_privs set');
  assert.deepEqual(report?.cgroup, V1_VIEW);
  const exposed = isolationVerdicts(
    run({
      stdout: line('isolation', {
        ...ISOLATED,
        uid: 0,
        euid: 0,
        capEff: '00000000a80425fb',
        rootReadOnly: false,
        rootWrite: 'written',
        interfaces: ['eth0', 'lo'],
        route: 'routed',
      }),
    }),
  );
  assert.deepEqual(
    exposed.checks.map((check) => check.ok),
    [false, false, false],
  );
  assert.match(exposed.checks[1]!.detail, /interfaces: eth0, lo; a route out: routed/);
  // gVisor's /proc/self/status may lack the fields: not shown is not a failure.
  const gvisor = isolationVerdicts(run({ stdout: line('isolation', { ...ISOLATED, capEff: null, noNewPrivs: null, cgroup: { ...V1_VIEW, version: null } }) }));
  assert.equal(gvisor.checks[2]!.ok, true);
  const none = isolationVerdicts(run({ status: 'error', exitCode: 1, stderr: 'boom' }));
  assert.equal(none.report, undefined);
  assert.ok(none.checks.every((check) => !check.ok && /boom/.test(check.detail)));
});

const DOCKER_INFO = {
  ServerVersion: '20.10.24+dfsg1',
  CgroupVersion: '1',
  CgroupDriver: 'cgroupfs',
  Runtimes: { runc: { path: 'runc' }, runsc: { path: '/usr/bin/runsc' } },
  DefaultRuntime: 'runc',
  MemoryLimit: true,
  SwapLimit: true,
  CpuCfsQuota: true,
  PidsLimit: true,
  SecurityOptions: ['name=seccomp,profile=default'],
  Warnings: null,
};

test("docker info and Podman's info are read alike", () => {
  const docker = parseEngineInfo(JSON.stringify(DOCKER_INFO));
  assert.deepEqual(docker, {
    kind: 'docker',
    serverVersion: '20.10.24+dfsg1',
    cgroupVersion: '1',
    cgroupDriver: 'cgroupfs',
    runtimes: ['runc', 'runsc'],
    defaultRuntime: 'runc',
    supports: { memory: true, swap: true, cpuQuota: true, pids: true },
    rootless: false,
    warnings: [],
  });
  assert.equal(
    parseEngineInfo(JSON.stringify({ ...DOCKER_INFO, SecurityOptions: ['name=seccomp,profile=default', 'name=rootless', 'name=cgroupns'] })).rootless,
    true,
  );
  const podman = parseEngineInfo(
    JSON.stringify({
      host: { cgroupVersion: 'v2', cgroupManager: 'systemd', ociRuntime: { name: 'crun' }, security: { rootless: true } },
      version: { Version: '4.3.1' },
    }),
  );
  assert.deepEqual(
    [podman.kind, podman.serverVersion, podman.cgroupVersion, podman.cgroupDriver, podman.runtimes, podman.rootless],
    ['podman', '4.3.1', '2', 'systemd', ['crun'], true],
  );
});

test('cgroup: version and driver, what a probe container saw, and a limit the kernel cannot set', () => {
  const facts = parseEngineInfo(JSON.stringify(DOCKER_INFO));
  const ok = cgroupVerdict(facts, V1_VIEW);
  assert.equal(ok.ok, true);
  assert.equal(ok.detail, "v1 (driver cgroupfs); a probe container's cgroup v1: memory 32 MiB, swap 0 MiB, CPU 0.5, pids 32, peak 9 MiB so far");
  assert.match(cgroupVerdict(facts, { ...V1_VIEW, version: null }).detail, /sees no cgroup files/);
  const v2: EngineFacts = { ...facts, cgroupVersion: '2', cgroupDriver: 'systemd' };
  assert.match(cgroupVerdict(v2, undefined).detail, /^v2 \(driver systemd\)$/);
  const noSwap = cgroupVerdict({ ...facts, supports: { ...facts.supports, swap: false } }, undefined);
  assert.equal(noSwap.ok, false);
  assert.match(noSwap.detail, /the engine cannot limit swap/);
  assert.match(noSwap.fix ?? '', /swapaccount=1/);
  assert.equal(cgroupVerdict({ ...facts, cgroupVersion: undefined }, undefined).ok, false);
});

test('the CLI, the runtime asked for, and gVisor when it is not registered', () => {
  assert.deepEqual(cliVerdict('Docker version 28.2.2, build e6534b4'), {
    name: 'docker CLI',
    ok: true,
    detail: 'Docker version 28.2.2, build e6534b4',
    fix: null,
  });
  assert.equal(cliVerdict('Docker version 19.03.15, build 99e3ed8').ok, false);
  assert.equal(cliVerdict('podman version 4.3.1').ok, true);
  const facts = parseEngineInfo(JSON.stringify(DOCKER_INFO));
  assert.equal(runtimeVerdict(facts, 'runsc').ok, true);
  const missing = runtimeVerdict({ ...facts, runtimes: ['runc'] }, 'runsc');
  assert.equal(missing.ok, false);
  assert.match(missing.detail, /runsc is not registered \(the engine has: runc\)/);
  assert.match(missing.fix ?? '', /npm run setup/);
  assert.equal(gvisorAbsentVerdict(facts), undefined, 'registered: its probe decides');
  assert.equal(gvisorAbsentVerdict({ ...facts, runtimes: ['runc'] })?.ok, true, 'gVisor is optional');
  const onPodman = { ...facts, kind: 'podman' as const, runtimes: ['runc'] };
  assert.match(gvisorAbsentVerdict(onPodman)?.detail ?? '', /refuses runtime 'runsc' on Podman/);
  assert.equal(gvisorAbsentVerdict(onPodman)?.ok, true, 'gVisor is optional');
  const runscOnPodman = runtimeVerdict(onPodman, 'runsc');
  assert.equal(runscOnPodman.ok, false);
  assert.match(runscOnPodman.fix ?? '', /Use Docker for gVisor/);
  assert.equal(runtimeVerdict(onPodman, 'crun').ok, true, 'other runtimes: the probes decide');
});

test('images: missing, built from this version, stale, unlabelled, or not ours', () => {
  const expected = { latest: 'aaaaaaaaaaaaaaaa', scientific: 'bbbbbbbbbbbbbbbb' };
  const address = 'unix:///var/run/docker.sock';
  const verdict = (image: string, labels: Record<string, string> | undefined, options = {}): ReturnType<typeof imageVerdict> =>
    imageVerdict({ image, labels, expected, address, binary: 'docker' }, {}, options);
  const label = (hash: string): Record<string, string> => ({ 'docker-python-sandbox.image-hash': hash });
  assert.equal(verdict('docker-python-sandbox:latest', label('aaaaaaaaaaaaaaaa')).ok, true);
  const stale = verdict('docker-python-sandbox:latest', label('cccccccccccccccc'));
  assert.equal(stale.ok, false);
  assert.match(stale.detail, /content hash cccccccccccccccc; this version builds aaaaaaaaaaaaaaaa/);
  assert.match(stale.fix ?? '', /npm run setup/);
  assert.equal(verdict('docker-python-sandbox:latest', {}).ok, false, 'not built by the script');
  const missing = verdict('docker-python-sandbox:latest', undefined);
  assert.match(missing.detail, /is not on the engine at unix:\/\/\/var\/run\/docker\.sock/);
  assert.match(missing.fix ?? '', /npm run setup/);
  const other = verdict('some-missing:tag', undefined);
  assert.match(other.fix ?? '', /docker pull some-missing:tag/);
  assert.equal(verdict('python:3.12-slim', {}).ok, true, "another image is not this package's to check");
  assert.equal(verdict('mine:1', label('bbbbbbbbbbbbbbbb')).ok, true, 'a renamed build of either flavour');
  assert.equal(verdict('docker-python-sandbox:scientific', undefined, { optional: true }).ok, true);
  const inPodman = imageVerdict({ image: 'docker-python-sandbox:latest', labels: undefined, expected, address, binary: '/usr/bin/podman' }, {});
  assert.match(inPodman.fix ?? '', /npm run setup:podman/);
  assert.equal(flavourOf('my-sandbox:2', { DPS_IMAGE: 'my-sandbox:2' }), 'latest');
  assert.equal(flavourOf('docker-python-sandbox:scientific', {}), 'scientific');
});

test("timing: next to the README's numbers, and says so when far off (a report, not a benchmark)", () => {
  const ok = timingVerdict({ startMs: 262.4, warmMs: 4.12 }, undefined);
  assert.deepEqual(ok, {
    name: 'timing',
    ok: true,
    detail: 'one container ready in 262 ms (README: ~250 ms), a warm run in 4.1 ms (README: p50 ~3-4 ms)',
    fix: null,
  });
  assert.match(timingVerdict({ startMs: 520, warmMs: 9 }, 'runsc').detail, /README: ~500 ms.*p50 ~8 ms\) under gVisor$/);
  const slow = timingVerdict({ startMs: 250, warmMs: 40 }, undefined);
  assert.equal(slow.ok, true);
  assert.match(slow.detail, /; 11x the README's: .*npm run bench/);
});
