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
 * Usage: npm run soak [-- [--quick | --runs N] [--seed N]]
 * Progress goes to stderr, the table to stdout, raw figures to bench-results/soak-<time>.json.
 * Exits non-zero on any failure.
 *
 * The programs are made in soak/tasks.ts, checked in soak/checks.ts and run by soak/runner.ts;
 * leftovers are counted in soak/leftovers.ts, the report built in soak/report.ts and soak/table.ts.
 */
import { performance } from 'node:perf_hooks';
import { rm } from 'node:fs/promises';
import { Sandbox } from '../lib/index.js';
import { dockerServerVersion, gitCommit, machine } from './shared/host.js';
import { logger } from './shared/log.js';
import { bytesToMb, garbageCollector, memoryUsageInMb } from './shared/process-usage.js';
import { writeTimestampedReport } from './shared/results.js';
import { runScript } from './shared/script.js';
import { round } from './shared/stats.js';
import { parseSoakArgs } from './soak/args.js';
import { CONCURRENCY, HEAP_GROWTH_LIMIT_MB, POOL_SIZE, RSS_GROWTH_LIMIT_MB, RSS_SETTLE_S, TIMEOUT_MS } from './soak/config.js';
import { findLeftovers, takeSnapshot } from './soak/leftovers.js';
import { settleMemory, watchPeakRss } from './soak/memory.js';
import { passed, summarizeKinds, type SoakReport } from './soak/report.js';
import { TaskRunner } from './soak/runner.js';
import { renderText } from './soak/table.js';
import { KINDS, makeTasks } from './soak/tasks.js';

const log = logger('soak');

/** Module-level so that cleanUpEverything() reaches them after a failure or a signal. */
let sandbox: Sandbox | undefined;
let privateTmp: string | undefined;

/** Every unhandled rejection and uncaught exception, each a failure of the soak. */
function recordUnhandled(): { unhandledRejections: string[]; uncaughtExceptions: string[] } {
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
  return { unhandledRejections, uncaughtExceptions };
}

async function soak(): Promise<SoakReport> {
  const config = parseSoakArgs(process.argv.slice(2));
  const timestamp = new Date().toISOString();
  const unhandled = recordUnhandled();
  const [git, dockerServer] = await Promise.all([gitCommit(), dockerServerVersion()]);
  const tasks = await makeTasks(config);
  const gc = garbageCollector();
  const snapshot = await takeSnapshot();
  privateTmp = snapshot.privateTmp;

  sandbox = new Sandbox({ poolSize: POOL_SIZE, timeoutMs: TIMEOUT_MS });
  const { memoryLimitMb, maxOutputBytes } = sandbox.options;
  log(
    `${config.mode}: ${config.runs} runs (${KINDS.map((kind) => `${tasks.filter((task) => task.kind === kind).length} ${kind}`).join(', ')}), seed ${config.seed}, concurrency ${CONCURRENCY}, poolSize ${POOL_SIZE}, timeoutMs ${TIMEOUT_MS}, memory ${memoryLimitMb} MB; sandbox ${sandbox.id}; gc ${gc ? 'forced' : 'not available'}`,
  );
  await sandbox.initialize();

  const runner = new TaskRunner(sandbox, maxOutputBytes, config.runs, log);
  const peakRss = watchPeakRss();
  const started = performance.now();
  await runner.runBatch(tasks.slice(0, config.warmupRuns));
  const warmupS = (performance.now() - started) / 1000;
  log(`warm-up batch of ${config.warmupRuns} runs done; letting memory settle for ${RSS_SETTLE_S} s`);
  const warm = await settleMemory(sandbox, gc);
  log(`rss after the warm-up ${bytesToMb(warm.usage.rss)} MB`);
  const restStarted = performance.now();
  await runner.runBatch(tasks.slice(config.warmupRuns));
  /** Time spent running, without the pause for the RSS sample. */
  const wallS = warmupS + (performance.now() - restStarted) / 1000;
  log(`all runs done; letting memory settle for ${RSS_SETTLE_S} s`);
  const final = await settleMemory(sandbox, gc);
  const peakRssBytes = peakRss.stop();

  await sandbox.cleanup();
  const leftovers = await findLeftovers(snapshot, sandbox.id);
  const report: Omit<SoakReport, 'passed'> = {
    timestamp,
    ...git,
    host: { ...machine(), dockerServer },
    config: { ...config, poolSize: POOL_SIZE, concurrency: CONCURRENCY, timeoutMs: TIMEOUT_MS, memoryLimitMb, maxOutputBytes },
    kinds: summarizeKinds(runner.stats),
    failures: runner.failures,
    normalRunsAfterForkBombs: runner.afterBombs,
    wallS: round(wallS, 1),
    runsPerSecond: round(config.runs / wallS, 2),
    rss: {
      gc: gc !== undefined,
      afterWarmupMb: bytesToMb(warm.usage.rss),
      endMb: bytesToMb(final.usage.rss),
      growthMb: bytesToMb(final.usage.rss - warm.usage.rss),
      peakMb: bytesToMb(peakRssBytes),
      limitMb: RSS_GROWTH_LIMIT_MB,
    },
    heapUsed: {
      afterWarmupMb: bytesToMb(warm.usage.heapUsed),
      endMb: bytesToMb(final.usage.heapUsed),
      growthMb: bytesToMb(final.usage.heapUsed - warm.usage.heapUsed),
      limitMb: HEAP_GROWTH_LIMIT_MB,
    },
    memory: {
      afterWarmup: memoryUsageInMb(warm.usage),
      end: memoryUsageInMb(final.usage),
      settleSeriesMb: { afterWarmup: warm.seriesMb, end: final.seriesMb },
    },
    ...unhandled,
    leftovers,
  };
  return { ...report, passed: passed(report) };
}

async function main(): Promise<void> {
  const report = await soak();
  const file = await writeTimestampedReport('soak-', report);
  process.stdout.write(renderText(report) + '\n');
  log(`wrote ${file}`);
  if (!report.passed) process.exitCode = 1;
}

async function cleanUpEverything(): Promise<void> {
  await sandbox?.cleanup().catch((error: unknown) => log(`cleanup of the Sandbox failed: ${String(error)}`));
  if (privateTmp !== undefined) await rm(privateTmp, { recursive: true, force: true }).catch(() => {});
}

await runScript(main, cleanUpEverything, log);
