/**
 * Soak: many mixed runs, hostile ones among them, through one Sandbox under load, checking every
 * result and what is left afterwards.
 *
 *   kinds      normal (prints a computed value), syntax error, timeout (busy loop), memory bomb,
 *              output flood (stdout only), fork bomb (spec/fixtures/hostile/fork_bomb.py)
 *   load       N runs (500; --quick 120) in a seeded shuffled order, at concurrency 16 on poolSize 4,
 *              timeoutMs 2000, default memory limit
 *   checks     every result is the one its kind must give; the normal run that starts next after
 *              each fork bomb still succeeds; no unhandled rejection or uncaught exception; host RSS
 *              growth (after a warm-up batch, then at the end, both after GC and 10 idle seconds)
 *              under 50 MB, JS heap growth under 10 MB; after cleanup() no container of this
 *              Sandbox and no new labelled container of this process on the engine, and no temp
 *              file left (the library's temp dirs go to a TMPDIR of the soak's own, so that other
 *              processes' dirs cannot blur the count)
 *
 * Usage: npm run soak [-- --quick] [-- --runs N] [-- --seed N]
 * Progress goes to stderr, the table to stdout, raw figures to bench-results/soak-<time>.json.
 * Exits non-zero on any failure.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { execa } from 'execa';
import { CONTAINER_LABEL, Sandbox, type RunResult } from '../lib/index.js';
import { cleanUpOnInterrupt } from './interrupt.js';

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

const RESULTS_DIR = 'bench-results';
const POOL_SIZE = 4;
const CONCURRENCY = 16;
const TIMEOUT_MS = 2_000;
/** A run the host stops must settle within its limit plus this (the README's promise). */
const SETTLE_SLACK_MS = 1_000;
const RSS_GROWTH_LIMIT_MB = 50;
/**
 * RSS moves by some 30 MB either way with what the allocator keeps, so it only catches big leaks;
 * the JS heap after GC moves by well under 1 MB, so a leak of run state shows there first.
 */
const HEAP_GROWTH_LIMIT_MB = 10;
/** Idle seconds before an RSS sample (see settle()). */
const RSS_SETTLE_S = 10;
const FULL_RUNS = 500;
const QUICK_RUNS = 120;
const DEFAULT_SEED = 20_251_126;
const MIB = 1024 * 1024;
const SANDBOX_LABEL = `${CONTAINER_LABEL}.sandbox`;
const OWNER_PID_LABEL = `${CONTAINER_LABEL}.pid`;

const fixture = (name: string): Promise<string> => readFile(new URL(`../spec/fixtures/hostile/${name}`, import.meta.url), 'utf8');

type Kind = 'normal' | 'syntax_error' | 'timeout' | 'memory_bomb' | 'output_flood' | 'fork_bomb';
const KINDS: readonly Kind[] = ['normal', 'syntax_error', 'timeout', 'memory_bomb', 'output_flood', 'fork_bomb'];
/** Share of each kind; normal runs take what rounding leaves. Timeouts and fork bombs hold a container for 2 s each. */
const WEIGHTS: Record<Exclude<Kind, 'normal'>, number> = { syntax_error: 0.12, timeout: 0.12, memory_bomb: 0.12, output_flood: 0.12, fork_bomb: 0.12 };

interface Config {
  mode: 'quick' | 'full' | 'custom';
  runs: number;
  seed: number;
  /** Runs of the warm-up batch; RSS is sampled after it and at the end. */
  warmupRuns: number;
}

interface Task {
  index: number;
  kind: Kind;
  code: string;
  /** For a normal run: its exact stdout. */
  expected?: string;
}

interface Failure {
  index: number;
  kind: Kind;
  problem: string;
  result?: Record<string, unknown>;
}

interface KindStats {
  runs: number;
  failures: number;
  latencyMs: number[];
  /** The program's own time (result.durationMs). */
  durationMs: number[];
  /** How the runs ended, e.g. { timeout: 41, oom: 19 } for fork bombs. */
  statuses: Record<string, number>;
}

