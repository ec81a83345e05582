/**
 * What doctor's probe programs (lib/doctor/probes/*.py, run in real sandbox containers by
 * run_probes.py) tell about the limits the host enforces: pure functions from a run's result to
 * checks. Each probe prints one JSON line when done; a probe the kernel was meant to kill prints
 * nothing, and the run's result says why it ended. Unit specs: spec/unit/doctor-verdicts.spec.ts.
 */
import type { RunResult } from '../result.js';
import { CHECK, failed, passed, type DoctorCheck } from './check.js';
import type { EngineFacts } from './engine-facts.js';

/** The parts of a run's result the verdicts read. */
export type ProbeRun = Pick<RunResult, 'status' | 'oomKilled' | 'exitCode' | 'signal' | 'stdout' | 'stderr' | 'usage' | 'timedOut'>;

/** The limits of the probe containers (the Sandbox's options doctor sets). */
export interface ProbeLimits {
  memoryLimitMb: number;
  cpus: number;
  pidsLimit: number;
  tmpSizeMb: number;
  fileSizeLimitMb: number;
  runtime: string | undefined;
}

/** A limit as the container's cgroup files state it: a number, 'max' for none, null when not shown. */
type CgroupLimit = number | 'max' | null;

/** What lib/doctor/probes/isolation.py prints. */
export interface IsolationReport {
  uid: number;
  euid: number;
  gid: number;
  capEff: string | null;
  noNewPrivs: string | null;
  rootReadOnly: boolean;
  rootWrite: string;
  interfaces: string[];
  route: string;
  cgroup: CgroupView;
}

export interface CgroupView {
  version: 1 | 2 | null;
  memoryLimit: CgroupLimit;
  swapAllowed: CgroupLimit;
  peakMemory: number | null;
  cpuQuota: CgroupLimit;
  pidsLimit: CgroupLimit;
}

const MIB = 1024 * 1024;

/** The probe modules (lib/doctor/probes/<name>.py) run_probes.py runs. */
export type ProbeName = 'memory_hog' | 'fork_count' | 'cpu_burn' | 'fill_storage' | 'isolation';

/** run_probes.py's line for one probe: its result, or the exception it raised. */
interface ProbeLine {
  probe: string;
  result?: unknown;
  error?: string;
}

function probeLine(run: ProbeRun, name: ProbeName): ProbeLine | undefined {
  for (const line of run.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as ProbeLine;
      if (parsed.probe === name) return parsed;
    } catch {
      // a line cut short by a kill: not a report
    }
  }
  return undefined;
}

/** What a probe returned, or undefined when it did not report (killed first, or it raised). */
export function probeOutput<T>(run: ProbeRun, name: ProbeName): T | undefined {
  return probeLine(run, name)?.result as T | undefined;
}

/** How a run ended (and what the probe raised), for a check that did not get what it expected. */
export function describeEnd(run: ProbeRun, name: ProbeName): string {
  const raised = probeLine(run, name)?.error;
  if (raised !== undefined) return `the ${name} probe raised ${raised}`;
  const how = run.timedOut ? 'timed out' : run.signal !== null ? `was killed by ${run.signal}` : `exited with ${run.exitCode ?? '?'}`;
  const stderr = run.stderr.trim().split('\n').slice(-2).join(' | ');
  return `the ${name} probe's container ${how} (status '${run.status}')${stderr === '' ? '' : `; stderr: ${stderr.slice(0, 300)}`}`;
}

function mib(bytes: number): string {
  const value = bytes / MIB;
  return `${Number.isInteger(value) ? value : value.toFixed(1)} MiB`;
}

/**
 * Killed at the memory limit. Under gVisor the engine's `oom` event is the only witness and it
 * misses about one such death in ten (README, gVisor): a sandbox killed whole, at once, with no
 * usage measured, is that case.
 */
function killedAtMemoryLimit(run: ProbeRun, runtime: string | undefined): { killed: boolean; how: string } {
  if (run.status === 'oom') return { killed: true, how: 'OOM-killed (status oom, oomKilled true)' };
  if (runtime === 'runsc' && !run.timedOut && run.signal === 'SIGKILL' && run.exitCode === 137 && run.usage === null) {
    return { killed: true, how: 'killed with its gVisor sandbox (the engine missed its oom event, which happens about once in ten)' };
  }
  if (/\bMemoryError\b/.test(run.stderr)) return { killed: true, how: 'refused the memory (MemoryError)' };
  return { killed: false, how: '' };
}

