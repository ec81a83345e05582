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
 *
 * The phases live in bench/phases/, the baselines in bench/baselines.ts, the report's ratios and
 * targets in bench/report.ts, its table and chart in bench/table.ts and bench/svg.ts.
 */
import { performance } from 'node:perf_hooks';
import { dockerRuntimes, dockerServerVersion, gitCommit, machine } from './shared/host.js';
import { RESULTS_DIR, toJson, writeResultFile, writeTimestampedReport } from './shared/results.js';
import { runScript, ScriptFailure } from './shared/script.js';
import { round, timed } from './shared/stats.js';
import { parseBenchArgs } from './bench/args.js';
import { IMAGE, LIMIT_ARGS, RUN_ID, sweepBaselineContainers } from './bench/baselines.js';
import { closeAllSandboxes, leakedContainers } from './bench/library.js';
import { log } from './bench/log.js';
import { measureInputTransfer } from './bench/phases/input-transfer.js';
import { measureLatency } from './bench/phases/latency.js';
import { measurePoolReady } from './bench/phases/pool-ready.js';
import { measureRss } from './bench/phases/rss.js';
import { measureSsh } from './bench/phases/ssh.js';
import { measureEngines } from './bench/phases/engines.js';
import { measureThroughput } from './bench/phases/throughput.js';
import { computeRatios, evaluateTargets, type BenchReport } from './bench/report.js';
import { renderSvg } from './bench/svg.js';
import { renderText } from './bench/table.js';

async function main(): Promise<void> {
  const config = parseBenchArgs(process.argv.slice(2));
  const started = performance.now();
  const timestamp = new Date().toISOString();
  const [git, runtimes, dockerServer] = await Promise.all([gitCommit(), dockerRuntimes(), dockerServerVersion()]);
  const withRunsc = config.tryRunsc && runtimes.includes('runsc');
  log(`mode ${config.mode}; runtimes: ${runtimes.join(', ')}${withRunsc ? '' : ' (runsc phase skipped)'}; run id ${RUN_ID}`);

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
  const inputTransfer = await phase('7 input transfer', () => measureInputTransfer(config));
  const ssh = await phase('8 ssh', () => measureSsh(config));
  const engines = await phase('9 two engines', () => measureEngines(config));

  const measured = {
    timestamp,
    ...git,
    mode: config.mode,
    host: { ...machine(), runtimes, dockerServer },
    image: IMAGE,
    limitArgs: LIMIT_ARGS,
    config,
    latencyMs,
    throughput,
    poolReady,
    rss,
    inputTransfer,
    ssh,
    engines,
    ratios: computeRatios(latencyMs, throughput, poolReady),
    phaseSeconds,
  };
  const report: BenchReport = { ...measured, targets: evaluateTargets(measured), durationS: round((performance.now() - started) / 1000) };
  const file = await writeTimestampedReport('', report);
  await writeResultFile('latest.json', toJson(report));
  await writeResultFile('latest.svg', renderSvg(report));
  process.stdout.write(renderText(report) + '\n');
  log(`wrote ${file}, ${RESULTS_DIR}/latest.json and ${RESULTS_DIR}/latest.svg`);
  if (leakedContainers.length > 0)
    throw new ScriptFailure(`Sandbox cleanup() left ${leakedContainers.length} container(s) behind (removed now): ${leakedContainers.join(', ')}`);
}

/** Removes everything the bench may have left: open Sandboxes and baseline containers. */
async function cleanUpEverything(): Promise<void> {
  await closeAllSandboxes(log);
  const swept = await sweepBaselineContainers().catch((error: unknown) => {
    log(`sweeping baseline containers failed: ${String(error)}`);
    return 0;
  });
  if (swept > 0) log(`removed ${swept} leftover baseline container(s)`);
}

await runScript(main, cleanUpEverything, log);
