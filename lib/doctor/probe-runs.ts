/**
 * doctor's probe containers: real Sandboxes (so the containers get exactly the library's audited
 * `docker run` arguments, lib/docker/container-args.ts, and carry its labels) running the probe
 * programs (lib/doctor/probes/*.py, through run_probes.py) all at once, then removed. The two the
 * kernel is meant to kill (memory, swap) get a container each; the others share one, in turn.
 * Three containers, not one per probe: each used container is replaced in the background, and
 * cleanup() waits for those replacements, so fewer containers make doctor seconds faster. Small
 * limits keep the probes quick: the mechanism is what is checked, not the default sizes.
 */
import { readFile } from 'node:fs/promises';
import { MIN_RUNSC_PIDS_LIMIT, type SandboxOptions } from '../options.js';
import { Sandbox } from '../sandbox.js';
import { CHECK, failed, passed, type DoctorCheck } from './check.js';
import {
  cpuVerdict,
  isolationVerdicts,
  memoryVerdict,
  pidsVerdict,
  storageVerdicts,
  swapVerdict,
  type CgroupView,
  type ProbeLimits,
  type ProbeName,
  type ProbeRun,
} from './probe-verdicts.js';

/** Which engine, CLI and image the probes use (the doctor command's options). */
export interface ProbeTarget {
  dockerPath: string;
  dockerHost?: string;
  context?: string;
  image: string;
}

/** A busy loop this long measures the CPU quota over several 100 ms scheduling periods. */
const CPU_BURN_SECONDS = 0.5;

/** The probe containers' limits: small, so that filling them is quick. gVisor's own memory counts against the limit. */
export function probeLimits(runtime: string | undefined): ProbeLimits {
  return {
    memoryLimitMb: runtime === 'runsc' ? 64 : 32,
    cpus: 0.5,
    pidsLimit: runtime === 'runsc' ? MIN_RUNSC_PIDS_LIMIT : 32,
    tmpSizeMb: 4,
    fileSizeLimitMb: 2,
    runtime,
  };
}

/** The probe modules, beside this module: lib/doctor/probes/ under tsx, dist/doctor/probes/ once built. */
function probeSource(name: string): Promise<string> {
  return readFile(new URL(`./probes/${name}.py`, import.meta.url), 'utf8');
}

/**
 * Runs probes in order in one container (run_probes.py, with the modules it imports as the run's
 * files): each step is `name`, `name:arg` or `name:arg:arg`.
 */
async function runProbes(sandbox: Sandbox, steps: readonly [ProbeName, ...(string | number)[]][]): Promise<ProbeRun> {
  const names = [...new Set(steps.map(([name]) => name))];
  const sources = await Promise.all(names.map(async (name) => [`${name}.py`, await probeSource(name)] as const));
  return sandbox.run({ code: await probeSource('run_probes'), argv: steps.map((step) => step.join(':')), files: Object.fromEntries(sources) });
}

/**
 * A Sandbox made, used (`use` initializes it) and removed; doctor's Sandboxes never reap other
 * processes' orphans. A failed removal fails the whole: containers may be left behind.
 */
export async function withSandbox<T>(options: SandboxOptions, use: (sandbox: Sandbox) => Promise<T>): Promise<T> {
  const sandbox = new Sandbox({ reapOrphans: false, ...options });
  try {
    return await use(sandbox);
  } finally {
    await sandbox.cleanup();
  }
}

/** The engine, CLI and image options of doctor's Sandboxes. */
export function engineOptions(target: ProbeTarget): SandboxOptions {
  return {
    image: target.image,
    dockerPath: target.dockerPath,
    ...(target.dockerHost !== undefined && { dockerHost: target.dockerHost }),
    ...(target.context !== undefined && { context: target.context }),
  };
}

export interface LimitProbes {
  /** Memory, swap, pids, CPU, tmpfs, file size, read-only root, network, user: in that order. */
  checks: DoctorCheck[];
  /** The cgroup as a probe container saw it; undefined when the probe did not report. */
  view: CgroupView | undefined;
}