class SoakFailure extends Error {
  override name = 'SoakFailure';
}

function log(message: string): void {
  process.stderr.write(`[soak] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// The runs: programs, a seeded order, and what each kind must give
// ---------------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so that a failing order can be replayed with --seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function makeTasks(config: Config): Promise<Task[]> {
  const next = random(config.seed);
  const forkBomb = await fixture('fork_bomb.py');
  const memoryBomb = await fixture('memory_bomb.py');
  const counts = new Map<Kind, number>();
  for (const [kind, weight] of Object.entries(WEIGHTS) as [Kind, number][]) counts.set(kind, Math.max(1, Math.round(config.runs * weight)));
  const hostile = [...counts.values()].reduce((sum, n) => sum + n, 0);
  if (hostile >= config.runs) throw new SoakFailure(`--runs ${config.runs} is too few for every kind (at least ${hostile + 1})`);
  counts.set('normal', config.runs - hostile);
  const kinds = KINDS.flatMap((kind) => Array<Kind>(counts.get(kind) ?? 0).fill(kind));
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds.map((kind, index) => {
    switch (kind) {
      case 'normal': {
        const n = 1 + Math.floor(next() * 100_000);
        const sum = (BigInt(n) * BigInt(n - 1) * BigInt(2 * n - 1)) / 6n; // sum of k*k for k < n
        return { index, kind, code: `n = ${n}\nprint(sum(k * k for k in range(n)), "run ${index}")`, expected: `${sum} run ${index}\n` };
      }
      case 'syntax_error':
        return { index, kind, code: `print("run ${index}"\n` };
      case 'timeout':
        return { index, kind, code: 'while True:\n    pass\n' };
      case 'memory_bomb':
        return { index, kind, code: memoryBomb };
      case 'output_flood':
        return { index, kind, code: 'import sys\nline = "y" * 4095 + "\\n"\nwhile True:\n    sys.stdout.write(line)\n' };
      case 'fork_bomb':
        return { index, kind, code: forkBomb };
    }
  });
}

/** What is wrong with a result for its kind (empty when it is right). */
function problemsOf(task: Task, result: RunResult, maxOutputBytes: number): string[] {
  const problems: string[] = [];
  const expect = (condition: boolean, what: string): void => {
    if (!condition) problems.push(what);
  };
  const settledInTime = result.durationMs < TIMEOUT_MS + SETTLE_SLACK_MS;
  switch (task.kind) {
    case 'normal':
      expect(result.stdout === task.expected, `stdout ${JSON.stringify(result.stdout.slice(0, 200))}, expected ${JSON.stringify(task.expected)}`);
      expect(result.stderr === '', 'stderr not empty');
      expect(result.exitCode === 0, `exitCode ${result.exitCode}`);
      expect(result.status === 'ok' && !result.isError, `status ${result.status}, isError ${result.isError}`);
      break;
    case 'syntax_error':
      expect(result.status === 'error' && result.isError, `status ${result.status}, isError ${result.isError}`);
      expect(result.exitCode === 1, `exitCode ${result.exitCode}`);
      expect(/SyntaxError/.test(result.stderr), 'no SyntaxError in stderr');
      expect(!result.timedOut, 'timedOut');
      break;
    case 'timeout':
      expect(result.status === 'timeout' && result.timedOut && result.isError, `status ${result.status}, timedOut ${result.timedOut}`);
      expect(result.exitCode === null, `exitCode ${result.exitCode}`);
      expect(settledInTime, `durationMs ${result.durationMs} (limit ${TIMEOUT_MS} + ${SETTLE_SLACK_MS})`);
      break;
    case 'memory_bomb':
      expect(result.status === 'oom' && result.oomKilled && result.isError, `status ${result.status}, oomKilled ${result.oomKilled}`);
      expect(result.exitCode === 137, `exitCode ${result.exitCode}`);
      expect(!result.timedOut, 'timedOut');
      break;
    case 'output_flood':
      expect(result.status === 'output_limit' && result.truncated && result.isError, `status ${result.status}, truncated ${result.truncated}`);
      expect(Buffer.byteLength(result.stdout) === maxOutputBytes, `stdout is ${Buffer.byteLength(result.stdout)} bytes, the cap ${maxOutputBytes}`);
      expect(result.stderr === '', 'stderr not empty');
      expect(/^(y{4095}\n)*y*$/.test(result.stdout), 'stdout is not whole lines up to the cut');
      expect(!result.timedOut && settledInTime, `timedOut ${result.timedOut}, durationMs ${result.durationMs}`);
      break;
    case 'fork_bomb':
      // As spec/integration/security.spec.ts: contained, ended by time or memory, on time.
      expect(result.isError, 'isError false');
      expect(result.timedOut || result.oomKilled, `status ${result.status}: neither timed out nor OOM-killed`);
      expect(settledInTime, `durationMs ${result.durationMs} (limit ${TIMEOUT_MS} + ${SETTLE_SLACK_MS})`);
      break;
  }
  return problems;
}

function summaryOf(result: RunResult): Record<string, unknown> {
  return {
    status: result.status,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    oomKilled: result.oomKilled,
    truncated: result.truncated,
    durationMs: result.durationMs,
    stdoutBytes: Buffer.byteLength(result.stdout),
    stdout: result.stdout.slice(0, 200),
    stderr: result.stderr.slice(-400),
  };
}

// ---------------------------------------------------------------------------------------------
// Host and engine measurements
// ---------------------------------------------------------------------------------------------

/** global.gc with --expose-gc; otherwise the flag is switched on at run time to get one (as scripts/bench.ts). */
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

const mb = (bytes: number): number => Math.round((bytes / MIB) * 10) / 10;
const inMb = (usage: NodeJS.MemoryUsage): Record<string, number> => Object.fromEntries(Object.entries(usage).map(([key, bytes]) => [key, mb(bytes)]));

async function docker(args: readonly string[]): Promise<string> {
  const result = await execa('docker', args, { reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new SoakFailure(`docker ${args.join(' ')} exited ${String(result.exitCode)}: ${result.stderr.trim().slice(0, 500)}`);
  return result.stdout;
}

/** Ids of containers carrying the label (key or key=value), running or not. */
async function labelled(filter: string): Promise<string[]> {
  return (await docker(['ps', '--all', '--no-trunc', '--quiet', '--filter', `label=${filter}`])).split('\n').filter(Boolean);
}

/** The owner-pid label of each container (containers gone meanwhile are left out). */
async function ownerPids(ids: readonly string[]): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  if (ids.length === 0) return owners;
  const result = await execa('docker', ['inspect', '--format', `{{.Id}} {{index .Config.Labels "${OWNER_PID_LABEL}"}}`, ...ids], { reject: false, stdin: 'ignore' });
  for (const line of result.stdout.split('\n')) {
    const [id, pid = ''] = line.trim().split(' ');
    if (id) owners.set(id, pid);
  }
  return owners;
}

async function dpsEntries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => name.startsWith('dps-'));
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

interface SoakReport {
  timestamp: string;
  commit: string;
  dirty: boolean;
  host: { cpus: number; node: string; dockerServer: string };
  config: Config & { poolSize: number; concurrency: number; timeoutMs: number; memoryLimitMb: number; maxOutputBytes: number };
  kinds: Record<Kind, { runs: number; failures: number; p50Ms: number; p95Ms: number; maxMs: number; programP50Ms: number; programMaxMs: number; statuses: Record<string, number> }>;
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
  leftovers: {
    sandboxContainers: string[];
    ownNewLabelledContainers: string[];
    foreignNewLabelledContainers: number;
    tempEntries: string[];
    tempDirsInSharedTmp: string[];
  };
  passed: boolean;
}

function parseArgs(argv: readonly string[]): Config {
  let runs = FULL_RUNS;
  let mode: Config['mode'] = 'full';
  let seed = DEFAULT_SEED;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): number => {
      const parsed = Number(argv[++i]);
      if (!Number.isInteger(parsed) || parsed <= 0) throw new SoakFailure(`${arg} needs a positive whole number`);
      return parsed;
    };
    if (arg === '--quick') {
      mode = 'quick';
      runs = QUICK_RUNS;
    } else if (arg === '--runs') {
      mode = 'custom';
      runs = value();
    } else if (arg === '--seed') {
      seed = value();
    } else {
      throw new SoakFailure(`unknown argument ${String(arg)} (usage: npm run soak [-- --quick | --runs N] [--seed N])`);
    }
  }
  // Big enough to hold a few runs of every kind: RSS reaches its working size (output floods set it) first.
  return { mode, runs, seed, warmupRuns: Math.min(runs, Math.max(3 * CONCURRENCY, Math.round(runs / 10))) };
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
  return Math.round(value);
}

let sandbox: Sandbox | undefined;
let privateTmp: string | undefined;

async function main(): Promise<SoakReport> {
  const config = parseArgs(process.argv.slice(2));
  const timestamp = new Date().toISOString();
  const unhandledRejections: string[] = [];
  const uncaughtExceptions: string[] = [];
  process.on('unhandledRejection', (reason) => {
    unhandledRejections.push(String(reason instanceof Error ? (reason.stack ?? reason.message) : reason).slice(0, 1_000));
    log(`UNHANDLED REJECTION: ${String(reason)}`);
  });
  process.on('uncaughtException', (error) => {
    uncaughtExceptions.push(String(error.stack ?? error.message).slice(0, 1_000));
    log(`UNCAUGHT EXCEPTION: ${error.message}`);
  });

  const [head, status, server] = await Promise.all([
    execa('git', ['rev-parse', '--short', 'HEAD'], { reject: false }),
    execa('git', ['status', '--porcelain', '--untracked-files=no'], { reject: false }),
    docker(['version', '--format', '{{.Server.Version}}']),
  ]);
  const tasks = await makeTasks(config);
  const gc = garbageCollector();

  // The library's temp dirs go to a TMPDIR of our own: other processes on this machine make (and
  // reap) dps-* dirs in the shared one, and would blur the count.
  const sharedTmp = tmpdir();
  const sharedBefore = new Set(await dpsEntries(sharedTmp));
  privateTmp = await mkdtemp(join(sharedTmp, `soak-${process.pid}-`));
  process.env.TMPDIR = privateTmp;
  const labelledBefore = new Set(await labelled(CONTAINER_LABEL));

  sandbox = new Sandbox({ poolSize: POOL_SIZE, timeoutMs: TIMEOUT_MS });
  const { memoryLimitMb, maxOutputBytes } = sandbox.options;
  log(`${config.mode}: ${config.runs} runs (${KINDS.map((kind) => `${tasks.filter((task) => task.kind === kind).length} ${kind}`).join(', ')}), seed ${config.seed}, concurrency ${CONCURRENCY}, poolSize ${POOL_SIZE}, timeoutMs ${TIMEOUT_MS}, memory ${memoryLimitMb} MB; sandbox ${sandbox.id}; gc ${gc ? 'forced' : 'not available'}`);
  await sandbox.initialize();

  const stats = new Map<Kind, KindStats>(KINDS.map((kind) => [kind, { runs: 0, failures: 0, latencyMs: [], durationMs: [], statuses: {} }]));
  const failures: Failure[] = [];
  /** Fork bombs that have ended; the next normal run to start after each is checked as such. */
  let bombsEnded = 0;
  let bombsFollowed = 0;
  const afterBombs = { checked: 0, failed: 0 };
  let done = 0;
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  const started = performance.now();

  const runOne = async (task: Task): Promise<void> => {
    const stat = stats.get(task.kind)!;
    const followsBomb = task.kind === 'normal' && bombsEnded > bombsFollowed;
    if (followsBomb) bombsFollowed = bombsEnded;
    const t0 = performance.now();
    let problems: string[];
    let result: RunResult | undefined;
    try {
      result = await sandbox!.run(task.code);
      problems = problemsOf(task, result, maxOutputBytes);
    } catch (error) {
      problems = [`run rejected: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(0, 1_000)];
    }
    stat.runs += 1;
    stat.latencyMs.push(performance.now() - t0);
    const ending = result === undefined ? 'rejected' : result.status;
    stat.statuses[ending] = (stat.statuses[ending] ?? 0) + 1;
    if (result !== undefined) stat.durationMs.push(result.durationMs);
    if (task.kind === 'fork_bomb') bombsEnded += 1;
    if (followsBomb) {
      afterBombs.checked += 1;
      if (problems.length > 0) afterBombs.failed += 1;
    }
    if (problems.length > 0) {
      stat.failures += 1;
      failures.push({ index: task.index, kind: task.kind, problem: problems.join('; '), ...(result && { result: summaryOf(result) }) });
      log(`FAIL run ${task.index} (${task.kind}${followsBomb ? ', first normal run after a fork bomb' : ''}): ${problems.join('; ')}`);
    }
    done += 1;
    if (done % Math.max(10, Math.round(config.runs / 10)) === 0 || done === config.runs) {
      log(`${done}/${config.runs} runs, ${failures.length} failures, rss ${mb(process.memoryUsage().rss)} MB`);
    }
  };

  const runBatch = async (batch: readonly Task[]): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batch.length) await runOne(batch[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.length) }, worker));
  };
  /**
   * Memory once the pool is quiet and has settled. Under a burst of output V8's young generation
   * grows to 32 MB and freed pages are kept; both are handed back only after about 6 idle seconds
   * (V8's memory reducer). So: GC once a second for RSS_SETTLE_S seconds and keep the lowest RSS.
   */
  const settle = async (): Promise<{ usage: NodeJS.MemoryUsage; seriesMb: number[] }> => {
    await sandbox!.whenWarm();
    gc?.();
    let lowest = process.memoryUsage();
    const seriesMb = [mb(lowest.rss)];
    for (let second = 0; second < RSS_SETTLE_S; second++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      gc?.();
      const sample = process.memoryUsage();
      seriesMb.push(mb(sample.rss));
      if (sample.rss < lowest.rss) lowest = sample;
    }
    return { usage: lowest, seriesMb };
  };

  await runBatch(tasks.slice(0, config.warmupRuns));
  const warmupS = (performance.now() - started) / 1000;
  log(`warm-up batch of ${config.warmupRuns} runs done; letting memory settle for ${RSS_SETTLE_S} s`);
  const warm = await settle();
  const memoryAfterWarmup = warm.usage;
  const rssAfterWarmup = memoryAfterWarmup.rss;
  log(`rss after the warm-up ${mb(rssAfterWarmup)} MB`);
  const restStarted = performance.now();
  await runBatch(tasks.slice(config.warmupRuns));
  /** Time spent running, without the pause for the RSS sample. */
  const wallS = warmupS + (performance.now() - restStarted) / 1000;
  log(`all runs done; letting memory settle for ${RSS_SETTLE_S} s`);
  const final = await settle();
  const memoryEnd = final.usage;
  const rssEnd = memoryEnd.rss;
  clearInterval(rssTimer);

  await sandbox.cleanup();
  const sandboxContainers = await labelled(`${SANDBOX_LABEL}=${sandbox.id}`);
  const newLabelled = (await labelled(CONTAINER_LABEL)).filter((id) => !labelledBefore.has(id));
  const owners = await ownerPids(newLabelled);
  const ownNewLabelled = newLabelled.filter((id) => !owners.has(id) || owners.get(id) === String(process.pid));
  const tempEntries = await readdir(privateTmp);
  const tempDirsInSharedTmp = (await dpsEntries(sharedTmp)).filter((name) => !sharedBefore.has(name) && name.startsWith(`dps-${process.pid}-`));

  const kinds = Object.fromEntries(
    KINDS.map((kind) => {
      const stat = stats.get(kind)!;
      return [
        kind,
        {
          runs: stat.runs,
          failures: stat.failures,
          p50Ms: percentile(stat.latencyMs, 0.5),
          p95Ms: percentile(stat.latencyMs, 0.95),
          maxMs: percentile(stat.latencyMs, 1),
          programP50Ms: percentile(stat.durationMs, 0.5),
          programMaxMs: percentile(stat.durationMs, 1),
          statuses: stat.statuses,
        },
      ];
    }),
  ) as SoakReport['kinds'];
  const growthMb = mb(rssEnd - rssAfterWarmup);
  const heapGrowthMb = mb(memoryEnd.heapUsed - memoryAfterWarmup.heapUsed);
  const report: SoakReport = {
    timestamp,
    commit: head.exitCode === 0 ? head.stdout.trim() : 'unknown',
    dirty: status.exitCode === 0 && status.stdout.trim() !== '',
    host: { cpus: availableParallelism(), node: process.version, dockerServer: server.trim() },
    config: { ...config, poolSize: POOL_SIZE, concurrency: CONCURRENCY, timeoutMs: TIMEOUT_MS, memoryLimitMb, maxOutputBytes },
    kinds,
    failures,
    normalRunsAfterForkBombs: afterBombs,
    wallS: Math.round(wallS * 10) / 10,
    runsPerSecond: Math.round((config.runs / wallS) * 100) / 100,
    rss: { gc: gc !== undefined, afterWarmupMb: mb(rssAfterWarmup), endMb: mb(rssEnd), growthMb, peakMb: mb(peakRss), limitMb: RSS_GROWTH_LIMIT_MB },
    heapUsed: { afterWarmupMb: mb(memoryAfterWarmup.heapUsed), endMb: mb(memoryEnd.heapUsed), growthMb: heapGrowthMb, limitMb: HEAP_GROWTH_LIMIT_MB },
    memory: { afterWarmup: inMb(memoryAfterWarmup), end: inMb(memoryEnd), settleSeriesMb: { afterWarmup: warm.seriesMb, end: final.seriesMb } },
    unhandledRejections,
    uncaughtExceptions,
    leftovers: { sandboxContainers, ownNewLabelledContainers: ownNewLabelled, foreignNewLabelledContainers: newLabelled.length - ownNewLabelled.length, tempEntries, tempDirsInSharedTmp },
    passed: false,
  };
  report.passed =
    failures.length === 0 &&
    unhandledRejections.length === 0 &&
    uncaughtExceptions.length === 0 &&
    growthMb <= RSS_GROWTH_LIMIT_MB &&
    heapGrowthMb <= HEAP_GROWTH_LIMIT_MB &&
    sandboxContainers.length === 0 &&
    ownNewLabelled.length === 0 &&
    tempEntries.length === 0 &&
    tempDirsInSharedTmp.length === 0;
  return report;
}

