/**
 * The bench's report as the text printed on stdout: one table per measurement, then the targets.
 */
import { ratio } from '../shared/stats.js';
import { CPU_CONCURRENCY } from './config.js';
import type { LatencyKey } from './phases/latency.js';
import type { PoolReadyResult } from './phases/pool-ready.js';
import { inputTransferSection } from './phases/input-transfer.js';
import { sshSection } from './phases/ssh.js';
import { enginesSection } from './phases/engines.js';
import { SUBJECT_NAMES, type BenchReport } from './report.js';

/** A plain text table: the first column left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, col) => Math.max(cell.length, ...rows.map((row) => (row[col] ?? '').length)));
  const line = (row: string[]): string =>
    '  ' + row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('   ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** A figure, or '-' where it was not measured. */
function fmt(value: number | undefined, digits = 1, suffix = ''): string {
  return value === undefined || Number.isNaN(value) ? '-' : `${value.toFixed(digits)}${suffix}`;
}

function latencySection(report: BenchReport): string[] {
  const { latencyMs, ratios } = report;
  const aP50 = latencyMs.a?.summary.p50;
  return [
    '',
    `1. Hello-world latency, ms (${report.config.latencyRuns} sequential runs each, interleaved, quiet engine before each run)`,
    table(
      ['subject', 'p50', 'p95', 'max', 'p50 / (a) p50'],
      (Object.keys(SUBJECT_NAMES) as LatencyKey[]).flatMap((key) => {
        const summary = latencyMs[key]?.summary;
        return summary ? [[SUBJECT_NAMES[key], fmt(summary.p50), fmt(summary.p95), fmt(summary.max), fmt(ratio(summary.p50, aP50), 2, 'x')]] : [];
      }),
    ),
    `  latency speed-up (b)/(a) p50: ${fmt(ratios.latencyP50BOverA, 1, 'x')}   (c)/(a) p50: ${fmt(ratios.latencyP50COverA, 1, 'x')}   runsc/runc (a) p50: ${fmt(ratios.latencyP50RunscOverRunc, 2, 'x')}`,
  ];
}

function throughputSection(report: BenchReport): string[] {
  const { throughput, ratios } = report;
  return [
    '',
    `2. Throughput, runs/s (${report.config.throughputRuns} runs per phase; (a) poolSize ${report.config.throughputPoolSize})`,
    table(
      ['concurrency', '(a) library', '(b) docker run', '(c) docker exec', '(a)/(b)', '(a)/(c)'],
      throughput.map((level) => [
        String(level.concurrency),
        fmt(level.a.runsPerSecond, 2),
        fmt(level.b.runsPerSecond, 2),
        fmt(level.c?.runsPerSecond, 2),
        fmt(ratios.throughputAOverB[String(level.concurrency)], 2, 'x'),
        fmt(ratios.throughputAOverC[String(level.concurrency)], 2, 'x'),
      ]),
    ),
  ];
}

function poolReadySection(report: BenchReport): string[] {
  const repeats = report.config.poolReadyRepeats;
  // Samples as ready/warm/burst per repeat; old reports have only ready.
  const samples = (p: PoolReadyResult): string =>
    p.samplesMs.map((ready, i) => [ready, p.warmSamplesMs?.[i], p.burstSamplesMs?.[i]].map((ms) => fmt(ms, 0)).join('/')).join(', ');
  return [
    '',
    `3. Pool of k ready vs k one-shot runs started at once, ms (alternated; ${repeats > 1 ? `median of ${repeats}` : 'one try'})`,
    table(
      ['poolSize', 'ready', 'warm', 'k one-shot at once', 'ready / one-shot', 'samples ready/warm/one-shot'],
      report.poolReady.map((p) => [
        String(p.poolSize),
        fmt(p.medianMs, 0),
        fmt(p.warmMedianMs, 0),
        fmt(p.burstMedianMs, 0),
        fmt(ratio(p.medianMs, p.burstMedianMs), 2, 'x'),
        samples(p),
      ]),
    ),
    '  (ready: initialize() resolved; warm: whenWarm() resolved right after, background start work done; one-shot: k `docker run --rm -i` hello worlds)',
  ];
}

function cpuSection(report: BenchReport): string[] {
  const out = [
    '',
    `4. Host CPU per run at concurrency ${CPU_CONCURRENCY}, ms (host-wide non-idle /proc/stat time incl. steal; (a) includes refilling the pool)`,
  ];
  const cpuLevel = report.throughput.find((level) => level.concurrency === CPU_CONCURRENCY);
  if (!cpuLevel) return [...out, '  (not measured: no phase at this concurrency)'];
  const aCpu = cpuLevel.a.cpu?.msPerRun;
  out.push(
    table(
      ['subject', 'CPU ms/run', '/ (a)', 'background before, ms/s'],
      (['a', 'b', 'c'] as const).flatMap((key) => {
        const cpu = cpuLevel[key]?.cpu;
        return cpu ? [[SUBJECT_NAMES[key], fmt(cpu.msPerRun), fmt(ratio(cpu.msPerRun, aCpu), 2, 'x'), fmt(cpu.backgroundMsPerSecond, 0)]] : [];
      }),
    ),
    `  (background: host busy CPU per second just before the phase, with nothing of ours running; ${report.host.cpus} cores = ${report.host.cpus * 1000} ms/s)`,
  );
  return out;
}

function rssSection(report: BenchReport): string[] {
  const { rss } = report;
  return [
    '',
    `5. Host process RSS over ${rss.runs} library runs (poolSize ${rss.poolSize}, concurrency ${rss.concurrency}, gc ${rss.gcAvailable ? 'forced' : 'not available'})`,
    `  before ${fmt(rss.beforeMb)} MB   after ${fmt(rss.afterMb)} MB   growth ${fmt(rss.growthMb)} MB   (heapUsed ${fmt(rss.heapUsedBeforeMb)} -> ${fmt(rss.heapUsedAfterMb)} MB)`,
  ];
}

export function renderText(report: BenchReport): string {
  return [
    `docker-python-sandbox benchmark (${report.mode}) ${report.timestamp}, commit ${report.commit}${report.dirty ? ' (dirty)' : ''}`,
    `host: ${report.host.cpus} CPUs, node ${report.host.node}, docker ${report.host.dockerServer}, runtimes ${report.host.runtimes.join(', ')}`,
    `limits (all subjects): ${report.limitArgs.join(' ')}`,
    ...latencySection(report),
    ...throughputSection(report),
    ...poolReadySection(report),
    ...cpuSection(report),
    ...rssSection(report),
    ...inputTransferSection(report.inputTransfer),
    ...sshSection(report.ssh),
    ...enginesSection(report.engines),
    '',
    'Targets (reported, not enforced)',
    ...report.targets.map((target) => `  [${target.status}] ${target.name.padEnd(44)} ${target.measured}`),
    '',
    `took ${report.durationS.toFixed(0)} s`,
  ].join('\n');
}