/** Every limit probe at once, in three containers of one Sandbox under `runtime`. */
export async function probeLimitsEnforced(target: ProbeTarget, runtime: string | undefined): Promise<LimitProbes> {
  const limits = probeLimits(runtime);
  const memoryTouchMb = limits.memoryLimitMb * 4;
  const swapTouchMb = Math.ceil(limits.memoryLimitMb * 1.5);
  const forkCap = limits.pidsLimit + 16;
  const options: SandboxOptions = {
    ...engineOptions(target),
    poolSize: 3,
    timeoutMs: 20_000,
    ...(runtime !== undefined && { runtime }),
    memoryLimitMb: limits.memoryLimitMb,
    cpus: limits.cpus,
    pidsLimit: limits.pidsLimit,
    tmpSizeMb: limits.tmpSizeMb,
    workdirSizeMb: limits.tmpSizeMb,
    fileSizeLimitMb: limits.fileSizeLimitMb,
  };
  try {
    return await withSandbox(options, async (sandbox) => {
      await sandbox.initialize();
      const [memory, swap, others] = await Promise.all([
        runProbes(sandbox, [['memory_hog', memoryTouchMb]]),
        runProbes(sandbox, [['memory_hog', swapTouchMb]]),
        // The fork loop last: under gVisor the memory limit, not the pids limit, may end it, and the whole container with it.
        runProbes(sandbox, [['isolation'], ['fill_storage', limits.tmpSizeMb * 2, '/tmp'], ['cpu_burn', CPU_BURN_SECONDS], ['fork_count', forkCap]]),
      ]);
      const { checks: isolationChecks, report } = isolationVerdicts(others);
      const view = report?.cgroup;
      return {
        checks: [
          memoryVerdict(memory, limits, memoryTouchMb),
          swapVerdict(swap, limits, swapTouchMb, view),
          pidsVerdict(others, limits, forkCap),
          cpuVerdict(others, limits, view),
          ...storageVerdicts(others, limits),
          ...isolationChecks,
        ],
        view,
      };
    });
  } catch (error) {
    const detail = `the probe containers failed: ${(error as Error).message}`;
    const fix = 'Fix what the message says (the engine, image and runtime checks above may name it), then run doctor again.';
    const names = [CHECK.memory, CHECK.swap, CHECK.pids, CHECK.cpu, CHECK.tmpfs, CHECK.fileSize, CHECK.readOnlyRoot, CHECK.network, CHECK.user];
    return { checks: names.map((name) => failed(name, detail, fix)), view: undefined };
  }
}

/** gVisor when it is registered but not asked for: the isolation probe, once, under runsc. */
export async function probeGvisor(target: ProbeTarget): Promise<DoctorCheck> {
  try {
    const result = await withSandbox({ ...engineOptions(target), poolSize: 1, runtime: 'runsc' }, async (sandbox) => {
      await sandbox.initialize();
      return runProbes(sandbox, [['isolation']]);
    });
    const { checks, report } = isolationVerdicts(result);
    const failing = checks.filter((check) => !check.ok);
    if (report !== undefined && failing.length === 0) {
      return passed(CHECK.gvisor, `runsc is registered and a probe ran under it (uid ${report.uid}, interfaces: ${report.interfaces.join(', ')}, / read-only)`);
    }
    return failed(
      CHECK.gvisor,
      `runsc is registered, but a probe under it found: ${failing.map((check) => `${check.name}: ${check.detail}`).join('; ')}`,
      "Check the runtime's registration (`docker info` Runtimes, its runtimeArgs) and run with NODE_DEBUG=docker-python-sandbox.",
    );
  } catch (error) {
    return failed(
      CHECK.gvisor,
      `runsc is registered, but a probe under it failed: ${(error as Error).message}`,
      'Check the runtime (`runsc --version`; on these machines it needs the runtime argument --network=none, see README gVisor), or run `npm run setup` as root to register it again.',
    );
  }
}
