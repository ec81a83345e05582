/**
 * The soak's report: per-kind figures, memory, leftovers, and whether it all passed.
 */
import { percentile, round } from '../shared/stats.js';
import { HEAP_GROWTH_LIMIT_MB, RSS_GROWTH_LIMIT_MB, type SoakConfig } from './config.js';
import type { Leftovers } from './leftovers.js';
import type { Failure, KindStats } from './runner.js';
import { KINDS, type Kind } from './tasks.js';

interface KindSummary {
  runs: number;
  failures: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  programP50Ms: number;
  programMaxMs: number;
  statuses: Record<string, number>;
}

export interface SoakReport {
  timestamp: string;
  commit: string;
  dirty: boolean;
  host: { cpus: number; node: string; dockerServer: string };
  config: SoakConfig & { poolSize: number; concurrency: number; timeoutMs: number; memoryLimitMb: number; maxOutputBytes: number };
  kinds: Record<Kind, KindSummary>;
  failures: Failure[];
  normalRunsAfterForkBombs: { checked: number; failed: number };
  wallS: number;
  runsPerSecond: number;
  rss: { gc: boolean; afterWarmupMb: number; endMb: number; growthMb: number; peakMb: number; limitMb: number };
  heapUsed: { afterWarmupMb: number; endMb: number; growthMb: number; limitMb: number };
  /** process.memoryUsage() after the warm-up batch and at the end, in MB: where RSS growth sits. */
  memory: { afterWarmup: Record<string, number>; end: Record<string, number>; settleSeriesMb: { afterWarmup: number[]; end: number[] } };
  unhandledRejections: string[];
  uncaughtExceptions: string[];
  leftovers: Leftovers;
  passed: boolean;
}

/** Whole milliseconds: the soak's times are seconds long. */
const wholeMs = (samples: readonly number[], p: number): number => round(percentile(samples, p), 0);

export function summarizeKinds(stats: ReadonlyMap<Kind, KindStats>): Record<Kind, KindSummary> {
  return Object.fromEntries(
    KINDS.map((kind) => {
      const stat = stats.get(kind)!;
      const summary: KindSummary = {
        runs: stat.runs,
        failures: stat.failures,
        p50Ms: wholeMs(stat.latencyMs, 0.5),
        p95Ms: wholeMs(stat.latencyMs, 0.95),
        maxMs: wholeMs(stat.latencyMs, 1),
        programP50Ms: wholeMs(stat.durationMs, 0.5),
        programMaxMs: wholeMs(stat.durationMs, 1),
        statuses: stat.statuses,
      };
      return [kind, summary];
    }),
  ) as Record<Kind, KindSummary>;
}

/** Every check: no failed run, nothing unhandled, memory growth within its limits, nothing left. */
export function passed(report: Omit<SoakReport, 'passed'>): boolean {
  const left = report.leftovers;
  return (
    report.failures.length === 0 &&
    report.unhandledRejections.length === 0 &&
    report.uncaughtExceptions.length === 0 &&
    report.rss.growthMb <= RSS_GROWTH_LIMIT_MB &&
    report.heapUsed.growthMb <= HEAP_GROWTH_LIMIT_MB &&
    left.sandboxContainers.length === 0 &&
    left.ownNewLabelledContainers.length === 0 &&
    left.tempEntries.length === 0 &&
    left.tempDirsInSharedTmp.length === 0
  );
}
