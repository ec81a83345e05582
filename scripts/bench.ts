/**
 * Benchmark: this library's warm pool against the two obvious ways to run a program in a
 * container under the same limits, measured side by side in one process on one machine.
 *
 *   (a) library   `sandbox.run(code)` on a warm pool
 *   (b) one-shot  `docker run --rm -i <limits> IMAGE python3 -` per program, code on stdin
 *   (c) naive     a pre-started container per program: write the code, `docker exec python3`,
 *                 then remove the container and start a replacement
 *
 * Absolute times on a shared 2-core machine are noisy, so the report leans on ratios of numbers
 * measured side by side: latency runs are interleaved (a, b, c, a, b, c, ...) with everything
 * quiet before each timed run, and the throughput phases of a, b and c follow each other at
 * each concurrency.
 *
 * Usage: npm run bench [-- --quick]
 * Progress goes to stderr, the table to stdout, raw numbers to bench-results/. Exits non-zero
 * only on a real failure (wrong output, docker error, leaked container), never on a missed target.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { execa } from 'execa';
import { CONTAINER_LABEL, Sandbox, type SandboxOptions } from '../lib/index.js';
import { buildLimitArgs } from '../lib/docker/container-args.js';
import { limitsOf } from '../lib/runner/container-fleet.js';
import { DEFAULT_IMAGE, parseSandboxOptions } from '../lib/options.js';
import { cleanUpOnInterrupt } from './interrupt.js';

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

const HELLO = 'print("Hello world")';
const EXPECTED = 'Hello world\n';
const IMAGE = DEFAULT_IMAGE;
const RESULTS_DIR = 'bench-results';
/** Every baseline container carries the library's label and this one, so the bench can sweep up exactly its own. */
const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
const BENCH_LABEL = `${CONTAINER_LABEL}.bench`;
/** /proc/stat counts in clock ticks of 1/CLK_TCK s; CLK_TCK is 100 on Linux (getconf CLK_TCK). */
const CLK_TCK = 100;

interface BenchConfig {
  mode: 'quick' | 'full';
  latencyRuns: number;
  latencyWarmupRuns: number;
  throughputRuns: number;
  concurrencies: number[];
  throughputPoolSize: number;
  /** Concurrencies at which (c) is timed too (it is not among the headline ratios). */
  naiveConcurrencies: number[];
  poolReadySizes: number[];
  poolReadyRepeats: number;
  rssPoolSize: number;
  rssWarmupRuns: number;
  rssRuns: number;
  tryRunsc: boolean;
}

const FULL: BenchConfig = {
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

const QUICK: BenchConfig = {
  mode: 'quick',
  latencyRuns: 10,
  latencyWarmupRuns: 1,
  throughputRuns: 20,
  concurrencies: [4],
  throughputPoolSize: 4,
  naiveConcurrencies: [],
  poolReadySizes: [1, 4],
  poolReadyRepeats: 1,
  rssPoolSize: 4,
  // Every run costs a container's whole life (2-4 per second on a 2-core machine), so the quick
  // RSS check is a smoke test; the growth target means something over the full 1000 runs.
  rssWarmupRuns: 5,
  rssRuns: 15,
  tryRunsc: false,
};

/** The concurrency whose phases also measure host CPU per run. */
const CPU_CONCURRENCY = 4;

/** The library's default limits as docker flags: the baselines run under exactly these. */
const LIMIT_ARGS = buildLimitArgs(limitsOf(parseSandboxOptions({})));
const BASELINE_ARGS = ['--pull', 'never', '--label', CONTAINER_LABEL, '--label', `${BENCH_LABEL}=${RUN_ID}`, ...LIMIT_ARGS];

// ---------------------------------------------------------------------------------------------
// Small helpers: logging, statistics, failures
// ---------------------------------------------------------------------------------------------

/** A real failure (wrong output, docker error): the process exits non-zero. */
class BenchFailure extends Error {
  override name = 'BenchFailure';
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Logs `phase: done/total` every tenth of the way (at least every 10 runs) and at the end. */
function progress(phase: string, total: number): () => void {
  const every = Math.max(10, Math.ceil(total / 10));
  let done = 0;
  return () => {
    done += 1;
    if (done % every === 0 || done === total) log(`${phase}: ${done}/${total}`);
  };
}

interface Summary {
  n: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((x, y) => x - y);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, p50: round(percentile(sorted, 0.5)), p95: round(percentile(sorted, 0.95)), max: round(sorted.at(-1) ?? Number.NaN), mean: round(mean) };
}

function median(samples: readonly number[]): number {
  return percentile([...samples].sort((x, y) => x - y), 0.5);
}

function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined || denominator === 0) return undefined;
  return round(numerator / denominator, 3);
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

