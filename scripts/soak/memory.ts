/**
 * This process's memory as the soak samples it: the lowest RSS once quiet, and the peak meanwhile.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sandbox } from '../../lib/index.js';
import { bytesToMb } from '../shared/process-usage.js';
import { RSS_SETTLE_S } from './config.js';

/**
 * Memory once the pool is quiet and has settled. Under a burst of output V8's young generation
 * grows to 32 MB and freed pages are kept; both are handed back only after about 6 idle seconds
 * (V8's memory reducer). So: GC once a second for RSS_SETTLE_S seconds and keep the lowest RSS.
 */
export async function settleMemory(sandbox: Sandbox, gc: (() => void) | undefined): Promise<{ usage: NodeJS.MemoryUsage; seriesMb: number[] }> {
  await sandbox.whenWarm();
  gc?.();
  let lowest = process.memoryUsage();
  const seriesMb = [bytesToMb(lowest.rss)];
  for (let second = 0; second < RSS_SETTLE_S; second++) {
    await sleep(1_000);
    gc?.();
    const sample = process.memoryUsage();
    seriesMb.push(bytesToMb(sample.rss));
    if (sample.rss < lowest.rss) lowest = sample;
  }
  return { usage: lowest, seriesMb };
}

/** Samples RSS every half second until stop(), which returns the highest sample in bytes. */
export function watchPeakRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 500);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}
