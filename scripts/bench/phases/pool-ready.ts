/**
 * 3. How long initialize() takes until a pool of each size is ready.
 */
import { median, round, timed } from '../../shared/stats.js';
import type { BenchConfig } from '../config.js';
import { closeSandbox, newSandbox } from '../library.js';
import { log } from '../log.js';

export interface PoolReadyResult {
  poolSize: number;
  samplesMs: number[];
  medianMs: number;
}

export async function measurePoolReady(config: BenchConfig): Promise<PoolReadyResult[]> {
  const results: PoolReadyResult[] = [];
  for (const poolSize of config.poolReadySizes) {
    const samplesMs: number[] = [];
    for (let repeat = 0; repeat < config.poolReadyRepeats; repeat += 1) {
      const sandbox = newSandbox({ poolSize });
      try {
        const { ms } = await timed(() => sandbox.initialize());
        samplesMs.push(round(ms));
      } finally {
        await closeSandbox(sandbox);
      }
    }
    log(`pool ready: poolSize ${poolSize}: ${samplesMs.join(', ')} ms`);
    results.push({ poolSize, samplesMs, medianMs: median(samplesMs) });
  }
  return results;
}
