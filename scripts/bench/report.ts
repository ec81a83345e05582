/**
 * The bench's report: what was measured, the ratios between subjects and the targets (reported,
 * never enforced). Also the subjects' names, as the table and the chart show them.
 */
import { ratio } from '../shared/stats.js';
import { CPU_CONCURRENCY, type BenchConfig } from './config.js';
import { inputTransferTarget, type InputTransferResult } from './phases/input-transfer.js';
import type { LatencyKey, LatencyResults } from './phases/latency.js';
import type { PoolReadyResult } from './phases/pool-ready.js';
import type { RssResult } from './phases/rss.js';
import { sshTargets, type SshResult } from './phases/ssh.js';
import type { EnginesResult } from './phases/engines.js';
import type { ThroughputLevel } from './phases/throughput.js';

export interface Ratios {
  latencyP50BOverA?: number;
  latencyP50COverA?: number;
  latencyP50RunscOverRunc?: number;
  /** By concurrency, as a string: { '4': 1.42 }. */
  throughputAOverB: Record<string, number | undefined>;
  throughputAOverC: Record<string, number | undefined>;
  cpuPerRunBOverA?: number;
  /** By pool size k, as a string: median time until a pool of k is ready / median time of k one-shot runs started at once. */
  poolReadyOverBurst?: Record<string, number | undefined>;
}

export interface Target {
  name: string;
  status: 'PASS' | 'MISS' | 'SKIP';
  measured: string;
}

export interface BenchReport {
  timestamp: string;
  commit: string;
  dirty: boolean;
  mode: BenchConfig['mode'];
  host: { cpus: number; node: string; runtimes: string[]; dockerServer: string };
  image: string;
  limitArgs: string[];
  config: BenchConfig;
  latencyMs: LatencyResults;
  throughput: ThroughputLevel[];
  poolReady: PoolReadyResult[];
  rss: RssResult;
  inputTransfer?: InputTransferResult;
  ssh?: SshResult | undefined;
  engines?: EnginesResult | undefined;
  ratios: Ratios;
  targets: Target[];
  phaseSeconds: Record<string, number>;
  durationS: number;
}

export const SUBJECT_NAMES: Record<LatencyKey, string> = {
  a: '(a) library, warm pool',
  aRunsc: '(a) library, warm pool, runsc',
  b: '(b) docker run --rm -i',
  c: '(c) warm container + docker exec',
};

export function computeRatios(latency: LatencyResults, throughput: ThroughputLevel[], poolReady: PoolReadyResult[] = []): Ratios {
  const p50 = (key: LatencyKey): number | undefined => latency[key]?.summary.p50;
  const cpuLevel = throughput.find((level) => level.concurrency === CPU_CONCURRENCY);
  const byConcurrency = (pick: (level: ThroughputLevel) => number | undefined): Record<string, number | undefined> =>
    Object.fromEntries(throughput.map((level) => [String(level.concurrency), pick(level)]));
  return {
    latencyP50BOverA: ratio(p50('b'), p50('a')),
    latencyP50COverA: ratio(p50('c'), p50('a')),
    latencyP50RunscOverRunc: ratio(p50('aRunsc'), p50('a')),
    throughputAOverB: byConcurrency((level) => ratio(level.a.runsPerSecond, level.b.runsPerSecond)),
    throughputAOverC: byConcurrency((level) => ratio(level.a.runsPerSecond, level.c?.runsPerSecond)),
    cpuPerRunBOverA: ratio(cpuLevel?.b.cpu?.msPerRun, cpuLevel?.a.cpu?.msPerRun),
    poolReadyOverBurst: Object.fromEntries(poolReady.map((pool) => [String(pool.poolSize), ratio(pool.medianMs, pool.burstMedianMs)])),
  };
}

function checkTarget(name: string, value: number | undefined, ok: (value: number) => boolean, show: (value: number) => string): Target {
  if (value === undefined || Number.isNaN(value)) return { name, status: 'SKIP', measured: 'not measured' };
  return { name, status: ok(value) ? 'PASS' : 'MISS', measured: show(value) };
}

/** Issue 13: a pool of 8 is ready no later than 8 one-shot runs started at once are done. */
const POOL_TARGET_SIZE = 8;

function poolVersusBurstTarget(pool: PoolReadyResult | undefined): Target {
  const name = `pool of ${POOL_TARGET_SIZE} ready <= ${POOL_TARGET_SIZE} one-shot runs at once`;
  const burstMs = pool?.burstMedianMs; // absent in reports written before the burst was measured
  if (pool === undefined || burstMs === undefined) return checkTarget(name, undefined, () => false, String);
  return checkTarget(
    name,
    ratio(pool.medianMs, burstMs),
    (v) => v <= 1,
    (v) => `${v.toFixed(2)}x (${pool.medianMs.toFixed(0)} vs ${burstMs.toFixed(0)} ms)`,
  );
}

export function evaluateTargets(report: Omit<BenchReport, 'targets' | 'durationS'>): Target[] {
  const { latencyMs, ratios, poolReady, rss } = report;
  const ms = (value: number): string => `${value.toFixed(1)} ms`;
  const times = (value: number): string => `${value.toFixed(2)}x`;
  return [
    checkTarget('warm p50 <= 20 ms', latencyMs.a?.summary.p50, (v) => v <= 20, ms),
    checkTarget('(b)/(a) p50 >= 60x', ratios.latencyP50BOverA, (v) => v >= 60, times),
    checkTarget('throughput a/b at c=4 >= 1.6x', ratios.throughputAOverB['4'], (v) => v >= 1.6, times),
    checkTarget('throughput a/b at c=16 >= 1.6x', ratios.throughputAOverB['16'], (v) => v >= 1.6, times),
    poolVersusBurstTarget(poolReady.find((p) => p.poolSize === POOL_TARGET_SIZE)),
    checkTarget(
      `RSS growth < 20 MB (${rss.runs} runs)`,
      rss.growthMb,
      (v) => v < 20,
      (v) => `${v.toFixed(1)} MB`,
    ),
    checkTarget('runsc p50 <= 1.3x runc p50', ratios.latencyP50RunscOverRunc, (v) => v <= 1.3, times),
    inputTransferTarget(report.inputTransfer),
    ...sshTargets(report.ssh),
  ];
}
