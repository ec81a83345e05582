/**
 * 3. How long a pool of k containers takes to be ready, against k one-shot runs started at once:
 * what a caller who needs k programs run now pays either way. For each pool size k the two are
 * alternated, each repeat one of each:
 *
 *   ready     a fresh Sandbox({ poolSize: k }), from before initialize() until it resolves
 *   warm      the same start until whenWarm() resolves right after: what the pool does in the
 *             background at start (network-namespace holders, say) is done too
 *   burst     k `docker run --rm -i` hello-world runs started at the same moment, until all k finished
 */
import { median, ratio, round, timed } from '../../shared/stats.js';
import { runOneShot } from '../baselines.js';
import type { BenchConfig } from '../config.js';
import { HELLO } from '../hello.js';
import { closeSandbox, newSandbox } from '../library.js';
import { log } from '../log.js';

export interface PoolReadyResult {
  poolSize: number;
  /** ready: initialize() until it resolved, ms. */
  samplesMs: number[];
  medianMs: number;
  /** warm: from the same start until whenWarm() resolved right after initialize(), ms (absent in reports before issue 13). */
  warmSamplesMs?: number[];
  warmMedianMs?: number;
  /** burst: poolSize one-shot runs started at once, until the last finished, ms (absent in reports before issue 13). */
  burstSamplesMs?: number[];
  burstMedianMs?: number;
  /** medianMs / burstMedianMs: at most 1 means the pool is ready no later than the one-shot runs are done. */
  readyOverBurst?: number;
}

/** One pool start: ms until initialize() resolved and until whenWarm() resolved after it. */
async function timePoolStart(poolSize: number): Promise<{ readyMs: number; warmMs: number }> {
  const sandbox = newSandbox({ poolSize });
  try {
    const { ms: readyMs } = await timed(() => sandbox.initialize());
    const { ms: afterReadyMs } = await timed(() => sandbox.whenWarm());
    return { readyMs, warmMs: readyMs + afterReadyMs };
  } finally {
    await closeSandbox(sandbox);
  }
}

/** k one-shot runs started together; ms until all k finished. */
async function timeOneShotBurst(k: number): Promise<number> {
  const { ms, value: outcomes } = await timed(() => Promise.allSettled(Array.from({ length: k }, () => runOneShot(HELLO))));
  // Every run settled before a failure is reported, so that no container is still being made during the final sweep.
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return ms;
}

export async function measurePoolReady(config: BenchConfig): Promise<PoolReadyResult[]> {
  const results: PoolReadyResult[] = [];
  for (const poolSize of config.poolReadySizes) {
    const samplesMs: number[] = [];
    const warmSamplesMs: number[] = [];
    const burstSamplesMs: number[] = [];
    for (let repeat = 0; repeat < config.poolReadyRepeats; repeat += 1) {
      const { readyMs, warmMs } = await timePoolStart(poolSize);
      samplesMs.push(round(readyMs));
      warmSamplesMs.push(round(warmMs));
      burstSamplesMs.push(round(await timeOneShotBurst(poolSize)));
    }
    const medianMs = median(samplesMs);
    const burstMedianMs = median(burstSamplesMs);
    const readyOverBurst = ratio(medianMs, burstMedianMs);
    log(
      `pool ready: poolSize ${poolSize}: ready ${samplesMs.join(', ')} ms; warm ${warmSamplesMs.join(', ')} ms; ` +
        `${poolSize} one-shot at once ${burstSamplesMs.join(', ')} ms`,
    );
    results.push({ poolSize, samplesMs, medianMs, warmSamplesMs, warmMedianMs: median(warmSamplesMs), burstSamplesMs, burstMedianMs, readyOverBurst });
  }
  return results;
}