export function memoryVerdict(run: ProbeRun, limits: ProbeLimits, touchedMb: number): DoctorCheck {
  const { killed, how } = killedAtMemoryLimit(run, limits.runtime);
  if (killed) return passed(CHECK.memory, `a program touching ${touchedMb} MiB under --memory ${limits.memoryLimitMb}m was ${how}`);
  const got = probeOutput<{ allocatedMib: number }>(run, 'memory_hog');
  if (got !== undefined) {
    return failed(
      CHECK.memory,
      `a program touched ${got.allocatedMib} MiB under --memory ${limits.memoryLimitMb}m: memory is not limited`,
      'The engine cannot limit memory: enable the memory cgroup controller (cgroup v1: cgroup_enable=memory on the kernel command line; cgroup v2: the memory controller in cgroup.subtree_control), or run the engine on a host that has it.',
    );
  }
  if (run.signal === 'SIGKILL' && !run.oomKilled) {
    return failed(
      CHECK.memory,
      `the program was SIGKILLed at the limit but not reported as OOM (oomKilled false): ${describeEnd(run, 'memory_hog')}`,
      "oomKilled is read from the container's memory cgroup (memory.oom_control on cgroup v1, Linux 4.13 or newer; memory.events on cgroup v2) or the engine's oom event: make one of them visible (a private cgroup namespace on cgroup v2, the engine's default).",
    );
  }
  return failed(
    CHECK.memory,
    `a program touching ${touchedMb} MiB under --memory ${limits.memoryLimitMb}m was not stopped by the limit: ${describeEnd(run, 'memory_hog')}`,
    'Run with NODE_DEBUG=docker-python-sandbox to see the docker commands, and check `docker info` for memory limit support.',
  );
}

/** What the cgroup says of swap, for the details. */
function swapState(view: CgroupView | undefined): string {
  if (view === undefined || view.swapAllowed === null) return 'the probe saw no cgroup swap limit (no cgroup view)';
  if (view.swapAllowed === 'max') return 'the cgroup allows unlimited swap';
  return `the cgroup allows ${mib(view.swapAllowed)} of swap`;
}

export function swapVerdict(run: ProbeRun, limits: ProbeLimits, touchedMb: number, view: CgroupView | undefined): DoctorCheck {
  const { killed, how } = killedAtMemoryLimit(run, limits.runtime);
  const flags = `--memory ${limits.memoryLimitMb}m --memory-swap ${limits.memoryLimitMb}m`;
  if (killed) return passed(CHECK.swap, `${touchedMb} MiB under ${flags} was ${how.replace(/ \(.*$/, '')}, not swapped out; ${swapState(view)}`);
  const got = probeOutput<{ allocatedMib: number }>(run, 'memory_hog');
  if (got !== undefined) {
    return failed(
      CHECK.swap,
      `a program touched ${got.allocatedMib} MiB under ${flags}: the excess went to swap; ${swapState(view)}`,
      'The kernel does not account swap, so --memory-swap is ignored (`docker info` warns "No swap limit support"): boot with swapaccount=1 (cgroup v1) or use cgroup v2, or turn swap off on the host (swapoff -a).',
    );
  }
  return failed(
    CHECK.swap,
    describeEnd(run, 'memory_hog'),
    'See the memory limit check; run with NODE_DEBUG=docker-python-sandbox to see the docker commands.',
  );
}

export function pidsVerdict(run: ProbeRun, limits: ProbeLimits, cap: number): DoctorCheck {
  const got = probeOutput<{ forks: number; refused: string | null }>(run, 'fork_count');
  const flag = `--pids-limit ${limits.pidsLimit}`;
  if (got !== undefined && got.refused === 'EAGAIN' && got.forks < limits.pidsLimit) {
    return passed(CHECK.pids, `the kernel refused process ${got.forks + 1} of a fork loop (EAGAIN) under ${flag}`);
  }
  if (limits.runtime === 'runsc' && killedAtMemoryLimit(run, limits.runtime).killed) {
    // gVisor's processes are not host processes: its own threads fill the pids cgroup, and a fork loop meets the memory limit first.
    return passed(CHECK.pids, `a fork loop under ${flag} was stopped by the memory limit (gVisor: the pids cgroup counts gVisor's own threads)`);
  }
  if (got !== undefined && got.refused === null) {
    return failed(
      CHECK.pids,
      `a fork loop started ${got.forks} processes (all of the ${cap} it tried) under ${flag}: the pids limit is not enforced`,
      'The engine cannot limit processes: the kernel needs the pids cgroup controller (CONFIG_CGROUP_PIDS; on cgroup v2, pids in cgroup.subtree_control).',
    );
  }
  const found = got === undefined ? describeEnd(run, 'fork_count') : `a fork loop got ${got.forks} processes, then ${got.refused ?? 'no refusal'}`;
  return failed(
    CHECK.pids,
    `${found} under ${flag}`,
    'Expected the kernel to refuse a fork (EAGAIN) below the limit: check `docker info` for pids limit support.',
  );
}