function renderText(report: SoakReport): string {
  const out: string[] = [];
  const { config } = report;
  out.push(
    `Soak (${config.mode}): ${config.runs} runs, seed ${config.seed}, concurrency ${config.concurrency}, poolSize ${config.poolSize}, ` +
      `timeoutMs ${config.timeoutMs}, memory ${config.memoryLimitMb} MB; commit ${report.commit}${report.dirty ? ' (dirty)' : ''}, ` +
      `${report.host.cpus} cores, Docker ${report.host.dockerServer}`,
    '',
    `  ${'kind'.padEnd(14)} ${'runs'.padStart(5)} ${'failed'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'program p50/max ms'.padStart(19)}   ended as`,
  );
  for (const kind of KINDS) {
    const k = report.kinds[kind];
    const endings = Object.entries(k.statuses).map(([status, n]) => `${status} ${n}`).join(', ');
    out.push(
      `  ${kind.padEnd(14)} ${String(k.runs).padStart(5)} ${String(k.failures).padStart(7)} ${String(k.p50Ms).padStart(8)} ${String(k.p95Ms).padStart(8)} ${String(k.maxMs).padStart(8)} ${`${k.programP50Ms} / ${k.programMaxMs}`.padStart(19)}   ${endings}`,
    );
  }
  out.push('  (p50/p95/max: from run() to its result, including the wait for a container; program: result.durationMs)');
  const after = report.normalRunsAfterForkBombs;
  const left = report.leftovers;
  out.push(
    '',
    `  wall time ${report.wallS} s (running, without the pauses for RSS samples), ${report.runsPerSecond} runs/s`,
    `  normal runs right after a fork bomb: ${after.checked}, failed ${after.failed}`,
    `  host RSS after warm-up ${report.rss.afterWarmupMb} MB, at the end ${report.rss.endMb} MB, growth ${report.rss.growthMb} MB (limit ${report.rss.limitMb}), peak ${report.rss.peakMb} MB (gc ${report.rss.gc ? 'forced' : 'not available'})`,
    `  JS heap used after warm-up ${report.heapUsed.afterWarmupMb} MB, at the end ${report.heapUsed.endMb} MB, growth ${report.heapUsed.growthMb} MB (limit ${report.heapUsed.limitMb}); external ${report.memory.afterWarmup.external} -> ${report.memory.end.external} MB`,
    `  unhandled rejections ${report.unhandledRejections.length}, uncaught exceptions ${report.uncaughtExceptions.length}`,
    `  after cleanup(): containers of the Sandbox ${left.sandboxContainers.length}, new labelled containers of this process ${left.ownNewLabelledContainers.length}` +
      `${left.foreignNewLabelledContainers > 0 ? ` (and ${left.foreignNewLabelledContainers} of other processes, not counted)` : ''}, ` +
      `temp entries left ${left.tempEntries.length + left.tempDirsInSharedTmp.length}`,
  );
  if (report.failures.length > 0) {
    out.push('', `  failures (${report.failures.length}):`);
    for (const failure of report.failures.slice(0, 30)) {
      out.push(`    run ${failure.index} ${failure.kind}: ${failure.problem}${failure.result ? ` ${JSON.stringify(failure.result).slice(0, 400)}` : ''}`);
    }
    if (report.failures.length > 30) out.push(`    ... ${report.failures.length - 30} more in the JSON`);
  }
  out.push('', report.passed ? 'PASS' : 'FAIL');
  return out.join('\n');
}

async function writeResults(report: SoakReport): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `soak-${report.timestamp.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

async function cleanUpEverything(): Promise<void> {
  await sandbox?.cleanup().catch((error: unknown) => log(`cleanup of the Sandbox failed: ${String(error)}`));
  if (privateTmp !== undefined) await rm(privateTmp, { recursive: true, force: true }).catch(() => {});
}

const interruption = cleanUpOnInterrupt(cleanUpEverything, log);

try {
  const report = await main();
  const file = await writeResults(report);
  process.stdout.write(renderText(report) + '\n');
  log(`wrote ${file}`);
  if (!report.passed) process.exitCode = 1;
} catch (error) {
  process.exitCode = 1;
  if (!interruption.interrupted) log(`FAILED: ${error instanceof Error ? (error instanceof SoakFailure ? error.message : (error.stack ?? error.message)) : String(error)}`);
} finally {
  await cleanUpEverything();
}
