/**
 * 2 + 4. Throughput of (a), (b) and, at some concurrencies, (c), one after the other at each
 * concurrency; at CPU_CONCURRENCY also host CPU per run.
 */
import { performance } from 'node:perf_hooks';
import { runConcurrently } from '../../shared/concurrency.js';
import { backgroundCpuRate, hostBusyCpuMs } from '../../shared/process-usage.js';
import { round } from '../../shared/stats.js';
import { NaiveContainer, runOneShot } from '../baselines.js';
import { CPU_CONCURRENCY, type BenchConfig } from '../config.js';
import { HELLO } from '../hello.js';
import { closeSandbox, openSandbox, runOnLibrary } from '../library.js';
import { phaseProgress } from '../log.js';

interface CpuResult {
  /** Host busy CPU per run over the window, in ms. */
  msPerRun: number;
  /** The window: the runs plus, for (a), the pool refilling after the last one. */
  windowMs: number;
  /**
   * Host busy CPU per second over half a second before the phase, with nothing of ours running.
   * /proc/stat is host-wide: this is what other tenants (another developer's engine work, the
   * VM's steal) were adding at the time, a rough idea of how much of msPerRun is not ours.
   */
  backgroundMsPerSecond: number;
}

export interface PhaseResult {
  runs: number;
  concurrency: number;
  wallMs: number;
  runsPerSecond: number;
  /** Measured at CPU_CONCURRENCY only. */
  cpu?: CpuResult;
}

export interface ThroughputLevel {
  concurrency: number;
  a: PhaseResult;
  b: PhaseResult;
  /** Only at config.naiveConcurrencies. */
  c?: PhaseResult;
}

/**
 * Times `runs` programs at `concurrency`. `settle` runs after the last program, outside the
 * throughput timing but inside the CPU window, so that work a subject defers (the pool
 * refilling) is charged to the runs that caused it.
 */
async function throughputPhase(
  name: string,
  runs: number,
  concurrency: number,
  runOne: (worker: number) => Promise<void>,
  settle: () => Promise<void> = async () => {},
): Promise<PhaseResult> {
  const measureCpu = concurrency === CPU_CONCURRENCY;
  const background = measureCpu ? await backgroundCpuRate() : 0;
  const tick = phaseProgress(`throughput ${name} c=${concurrency}`, runs);
  const cpuBefore = await hostBusyCpuMs();
  const start = performance.now();
  await runConcurrently(runs, concurrency, async (worker) => {
    await runOne(worker);
    tick();
  });
  const wallMs = performance.now() - start;
  await settle();
  const windowMs = performance.now() - start;
  const cpuMs = (await hostBusyCpuMs()) - cpuBefore;
  const result: PhaseResult = { runs, concurrency, wallMs: round(wallMs), runsPerSecond: round((runs * 1000) / wallMs, 2) };
  if (measureCpu) result.cpu = { msPerRun: round(cpuMs / runs), windowMs: round(windowMs), backgroundMsPerSecond: round(background) };
  return result;
}

/** (c) for throughput: one container per worker; removal and replacement are inside the timing. */
async function naiveThroughput(runs: number, concurrency: number): Promise<PhaseResult> {
  const slots: NaiveContainer[] = [];
  try {
    for (let i = 0; i < Math.min(concurrency, runs); i += 1) slots.push(await NaiveContainer.start());
    return await throughputPhase('(c) docker exec', runs, concurrency, async (worker) => {
      const container = slots[worker];
      if (container === undefined) throw new Error(`internal error: no container for worker ${worker}`);
      await container.run(HELLO);
      await container.remove();
      slots[worker] = await NaiveContainer.start();
    });
  } finally {
    await Promise.allSettled(slots.map((container) => container.remove()));
  }
}

export async function measureThroughput(config: BenchConfig): Promise<ThroughputLevel[]> {
  const sandbox = await openSandbox({ poolSize: config.throughputPoolSize });
  try {
    const levels: ThroughputLevel[] = [];
    for (const concurrency of config.concurrencies) {
      const runs = config.throughputRuns;
      await sandbox.whenWarm(); // timing starts with a full, quiet pool
      const a = await throughputPhase(
        '(a) library',
        runs,
        concurrency,
        async () => void (await runOnLibrary(sandbox, HELLO)),
        () => sandbox.whenWarm(),
      );
      const b = await throughputPhase('(b) docker run --rm', runs, concurrency, async () => void (await runOneShot(HELLO)));
      const c = config.naiveConcurrencies.includes(concurrency) ? await naiveThroughput(runs, concurrency) : undefined;
      levels.push(c === undefined ? { concurrency, a, b } : { concurrency, a, b, c });
    }
    return levels;
  } finally {
    await closeSandbox(sandbox);
  }
}
