/**
 * The soak's load and limits, and the run configuration its command line picks.
 */

export const POOL_SIZE = 4;
export const CONCURRENCY = 16;
export const TIMEOUT_MS = 2_000;
/** A run the host stops must settle within its limit plus this (the README's promise). */
export const SETTLE_SLACK_MS = 1_000;
export const RSS_GROWTH_LIMIT_MB = 50;
/**
 * RSS moves by some 30 MB either way with what the allocator keeps, so it only catches big leaks;
 * the JS heap after GC moves by well under 1 MB, so a leak of run state shows there first.
 */
export const HEAP_GROWTH_LIMIT_MB = 10;
/** Idle seconds before an RSS sample (see settleMemory()). */
export const RSS_SETTLE_S = 10;
export const FULL_RUNS = 500;
export const QUICK_RUNS = 120;
export const DEFAULT_SEED = 20_251_126;

export interface SoakConfig {
  mode: 'quick' | 'full' | 'custom';
  runs: number;
  seed: number;
  /** Runs of the warm-up batch; RSS is sampled after it and at the end. */
  warmupRuns: number;
}