function expectHello(stdout: string, who: string, stderr = ''): void {
  if (stdout === EXPECTED) return;
  const details = stderr.trim() ? `; stderr: ${JSON.stringify(stderr.trim().slice(0, 300))}` : '';
  throw new BenchFailure(`${who}: expected stdout ${JSON.stringify(EXPECTED)}, got ${JSON.stringify(stdout.slice(0, 300))}${details}`);
}

/**
 * Runs `total` tasks with at most `concurrency` in flight. Each task learns its worker's index
 * (0..concurrency-1), so a worker can own a resource. The first failure stops new tasks.
 */
async function runConcurrently(total: number, concurrency: number, task: (worker: number) => Promise<void>): Promise<void> {
  let started = 0;
  let failed = false;
  const worker = async (index: number): Promise<void> => {
    while (!failed && started < total) {
      started += 1;
      try {
        await task(index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, (_, index) => worker(index)));
}

// ---------------------------------------------------------------------------------------------
// Docker: the baselines and the bench's own bookkeeping
// ---------------------------------------------------------------------------------------------

async function docker(args: readonly string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const result = await execa('docker', args, { input, reject: false, stripFinalNewline: false });
  if (result.exitCode !== 0) {
    throw new BenchFailure(`docker ${args.slice(0, 3).join(' ')} ... exited ${String(result.exitCode)}: ${result.stderr.trim().slice(0, 500)}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

/** (b): one `docker run --rm -i` per program, code on stdin. The CLI returns once the container is removed. */
async function runOneShot(code: string): Promise<string> {
  const { stdout, stderr } = await docker(['run', '--rm', '-i', ...BASELINE_ARGS, IMAGE, 'python3', '-'], code);
  expectHello(stdout, '(b) docker run --rm', stderr);
  return stdout;
}

/**
 * (c): a pre-started container that runs one program through `docker exec`.
 *
 * `docker cp` into the container does not work under the library's limits: the root filesystem
 * is read-only and the engine refuses the copy ("container rootfs is marked read-only") even when
 * the target is the /tmp tmpfs. So, like the library, each container gets its own host temp dir
 * bind-mounted read-only at /sandbox-in, and "copying the code in" is a file write on the host.
 */
class NaiveContainer {
  private constructor(
    readonly id: string,
    private readonly dir: string,
  ) {}

  static async start(): Promise<NaiveContainer> {
    const dir = await mkdtemp(join(tmpdir(), 'dps-bench-'));
    try {
      await chmod(dir, 0o711); // the container user (uid 1000) must reach the file
      const { stdout } = await docker(['run', '-d', ...BASELINE_ARGS, '--volume', `${dir}:/sandbox-in:ro`, IMAGE, 'sleep', 'infinity']);
      return new NaiveContainer(stdout.trim(), dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async run(code: string): Promise<string> {
    await writeFile(join(this.dir, 'main.py'), code, { mode: 0o644 });
    const { stdout, stderr } = await docker(['exec', this.id, 'python3', '/sandbox-in/main.py']);
    expectHello(stdout, '(c) docker exec', stderr);
    return stdout;
  }

  async remove(): Promise<void> {
    await docker(['rm', '--force', '--volumes', this.id]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Removes whatever baseline containers of this run are left (they all carry BENCH_LABEL=RUN_ID). */
async function sweepBaselineContainers(): Promise<number> {
  const { stdout } = await docker(['ps', '-aq', '--filter', `label=${BENCH_LABEL}=${RUN_ID}`]);
  const ids = stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '--force', '--volumes', ...ids]);
  return ids.length;
}

/** Containers still labelled as a Sandbox's, after its cleanup(): there must be none. */
async function leftoverContainers(sandboxId: string): Promise<string[]> {
  const { stdout } = await docker(['ps', '-aq', '--filter', `label=${CONTAINER_LABEL}.sandbox=${sandboxId}`]);
  return stdout.split('\n').filter(Boolean);
}

async function runtimes(): Promise<string[]> {
  const { stdout } = await docker(['info', '--format', '{{json .Runtimes}}']);
  return Object.keys(JSON.parse(stdout.trim() || '{}') as Record<string, unknown>);
}

// ---------------------------------------------------------------------------------------------
// The library, with every Sandbox tracked so that none outlives the bench
// ---------------------------------------------------------------------------------------------

const openSandboxes = new Set<Sandbox>();
const leakedContainers: string[] = [];

async function openSandbox(options: SandboxOptions): Promise<Sandbox> {
  const sandbox = new Sandbox(options);
  openSandboxes.add(sandbox);
  await sandbox.initialize();
  return sandbox;
}

/** cleanup(), then check that the Sandbox's containers really are gone (removing any that are not). */
async function closeSandbox(sandbox: Sandbox): Promise<void> {
  await sandbox.cleanup();
  openSandboxes.delete(sandbox);
  const left = await leftoverContainers(sandbox.id);
  if (left.length > 0) {
    leakedContainers.push(...left);
    await docker(['rm', '--force', '--volumes', ...left]);
  }
}

async function runOnLibrary(sandbox: Sandbox, code: string, who = '(a) library'): Promise<string> {
  const result = await sandbox.run(code);
  if (result.isError || result.exitCode !== 0) {
    throw new BenchFailure(`${who}: run failed (exit ${String(result.exitCode)}, timedOut ${result.timedOut}): ${result.stderr.slice(0, 300)}`);
  }
  expectHello(result.stdout, who, result.stderr);
  return result.stdout;
}

// ---------------------------------------------------------------------------------------------
// Host measurements
// ---------------------------------------------------------------------------------------------

/** Busy CPU time of the whole host so far, in ms: user+nice+system+irq+softirq+steal from /proc/stat. */
async function hostBusyCpuMs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLK_TCK;
}

/** global.gc with --expose-gc; otherwise the flag is switched on at run time to get one. */
function garbageCollector(): (() => void) | undefined {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Hello-world latency: sequential, interleaved, everything quiet before each timed run
// ---------------------------------------------------------------------------------------------

type LatencyKey = 'a' | 'aRunsc' | 'b' | 'c';

interface LatencySubject {
  key: LatencyKey;
  /** Untimed: back to the ready state (pool warm, a fresh container started, old one removed). */
  settle(): Promise<void>;
  /** Timed: one hello-world program, output checked. */
  run(): Promise<void>;
  close(): Promise<void>;
}

function librarySubject(key: LatencyKey, sandbox: Sandbox, who: string): LatencySubject {
  return {
    key,
    settle: () => sandbox.whenWarm(),
    run: async () => void (await runOnLibrary(sandbox, HELLO, who)),
    close: () => closeSandbox(sandbox),
  };
}

function oneShotSubject(): LatencySubject {
  return { key: 'b', settle: async () => {}, run: async () => void (await runOneShot(HELLO)), close: async () => {} };
}

/** (c) for latency: the container's removal and replacement happen in settle(), outside the timing. */
function naiveSubject(): LatencySubject {
  let container: NaiveContainer | undefined;
  let used = false;
  return {
    key: 'c',
    settle: async () => {
      if (container !== undefined && !used) return;
      await container?.remove();
      container = undefined; // if the start below fails, close() has nothing to remove
      container = await NaiveContainer.start();
      used = false;
    },
    run: async () => {
      if (container === undefined || used) throw new Error('internal error: (c) run without a fresh container');
      used = true;
      await container.run(HELLO);
    },
    close: async () => {
      await container?.remove();
      container = undefined;
    },
  };
}

type LatencyResults = Partial<Record<LatencyKey, { samples: number[]; summary: Summary }>>;

async function measureLatency(config: BenchConfig, withRunsc: boolean): Promise<LatencyResults> {
  const subjects: LatencySubject[] = [];
  try {
    subjects.push(librarySubject('a', await openSandbox({ poolSize: 1 }), '(a) library'));
    if (withRunsc) subjects.push(librarySubject('aRunsc', await openSandbox({ poolSize: 1, runtime: 'runsc' }), '(a) library runsc'));
    subjects.push(oneShotSubject(), naiveSubject());

    const settleAll = async (): Promise<void> => {
      await Promise.all(subjects.map((subject) => subject.settle()));
    };
    const samples = new Map<LatencyKey, number[]>(subjects.map((subject) => [subject.key, []]));
    const tick = progress(`latency (${subjects.map((s) => s.key).join(', ')} interleaved)`, config.latencyRuns);
    // Negative iterations are untimed warm-up rounds.
    for (let iteration = -config.latencyWarmupRuns; iteration < config.latencyRuns; iteration += 1) {
      for (const subject of subjects) {
        // Nothing in the background (a pool refilling, a container being removed) during a timed run.
        await settleAll();
        const { ms } = await timed(() => subject.run());
        if (iteration >= 0) samples.get(subject.key)?.push(ms);
      }
      if (iteration >= 0) tick();
    }
    const results: LatencyResults = {};
    for (const [key, list] of samples) results[key] = { samples: list.map((ms) => round(ms, 3)), summary: summarize(list) };
    return results;
  } finally {
    // allSettled: a failing close must not hide the error that got us here (the final sweep catches leftovers).
    await Promise.allSettled(subjects.map((subject) => subject.close()));
  }
}

// ---------------------------------------------------------------------------------------------
// 2 + 4. Throughput at several concurrencies (and host CPU per run at CPU_CONCURRENCY)
// ---------------------------------------------------------------------------------------------

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

interface PhaseResult {
  runs: number;
  concurrency: number;
  wallMs: number;
  runsPerSecond: number;
  /** Measured at CPU_CONCURRENCY only. */
  cpu?: CpuResult;
}

interface ThroughputLevel {
  concurrency: number;
  a: PhaseResult;
  b: PhaseResult;
  /** Only at config.naiveConcurrencies. */
  c?: PhaseResult;
}

/** Host busy CPU per second over `ms` of (our) idleness. */
async function backgroundCpuRate(ms = 500): Promise<number> {
  const before = await hostBusyCpuMs();
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ((await hostBusyCpuMs()) - before) / ((performance.now() - start) / 1000);
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
  const tick = progress(`throughput ${name} c=${concurrency}`, runs);
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

async function measureThroughput(config: BenchConfig): Promise<ThroughputLevel[]> {
  const sandbox = await openSandbox({ poolSize: config.throughputPoolSize });
  try {
    const levels: ThroughputLevel[] = [];
    for (const concurrency of config.concurrencies) {
      const runs = config.throughputRuns;
      await sandbox.whenWarm(); // timing starts with a full, quiet pool
      const a = await throughputPhase('(a) library', runs, concurrency, async () => void (await runOnLibrary(sandbox, HELLO)), () => sandbox.whenWarm());
      const b = await throughputPhase('(b) docker run --rm', runs, concurrency, async () => void (await runOneShot(HELLO)));
      const c = config.naiveConcurrencies.includes(concurrency) ? await naiveThroughput(runs, concurrency) : undefined;
      levels.push(c === undefined ? { concurrency, a, b } : { concurrency, a, b, c });
    }
    return levels;
  } finally {
    await closeSandbox(sandbox);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Time until a pool is ready
// ---------------------------------------------------------------------------------------------

interface PoolReadyResult {
  poolSize: number;
  samplesMs: number[];
  medianMs: number;
}

async function measurePoolReady(config: BenchConfig): Promise<PoolReadyResult[]> {
  const results: PoolReadyResult[] = [];
  for (const poolSize of config.poolReadySizes) {
    const samplesMs: number[] = [];
    for (let repeat = 0; repeat < config.poolReadyRepeats; repeat += 1) {
      const sandbox = new Sandbox({ poolSize });
      openSandboxes.add(sandbox);
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

// ---------------------------------------------------------------------------------------------
// 5. Host process RSS over many library runs
// ---------------------------------------------------------------------------------------------

interface RssResult {
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

async function measureRss(config: BenchConfig): Promise<RssResult> {
  const gc = garbageCollector();
  const concurrency = 4;
  const sandbox = await openSandbox({ poolSize: config.rssPoolSize });
  try {
    const runMany = async (runs: number, phase: string): Promise<void> => {
      const tick = progress(phase, runs);
      await runConcurrently(runs, concurrency, async () => {
        await runOnLibrary(sandbox, HELLO);
        tick();
      });
      await sandbox.whenWarm();
      gc?.();
    };
    await runMany(config.rssWarmupRuns, 'rss warm-up');
    const before = process.memoryUsage();
    await runMany(config.rssRuns, 'rss runs');
    const after = process.memoryUsage();
    const mb = (bytes: number): number => round(bytes / (1024 * 1024), 1);
    return {
      runs: config.rssRuns,
      concurrency,
      poolSize: config.rssPoolSize,
      gcAvailable: gc !== undefined,
      beforeMb: mb(before.rss),
      afterMb: mb(after.rss),
      growthMb: mb(after.rss - before.rss),
      heapUsedBeforeMb: mb(before.heapUsed),
      heapUsedAfterMb: mb(after.heapUsed),
    };
  } finally {
    await closeSandbox(sandbox);
  }
}

// ---------------------------------------------------------------------------------------------
// Report: ratios, targets, table, JSON, SVG
// ---------------------------------------------------------------------------------------------

interface Ratios {
  latencyP50BOverA?: number;
  latencyP50COverA?: number;
  latencyP50RunscOverRunc?: number;
  throughputAOverB: Record<string, number | undefined>;
  throughputAOverC: Record<string, number | undefined>;
  cpuPerRunBOverA?: number;
}

interface Target {
  name: string;
  status: 'PASS' | 'MISS' | 'SKIP';
  measured: string;
}

interface BenchReport {
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
  ratios: Ratios;
  targets: Target[];
  phaseSeconds: Record<string, number>;
  durationS: number;
}

function computeRatios(latency: LatencyResults, throughput: ThroughputLevel[]): Ratios {
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
  };
}

function checkTarget(name: string, value: number | undefined, ok: (value: number) => boolean, show: (value: number) => string): Target {
  if (value === undefined || Number.isNaN(value)) return { name, status: 'SKIP', measured: 'not measured' };
  return { name, status: ok(value) ? 'PASS' : 'MISS', measured: show(value) };
}

function evaluateTargets(report: Omit<BenchReport, 'targets' | 'durationS'>): Target[] {
  const { latencyMs, ratios, poolReady, rss } = report;
  const ms = (value: number): string => `${value.toFixed(1)} ms`;
  const times = (value: number): string => `${value.toFixed(2)}x`;
  return [
    checkTarget('warm p50 <= 20 ms', latencyMs.a?.summary.p50, (v) => v <= 20, ms),
    checkTarget('(b)/(a) p50 >= 10x', ratios.latencyP50BOverA, (v) => v >= 10, times),
    checkTarget('throughput a/b at c=4 >= 1.0', ratios.throughputAOverB['4'], (v) => v >= 1, times),
    checkTarget('pool of 8 ready <= 1500 ms', poolReady.find((p) => p.poolSize === 8)?.medianMs, (v) => v <= 1500, ms),
    checkTarget(`RSS growth < 20 MB (${rss.runs} runs)`, rss.growthMb, (v) => v < 20, (v) => `${v.toFixed(1)} MB`),
    checkTarget('runsc p50 <= 2x runc p50', ratios.latencyP50RunscOverRunc, (v) => v <= 2, times),
  ];
}

/** A plain text table: the first column left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, col) => Math.max(cell.length, ...rows.map((row) => (row[col] ?? '').length)));
  const line = (row: string[]): string =>
    '  ' + row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('   ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function fmt(value: number | undefined, digits = 1, suffix = ''): string {
  return value === undefined || Number.isNaN(value) ? '-' : `${value.toFixed(digits)}${suffix}`;
}

const SUBJECT_NAMES: Record<LatencyKey, string> = {
  a: '(a) library, warm pool',
  aRunsc: '(a) library, warm pool, runsc',
  b: '(b) docker run --rm -i',
  c: '(c) warm container + docker exec',
};

function renderText(report: BenchReport): string {
  const { latencyMs, throughput, poolReady, rss, ratios } = report;
  const out: string[] = [];
  out.push(`docker-python-sandbox benchmark (${report.mode}) ${report.timestamp}, commit ${report.commit}${report.dirty ? ' (dirty)' : ''}`);
  out.push(`host: ${report.host.cpus} CPUs, node ${report.host.node}, docker ${report.host.dockerServer}, runtimes ${report.host.runtimes.join(', ')}`);
  out.push(`limits (all subjects): ${report.limitArgs.join(' ')}`);

  const aP50 = latencyMs.a?.summary.p50;
  out.push('', `1. Hello-world latency, ms (${report.config.latencyRuns} sequential runs each, interleaved, quiet engine before each run)`);
  out.push(
    table(
      ['subject', 'p50', 'p95', 'max', 'p50 / (a) p50'],
      (Object.keys(SUBJECT_NAMES) as LatencyKey[]).flatMap((key) => {
        const summary = latencyMs[key]?.summary;
        return summary ? [[SUBJECT_NAMES[key], fmt(summary.p50), fmt(summary.p95), fmt(summary.max), fmt(ratio(summary.p50, aP50), 2, 'x')]] : [];
      }),
    ),
  );
  out.push(`  latency speed-up (b)/(a) p50: ${fmt(ratios.latencyP50BOverA, 1, 'x')}   (c)/(a) p50: ${fmt(ratios.latencyP50COverA, 1, 'x')}   runsc/runc (a) p50: ${fmt(ratios.latencyP50RunscOverRunc, 2, 'x')}`);

  out.push('', `2. Throughput, runs/s (${report.config.throughputRuns} runs per phase; (a) poolSize ${report.config.throughputPoolSize})`);
  out.push(
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
  );

  out.push('', `3. Time until the pool is ready, ms (initialize(); ${report.config.poolReadyRepeats > 1 ? `median of ${report.config.poolReadyRepeats}` : 'one try'})`);
  out.push(table(['poolSize', 'ready', 'samples'], poolReady.map((p) => [String(p.poolSize), fmt(p.medianMs, 0), p.samplesMs.map((s) => s.toFixed(0)).join(', ')])));

  const cpuLevel = throughput.find((level) => level.concurrency === CPU_CONCURRENCY);
  out.push('', `4. Host CPU per run at concurrency ${CPU_CONCURRENCY}, ms (host-wide non-idle /proc/stat time incl. steal; (a) includes refilling the pool)`);
  if (cpuLevel) {
    const aCpu = cpuLevel.a.cpu?.msPerRun;
    out.push(
      table(
        ['subject', 'CPU ms/run', '/ (a)', 'background before, ms/s'],
        (['a', 'b', 'c'] as const).flatMap((key) => {
          const cpu = cpuLevel[key]?.cpu;
          return cpu ? [[SUBJECT_NAMES[key], fmt(cpu.msPerRun), fmt(ratio(cpu.msPerRun, aCpu), 2, 'x'), fmt(cpu.backgroundMsPerSecond, 0)]] : [];
        }),
      ),
    );
    out.push(`  (background: host busy CPU per second just before the phase, with nothing of ours running; ${report.host.cpus} cores = ${report.host.cpus * 1000} ms/s)`);
  } else {
    out.push('  (not measured: no phase at this concurrency)');
  }

  out.push('', `5. Host process RSS over ${rss.runs} library runs (poolSize ${rss.poolSize}, concurrency ${rss.concurrency}, gc ${rss.gcAvailable ? 'forced' : 'not available'})`);
  out.push(`  before ${fmt(rss.beforeMb)} MB   after ${fmt(rss.afterMb)} MB   growth ${fmt(rss.growthMb)} MB   (heapUsed ${fmt(rss.heapUsedBeforeMb)} -> ${fmt(rss.heapUsedAfterMb)} MB)`);

  out.push('', 'Targets (reported, not enforced)');
  for (const target of report.targets) out.push(`  [${target.status}] ${target.name.padEnd(38)} ${target.measured}`);
  out.push('', `took ${report.durationS.toFixed(0)} s`);
  return out.join('\n');
}

// --- SVG: two bar charts, p50 latency and throughput, hand-written ---

const COLORS: Record<LatencyKey, string> = { a: '#2b7bb9', aRunsc: '#7fb3d5', b: '#d9534f', c: '#f0ad4e' };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Bar {
  label: string;
  value: number;
  color: string;
  text: string;
}

/** One bar chart in a `<g>` at (x, y) of the given size; bars in groups with a caption under each group. */
function barChart(title: string, groups: { caption: string; bars: Bar[] }[], x: number, y: number, width: number, height: number): string {
  const top = 40;
  const bottom = 40;
  const plotHeight = height - top - bottom;
  const max = Math.max(1e-9, ...groups.flatMap((group) => group.bars.map((bar) => bar.value)));
  const groupWidth = width / Math.max(1, groups.length);
  const parts: string[] = [`<g transform="translate(${x},${y})">`, `<text x="${width / 2}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`];
  parts.push(`<line x1="0" y1="${top + plotHeight}" x2="${width}" y2="${top + plotHeight}" stroke="#333"/>`);
  groups.forEach((group, g) => {
    const barWidth = Math.min(60, (groupWidth - 20) / Math.max(1, group.bars.length));
    const start = g * groupWidth + (groupWidth - barWidth * group.bars.length) / 2;
    group.bars.forEach((bar, b) => {
      const h = Math.max(1, (bar.value / max) * plotHeight);
      const bx = start + b * barWidth;
      const by = top + plotHeight - h;
      parts.push(`<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${bar.color}"><title>${escapeXml(`${bar.label}: ${bar.text}`)}</title></rect>`);
      parts.push(`<text x="${(bx + (barWidth - 4) / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="11">${escapeXml(bar.text)}</text>`);
    });
    parts.push(`<text x="${(g * groupWidth + groupWidth / 2).toFixed(1)}" y="${top + plotHeight + 18}" text-anchor="middle" font-size="12">${escapeXml(group.caption)}</text>`);
  });
  parts.push('</g>');
  return parts.join('\n');
}

function renderSvg(report: BenchReport): string {
  const latencyBars: Bar[] = (Object.keys(SUBJECT_NAMES) as LatencyKey[]).flatMap((key) => {
    const p50 = report.latencyMs[key]?.summary.p50;
    return p50 === undefined ? [] : [{ label: SUBJECT_NAMES[key], value: p50, color: COLORS[key], text: `${p50.toFixed(0)} ms` }];
  });
  const throughputGroups = report.throughput.map((level) => ({
    caption: `concurrency ${level.concurrency}`,
    bars: (['a', 'b', 'c'] as const).flatMap((key) => {
      const phase = level[key];
      return phase ? [{ label: SUBJECT_NAMES[key], value: phase.runsPerSecond, color: COLORS[key], text: phase.runsPerSecond.toFixed(1) }] : [];
    }),
  }));
  const legend = (['a', 'aRunsc', 'b', 'c'] as const)
    .filter((key) => key !== 'aRunsc' || report.latencyMs.aRunsc !== undefined)
    .map((key, i) => `<rect x="${20 + i * 230}" y="372" width="12" height="12" fill="${COLORS[key]}"/><text x="${38 + i * 230}" y="382" font-size="12">${escapeXml(SUBJECT_NAMES[key])}</text>`)
    .join('\n');
  const caption = `docker-python-sandbox bench (${report.mode}), ${report.timestamp}, commit ${report.commit}${report.dirty ? ' (dirty)' : ''}`;
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="960" height="420" viewBox="0 0 960 420" font-family="sans-serif" font-size="13">',
    '<rect width="960" height="420" fill="#fff"/>',
    barChart('Hello-world latency, p50 (ms, lower is better)', [{ caption: 'sequential, quiet engine', bars: latencyBars }], 20, 0, 420, 360),
    barChart('Throughput (runs/s, higher is better)', throughputGroups, 480, 0, 460, 360),
    legend,
    `<text x="20" y="408" font-size="11" fill="#666">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

async function writeResults(report: BenchReport): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = JSON.stringify(report, null, 2) + '\n';
  // ':' is not allowed in file names on some systems (and in CI artifacts): 2025-01-31T12-00-00-000Z.json
  const file = join(RESULTS_DIR, `${report.timestamp.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, json);
  await writeFile(join(RESULTS_DIR, 'latest.json'), json);
  await writeFile(join(RESULTS_DIR, 'latest.svg'), renderSvg(report));
  return file;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function gitCommit(): Promise<{ commit: string; dirty: boolean }> {
  const head = await execa('git', ['rev-parse', '--short', 'HEAD'], { reject: false });
  const status = await execa('git', ['status', '--porcelain', '--untracked-files=no'], { reject: false });
  return { commit: head.exitCode === 0 ? head.stdout.trim() : 'unknown', dirty: status.exitCode === 0 && status.stdout.trim() !== '' };
}

/** Removes everything the bench may have left: open Sandboxes and baseline containers. */
async function cleanUpEverything(): Promise<void> {
  for (const sandbox of [...openSandboxes]) await closeSandbox(sandbox).catch((error: unknown) => log(`cleanup of a Sandbox failed: ${String(error)}`));
  const swept = await sweepBaselineContainers().catch((error: unknown) => {
    log(`sweeping baseline containers failed: ${String(error)}`);
    return 0;
  });
  if (swept > 0) log(`removed ${swept} leftover baseline container(s)`);
}

function parseArgs(argv: readonly string[]): BenchConfig {
  const unknown = argv.filter((arg) => arg !== '--quick');
  if (unknown.length > 0) throw new BenchFailure(`unknown argument(s): ${unknown.join(' ')} (usage: npm run bench [-- --quick])`);
  return argv.includes('--quick') ? QUICK : FULL;
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const timestamp = new Date().toISOString();
  const [git, available, server] = await Promise.all([gitCommit(), runtimes(), docker(['version', '--format', '{{.Server.Version}}'])]);
  const withRunsc = config.tryRunsc && available.includes('runsc');
  log(`mode ${config.mode}; runtimes: ${available.join(', ')}${withRunsc ? '' : ' (runsc phase skipped)'}; run id ${RUN_ID}`);

  const phaseSeconds: Record<string, number> = {};
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    log(`phase ${name}`);
    const { ms, value } = await timed(work);
    phaseSeconds[name] = round(ms / 1000);
    log(`phase ${name} done in ${(ms / 1000).toFixed(1)} s`);
    return value;
  };
  const latencyMs = await phase('1 latency', () => measureLatency(config, withRunsc));
  const throughput = await phase('2+4 throughput and CPU per run', () => measureThroughput(config));
  const poolReady = await phase('3 pool ready', () => measurePoolReady(config));
  const rss = await phase('5 RSS', () => measureRss(config));

  const partial = {
    timestamp,
    ...git,
    mode: config.mode,
    host: { cpus: availableParallelism(), node: process.version, runtimes: available, dockerServer: server.stdout.trim() },
    image: IMAGE,
    limitArgs: LIMIT_ARGS,
    config,
    latencyMs,
    throughput,
    poolReady,
    rss,
    ratios: computeRatios(latencyMs, throughput),
    phaseSeconds,
  };
  const report: BenchReport = { ...partial, targets: evaluateTargets(partial), durationS: round((performance.now() - started) / 1000) };
  const file = await writeResults(report);
  process.stdout.write(renderText(report) + '\n');
  log(`wrote ${file}, ${RESULTS_DIR}/latest.json and ${RESULTS_DIR}/latest.svg`);
  if (leakedContainers.length > 0) throw new BenchFailure(`Sandbox cleanup() left ${leakedContainers.length} container(s) behind (removed now): ${leakedContainers.join(', ')}`);
}

const interruption = cleanUpOnInterrupt(cleanUpEverything, log);

function reportFailure(error: unknown): void {
  log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  // A BenchFailure says all there is to say; anything else may be a bug here or in the library.
  if (!(error instanceof BenchFailure) && error instanceof Error && error.stack) log(error.stack);
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  // After a signal, runs fail because their Sandbox was cleaned up: that is no news.
  if (!interruption.interrupted) reportFailure(error);
} finally {
  await cleanUpEverything();
}
