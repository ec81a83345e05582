/**
 * doctor's timing check: one container start (a pool of one made ready: `initialize()`) and one
 * warm run of a hello world, next to what the README's Performance section measured on a 2-core
 * machine of the project's kind. It is a report, not a benchmark: it fails only when the hello
 * world does not run, and points to `npm run bench` when the numbers are far off (one run is noisy,
 * and a slow host is not an unsafe one).
 */
import { Sandbox } from '../sandbox.js';
import { CHECK, failed, passed, type DoctorCheck } from './check.js';
import { engineOptions, type ProbeTarget } from './probe-runs.js';

/** The README's numbers: a pool of one ready, and the warm latency p50, under runc and under gVisor. */
export const EXPECTED = {
  runc: { startMs: 250, warmMs: 3.5, warm: '~3-4 ms' },
  runsc: { startMs: 500, warmMs: 8.3, warm: '~8 ms' },
} as const;

/** How many times the README's numbers a measurement must be before the detail says so. */
export const FAR_OFF = 3;

export interface Timing {
  startMs: number;
  warmMs: number;
}

export function timingVerdict(timing: Timing, runtime: string | undefined): DoctorCheck {
  const expected = runtime === 'runsc' ? EXPECTED.runsc : EXPECTED.runc;
  const detail =
    `one container ready in ${Math.round(timing.startMs)} ms (README: ~${expected.startMs} ms), ` +
    `a warm run in ${timing.warmMs.toFixed(1)} ms (README: p50 ${expected.warm})${runtime === 'runsc' ? ' under gVisor' : ''}`;
  const ratio = Math.max(timing.startMs / expected.startMs, timing.warmMs / expected.warmMs);
  if (ratio < FAR_OFF) return passed(CHECK.timing, detail);
  return passed(CHECK.timing, `${detail}; ${ratio.toFixed(0)}x the README's: a loaded host or a slow storage driver? \`npm run bench\` measures properly`);
}

/**
 * Starts a pool of one with the library's default limits and times it, then one `print(1)` in it.
 * Resolves once measured; the Sandbox's removal goes on meanwhile (overlapping what doctor does
 * next), and `check` settles once its containers are gone, failing if they could not be removed.
 */
export async function measureTiming(target: ProbeTarget, runtime: string | undefined): Promise<{ check: Promise<DoctorCheck> }> {
  const sandbox = new Sandbox({ ...engineOptions(target), reapOrphans: false, poolSize: 1, ...(runtime !== undefined && { runtime }) });
  let measured: DoctorCheck;
  try {
    const started = performance.now();
    await sandbox.initialize();
    const ready = performance.now();
    // As the README's benchmark times it: once the pool is quiet (a first pool makes its network-namespace holders after it is ready).
    await sandbox.whenWarm();
    const quiet = performance.now();
    const result = await sandbox.run('print(1)');
    const warmMs = performance.now() - quiet;
    measured =
      result.stdout === '1\n' && !result.isError
        ? timingVerdict({ startMs: ready - started, warmMs }, runtime)
        : failed(CHECK.timing, `a hello world did not print 1: status '${result.status}', stderr: ${result.stderr.slice(0, 300)}`, 'See the probe checks.');
  } catch (error) {
    measured = failed(CHECK.timing, `no container could be timed: ${(error as Error).message}`, 'Fix what the message says, then run doctor again.');
  }
  const check = sandbox.cleanup().then(
    () => measured,
    (error: unknown) =>
      failed(
        CHECK.timing,
        `${measured.detail}; its container could not be removed: ${(error as Error).message}`,
        'Remove what is left with `docker-python-sandbox cleanup` once the engine answers.',
      ),
  );
  return { check };
}
