/**
 * How much the bench measures: the full run, and the quick one CI runs (`--quick`).
 */

export interface BenchConfig {
  mode: 'quick' | 'full';
  latencyRuns: number;
  latencyWarmupRuns: number;
  throughputRuns: number;
  concurrencies: number[];
  throughputPoolSize: number;
  /** Concurrencies at which (c) is timed too (it is not among the headline ratios). */
  naiveConcurrencies: number[];
  /** Pool sizes k whose start is timed against k one-shot runs started at once. */
  poolReadySizes: number[];
  poolReadyRepeats: number;
  rssPoolSize: number;
  rssWarmupRuns: number;
  rssRuns: number;
  tryRunsc: boolean;
}

export const FULL: BenchConfig = {
  mode: 'full',
  latencyRuns: 20,
  latencyWarmupRuns: 2,
  throughputRuns: 100,
  concurrencies: [1, 4, 16],
  throughputPoolSize: 4,
  naiveConcurrencies: [4],
  poolReadySizes: [1, 4, 8],
  poolReadyRepeats: 3,
  rssPoolSize: 4,
  rssWarmupRuns: 50,
  rssRuns: 1000,
  tryRunsc: true,
};

export const QUICK: BenchConfig = {
  mode: 'quick',
  latencyRuns: 10,
  latencyWarmupRuns: 1,
  throughputRuns: 20,
  concurrencies: [4],
  throughputPoolSize: 4,
  naiveConcurrencies: [],
  // 8 stays: the pool-of-8 row is one of issue 13's targets, and CI reports it.
  poolReadySizes: [4, 8],
  poolReadyRepeats: 1,
  rssPoolSize: 4,
  // Every run costs a container's whole life (2-4 per second on a 2-core machine), so the quick
  // RSS check is a smoke test; the growth target means something over the full 1000 runs.
  rssWarmupRuns: 5,
  rssRuns: 15,
  tryRunsc: false,
};

/** The concurrency whose phases also measure host CPU per run. */
export const CPU_CONCURRENCY = 4;
