/**
 * The HTTP service's benchmark: what the HTTP layer adds over calling the library directly.
 *
 *   1. latency  hello world through sandbox.run(), POST /v1/run (JSON), the same with SSE, and
 *               Piston's POST /api/v2/execute: one in-process server on one pool, interleaved,
 *               the pool warm and quiet before each timed run. Row: added p50 per route.
 *   2. load     16 clients on a pool of 4 through `serve` in its own process (queue of 8, the
 *               rest 503 + Retry-After), then the same through sandbox.run() in this process:
 *               runs/s side by side, latency, 503s, the server's RSS.
 *
 * Usage: npm run bench:http [-- --quick]
 * Progress on stderr, the table on stdout, the numbers in bench-results/http-<timestamp>.json.
 * Exits non-zero only on a real failure (a wrong answer, a failed request), never on a number.
 */
import { parseArgs } from 'node:util';
import { createServer, type SandboxService } from '../lib/server/server.js';
import { withUsage } from './shared/args.js';
import { gitCommit, machine } from './shared/host.js';
import { logger } from './shared/log.js';
import { toJson, writeResultFile, writeTimestampedReport } from './shared/results.js';
import { runScript } from './shared/script.js';
import { ratio, round } from './shared/stats.js';
import { measureAddedLatency, ROUTES, type LatencyResults } from './bench-http/latency.js';
import { measureLoad, type LoadResults } from './bench-http/load.js';

const log = logger('bench:http');

const FULL = { mode: 'full', latencyRuns: 100, latencyWarmupRuns: 5, loadMs: 30_000 } as const;
const QUICK = { mode: 'quick', latencyRuns: 25, latencyWarmupRuns: 3, loadMs: 10_000 } as const;

let service: SandboxService | undefined;

function renderText(latency: LatencyResults, load: LoadResults, config: typeof FULL | typeof QUICK): string {
  const direct = latency.direct.summary.p50;
  const lines = [
    `HTTP service bench (${config.mode}): ${config.latencyRuns} hello-world runs per route, interleaved, pool warm before each`,
    '',
    'route                      p50 ms   p95 ms   added p50 ms   vs direct',
    ...ROUTES.map((route) => {
      const { p50, p95 } = latency[route].summary;
      const name = {
        direct: 'sandbox.run() (direct)',
        json: 'POST /v1/run (JSON)',
        sse: 'POST /v1/run (SSE)',
        piston: 'POST /api/v2/execute',
        bare: 'bare node:http, no run',
      }[route];
      const added = route === 'direct' || route === 'bare' ? '' : (p50 - direct).toFixed(1);
      const versus = route === 'direct' || route === 'bare' ? '' : `${ratio(p50, direct)}x`;
      return `${name.padEnd(25)} ${p50.toFixed(1).padStart(7)} ${p95.toFixed(1).padStart(8)} ${added.padStart(14)} ${versus.padStart(11)}`;
    }),
    '',
    `load: ${load.concurrency} clients for ${load.durationMs / 1000} s on a pool of ${load.poolSize}, each run echoing 128 KiB of stdin`,
    `  served (serve, queue ${load.maxQueue}): ${load.served.runsPerSecond} runs/s (${load.served.runs} runs, ${load.served.queueFull} answers 503), latency p50 ${load.served.latencyMs.p50} ms, p95 ${load.served.latencyMs.p95} ms`,
    `  direct (sandbox.run, no queue cap): ${load.direct.runsPerSecond} runs/s (${load.direct.runs} runs), latency p50 ${load.direct.latencyMs.p50} ms, p95 ${load.direct.latencyMs.p95} ms`,
    `  served/direct throughput: ${ratio(load.served.runsPerSecond, load.direct.runsPerSecond)}x; server RSS ${load.served.rssMiB.first} MiB at the start, ${load.served.rssMiB.max} max, ${load.served.rssMiB.last} at the end`,
    `  CPU per run, served: host ${load.served.cpuMsPerRun.host} ms, of which the server process ${load.served.cpuMsPerRun.server} ms and the clients ${load.served.cpuMsPerRun.thisProcess} ms;` +
      ` direct: host ${load.direct.cpuMsPerRun.host} ms, of which this process (library and clients) ${load.direct.cpuMsPerRun.thisProcess} ms`,
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = withUsage('npm run bench:http [-- --quick]', () => parseArgs({ args: process.argv.slice(2), options: { quick: { type: 'boolean' } } }));
  const config = values.quick === true ? QUICK : FULL;
  const timestamp = new Date().toISOString();
  const started = performance.now();

  log(`mode ${config.mode}: phase 1 latency`);
  service = createServer({ port: 0, sandbox: { poolSize: 1 } });
  const base = await service.listen();
  const latency = await measureAddedLatency(service, base, config.latencyRuns, config.latencyWarmupRuns, log);
  await service.close();
  service = undefined;

  log(`phase 2 load (${config.loadMs / 1000} s served, then ${config.loadMs / 1000} s direct)`);
  const load = await measureLoad(config.loadMs, log);

  const report = {
    timestamp,
    ...(await gitCommit()),
    mode: config.mode,
    host: machine(),
    config,
    latencyMs: Object.fromEntries(ROUTES.map((route) => [route, latency[route].summary])),
    addedP50Ms: Object.fromEntries(
      ROUTES.filter((route) => route !== 'direct' && route !== 'bare').map((route) => [route, round(latency[route].summary.p50 - latency.direct.summary.p50)]),
    ),
    load,
    durationS: round((performance.now() - started) / 1000),
  };
  const file = await writeTimestampedReport('http-', report);
  await writeResultFile('http-latest.json', toJson(report));
  process.stdout.write(renderText(latency, load, config) + '\n');
  log(`wrote ${file} and bench-results/http-latest.json`);
}

await runScript(
  main,
  async () => {
    await service?.close();
  },
  log,
);