/** The share of wall time a single busy thread may run under a quota of `cpus`, with room for one scheduling period's burst. */
export function cpuCeiling(cpus: number): number {
  return Math.min(Math.round((cpus * 1.3 + 0.05) * 100) / 100, 0.95);
}

/**
 * The share of wall time the busy loop ran: its own clock's view (stalls are throttling, or
 * other work), not the CPU time its kernel counts, which under gVisor includes the stalls.
 */
export function cpuVerdict(run: ProbeRun, limits: ProbeLimits, view: CgroupView | undefined): DoctorCheck {
  const got = probeOutput<{ wallSeconds: number; runningSeconds: number; cpuSeconds: number }>(run, 'cpu_burn');
  const flag = `--cpus ${limits.cpus}`;
  if (got === undefined || got.wallSeconds <= 0) {
    return failed(CHECK.cpu, describeEnd(run, 'cpu_burn'), 'See the other probe checks; run with NODE_DEBUG=docker-python-sandbox to see the docker commands.');
  }
  const share = got.runningSeconds / got.wallSeconds;
  const quota =
    view?.cpuQuota === undefined || view.cpuQuota === null ? '' : `; the cgroup's quota: ${view.cpuQuota === 'max' ? 'none' : `${view.cpuQuota} CPU`}`;
  const detail = `a busy loop ran ${share.toFixed(2)} of the time under ${flag}${quota}`;
  if (share <= cpuCeiling(limits.cpus)) return passed(CHECK.cpu, detail);
  return failed(
    CHECK.cpu,
    `${detail}: more than the quota`,
    'The engine cannot set a CPU quota: the kernel needs CFS bandwidth control (CONFIG_CFS_BANDWIDTH; on cgroup v2, cpu in cgroup.subtree_control). `docker info` says CpuCfsQuota.',
  );
}

export function storageVerdicts(run: ProbeRun, limits: ProbeLimits): DoctorCheck[] {
  const got = probeOutput<{ tmpBytes: number; tmpError: string | null; fileBytes: number; fileError: string | null }>(run, 'fill_storage');
  if (got === undefined) {
    const why = describeEnd(run, 'fill_storage');
    const fix = 'The probe writing to /tmp and the work dir did not finish: run with NODE_DEBUG=docker-python-sandbox to see the docker commands.';
    return [failed(CHECK.tmpfs, why, fix), failed(CHECK.fileSize, why, fix)];
  }
  const tmpfs =
    got.tmpError === 'ENOSPC' && got.tmpBytes <= limits.tmpSizeMb * MIB
      ? passed(CHECK.tmpfs, `writing to /tmp (--tmpfs size=${limits.tmpSizeMb}m) failed with ENOSPC after ${mib(got.tmpBytes)}`)
      : failed(
          CHECK.tmpfs,
          `a program wrote ${mib(got.tmpBytes)} to /tmp under --tmpfs size=${limits.tmpSizeMb}m (then ${got.tmpError ?? 'no error'})`,
          'The tmpfs size option is not enforced: the engine must mount --tmpfs with its size= option (a runtime that ignores it lets a program fill memory or disk).',
        );
  const fileSize =
    got.fileError === 'EFBIG' && got.fileBytes <= limits.fileSizeLimitMb * MIB
      ? passed(CHECK.fileSize, `writing one file past --ulimit fsize (${limits.fileSizeLimitMb} MiB) failed with EFBIG at ${mib(got.fileBytes)}`)
      : failed(
          CHECK.fileSize,
          `a program wrote a ${mib(got.fileBytes)} file under --ulimit fsize=${limits.fileSizeLimitMb} MiB (then ${got.fileError ?? 'no error'})`,
          'RLIMIT_FSIZE is not applied: the engine or runtime must pass --ulimit fsize to the container.',
        );
  return [tmpfs, fileSize];
}

