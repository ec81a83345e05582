/**
 * 5. This process's RSS and JS heap before and after many library runs: a leak per run shows as growth.
 */
import { runConcurrently } from '../../shared/concurrency.js';
import { bytesToMb, garbageCollector } from '../../shared/process-usage.js';
import type { BenchConfig } from '../config.js';
import { HELLO } from '../hello.js';
import { closeSandbox, openSandbox, runOnLibrary } from '../library.js';
import { phaseProgress } from '../log.js';

export interface RssResult {
  runs: number;
  concurrency: number;
  poolSize: number;
  gcAvailable: boolean;
  beforeMb: number;
  afterMb: number;
  growthMb: number;
  heapUsedBeforeMb: number;
  heapUsedAfterMb: number;
}

const CONCURRENCY = 4;

export async function measureRss(config: BenchConfig): Promise<RssResult> {
  const gc = garbageCollector();
  const sandbox = await openSandbox({ poolSize: config.rssPoolSize });
  try {
    const runMany = async (runs: number, phase: string): Promise<void> => {
      const tick = phaseProgress(phase, runs);
      await runConcurrently(runs, CONCURRENCY, async () => {
        await runOnLibrary(sandbox, HELLO);
        tick();
      });
      // Samples are taken with the pool full and quiet, after a collection.
      await sandbox.whenWarm();
      gc?.();
    };
    await runMany(config.rssWarmupRuns, 'rss warm-up');
    const before = process.memoryUsage();
    await runMany(config.rssRuns, 'rss runs');
    const after = process.memoryUsage();
    return {
      runs: config.rssRuns,
      concurrency: CONCURRENCY,
      poolSize: config.rssPoolSize,
      gcAvailable: gc !== undefined,
      beforeMb: bytesToMb(before.rss),
      afterMb: bytesToMb(after.rss),
      growthMb: bytesToMb(after.rss - before.rss),
      heapUsedBeforeMb: bytesToMb(before.heapUsed),
      heapUsedAfterMb: bytesToMb(after.heapUsed),
    };
  } finally {
    await closeSandbox(sandbox);
  }
}