/** The read-only root, no network and non-root user checks, from the isolation probe. */
export function isolationVerdicts(run: ProbeRun): { checks: DoctorCheck[]; report: IsolationReport | undefined } {
  const report = probeOutput<IsolationReport>(run, 'isolation');
  if (report === undefined) {
    const why = describeEnd(run, 'isolation');
    const fix = 'The isolation probe did not run: see the engine and image checks; run with NODE_DEBUG=docker-python-sandbox to see the docker commands.';
    return { checks: [CHECK.readOnlyRoot, CHECK.network, CHECK.user].map((name) => failed(name, why, fix)), report };
  }
  const readOnly =
    report.rootReadOnly || report.rootWrite === 'EROFS'
      ? passed(CHECK.readOnlyRoot, `/ is mounted read-only (creating a file there: ${report.rootWrite})`)
      : failed(
          CHECK.readOnlyRoot,
          `/ is writable (creating a file there: ${report.rootWrite})`,
          'The engine ignored --read-only: check the runtime (`docker info` Runtimes) and the storage driver.',
        );
  const others = report.interfaces.filter((name) => name !== 'lo');
  const network =
    others.length === 0 && report.route !== 'routed'
      ? passed(CHECK.network, `interfaces: ${report.interfaces.join(', ') || 'none'}; a route out: ${report.route}`)
      : failed(
          CHECK.network,
          `interfaces: ${report.interfaces.join(', ')}; a route out: ${report.route}`,
          "Containers get a network: the Sandbox's network option must be 'none' (the default), and the runtime must honour --network none.",
        );
  const capabilities = report.capEff === null ? 'capabilities not shown' : /^0+$/.test(report.capEff) ? 'no capabilities' : `capabilities ${report.capEff}`;
  const noNewPrivs = report.noNewPrivs === null ? 'no_new_privs not shown' : report.noNewPrivs === '1' ? 'no_new_privs set' : 'no_new_privs NOT set';
  const identity = `uid ${report.uid}, euid ${report.euid}, gid ${report.gid}, ${capabilities}, ${noNewPrivs}`;
  const user =
    report.uid !== 0 && report.euid !== 0 && (report.capEff === null || /^0+$/.test(report.capEff)) && report.noNewPrivs !== '0'
      ? passed(CHECK.user, identity)
      : failed(
          CHECK.user,
          identity,
          'Programs must run as a non-root user with no capabilities: --user 1000:1000 --cap-drop ALL --security-opt no-new-privileges (the library sets them; check that the engine applies them).',
        );
  return { checks: [readOnly, network, user], report };
}

/**
 * The cgroup version and driver the engine reports, what a probe container's cgroup says (when it
 * ran), and whether the kernel lets the engine set every limit the library uses.
 */
export function cgroupVerdict(facts: EngineFacts, view: CgroupView | undefined): DoctorCheck {
  const version = facts.cgroupVersion === undefined ? 'version not reported' : `v${facts.cgroupVersion}`;
  const driver = facts.cgroupDriver === undefined ? '' : ` (driver ${facts.cgroupDriver})`;
  const rootless = facts.rootless ? ', rootless engine' : '';
  const detail = `${version}${driver}${rootless}${containerView(view)}`;
  const fixes: Record<keyof EngineFacts['supports'], string> = {
    memory: 'memory (enable the memory cgroup controller: cgroup_enable=memory on the kernel command line)',
    swap: 'swap (cgroup v1 needs swapaccount=1 on the kernel command line, or use cgroup v2; until then --memory-swap is ignored)',
    cpuQuota: 'a CPU quota (the kernel needs CFS bandwidth control, CONFIG_CFS_BANDWIDTH)',
    pids: 'a pids limit (the kernel needs the pids cgroup controller)',
  };
  const missing = (Object.keys(fixes) as (keyof EngineFacts['supports'])[]).filter((key) => facts.supports[key] === false);
  if (missing.length > 0) {
    return failed(
      CHECK.cgroup,
      `${detail}; the engine cannot limit ${missing.join(', ')}`,
      `The kernel must support limiting ${missing.map((key) => fixes[key]).join('; ')}.`,
    );
  }
  if (facts.cgroupVersion !== '1' && facts.cgroupVersion !== '2') {
    return failed(CHECK.cgroup, detail, 'The engine does not report its cgroup version: upgrade Docker to 20.10 or newer.');
  }
  return passed(CHECK.cgroup, detail);
}

function containerView(view: CgroupView | undefined): string {
  if (view === undefined) return '';
  if (view.version === null) return '; a probe container sees no cgroup files (gVisor shows none)';
  const limit = (value: CgroupLimit, format: (n: number) => string): string => (value === null ? '?' : value === 'max' ? 'none' : format(value));
  const parts = [
    `memory ${limit(view.memoryLimit, mib)}`,
    `swap ${limit(view.swapAllowed, mib)}`,
    `CPU ${limit(view.cpuQuota, String)}`,
    `pids ${limit(view.pidsLimit, String)}`,
    ...(view.peakMemory === null ? [] : [`peak ${mib(view.peakMemory)} so far`]),
  ];
  return `; a probe container's cgroup v${view.version}: ${parts.join(', ')}`;
}
