/**
 * Load: 16 clients for a while on a pool of 4, through `serve` in its own process (a queue of 8:
 * the rest get 503 and wait their Retry-After), and the same clients calling `sandbox.run()` in
 * this process on a pool of 4, one after the other. Each run echoes 128 KiB of stdin unique to its
 * request (scripts/shared/http-load.ts).
 */
import { performance } from 'node:perf_hooks';
import { Sandbox } from '../../lib/index.js';
import { driveLoad, echoRequest, type RssSample } from '../shared/http-load.js';
import { hostBusyCpuMs, processCpuMs } from '../shared/process-usage.js';
import { startServeProcess } from '../shared/serve-process.js';
import { ScriptFailure } from '../shared/script.js';
import type { Log } from '../shared/log.js';
import { round, summarize, type Summary } from '../shared/stats.js';

export interface LoadSide {
  runs: number;
  runsPerSecond: number;
  latencyMs: Summary;
  /** CPU per completed run: the whole host's, the server process's (served only), this process's (the clients; direct: the library too). */
  cpuMsPerRun: { host: number; server?: number; thisProcess: number };
}

interface CpuMarks {
  host: number;
  server: number | undefined;
  thisProcess: number;
}

async function cpuMarks(serverPid?: number): Promise<CpuMarks> {
  const usage = process.cpuUsage();
  return {
    host: await hostBusyCpuMs(),
    server: serverPid === undefined ? undefined : await processCpuMs(serverPid),
    thisProcess: (usage.user + usage.system) / 1000,
  };
}

function cpuPerRun(before: CpuMarks, after: CpuMarks, runs: number): LoadSide['cpuMsPerRun'] {
  const per = (a: number, b: number): number => round((b - a) / Math.max(1, runs));
  return {
    host: per(before.host, after.host),
    ...(before.server !== undefined && after.server !== undefined && { server: per(before.server, after.server) }),
    thisProcess: per(before.thisProcess, after.thisProcess),
  };
}

export interface LoadResults {
  concurrency: number;
  poolSize: number;
  maxQueue: number;
  durationMs: number;
  served: LoadSide & { queueFull: number; rssMiB: { first: number; max: number; last: number }; rss: RssSample[] };
  direct: LoadSide;
}

const CONCURRENCY = 16;
const POOL_SIZE = 4;
const MAX_QUEUE = 8;

async function served(durationMs: number, log: Log): Promise<LoadResults['served']> {
  const serve = await startServeProcess(['--pool-size', String(POOL_SIZE), '--max-queue', String(MAX_QUEUE)]);
  let outcome;
  let before: CpuMarks;
  let after: CpuMarks;
  try {
    before = await cpuMarks(serve.pid);
    outcome = await driveLoad({ base: serve.base, concurrency: CONCURRENCY, durationMs, serverPid: serve.pid });
    after = await cpuMarks(serve.pid);
  } finally {
    const exit = await serve.stop();
    if (exit.code !== 0) log(`serve exited with ${exit.code ?? exit.signal} after the load; stderr: ${serve.stderr().slice(-500)}`);
  }
  if (outcome.failures.length > 0) throw new ScriptFailure(`served load: ${outcome.failures.length} failures, first: ${outcome.failures[0]}`);
  const mib = (bytes: number): number => round(bytes / 2 ** 20);
  const rssBytes = outcome.rss.map((sample) => sample.bytes);
  return {
    runs: outcome.ok,
    runsPerSecond: round(outcome.ok / (outcome.elapsedMs / 1000), 2),
    latencyMs: summarize(outcome.latenciesMs),
    cpuMsPerRun: cpuPerRun(before, after, outcome.ok),
    queueFull: outcome.queueFull,
    rssMiB: { first: mib(rssBytes[0] ?? 0), max: mib(Math.max(...rssBytes)), last: mib(rssBytes.at(-1) ?? 0) },
    rss: outcome.rss,
  };
}

async function direct(durationMs: number): Promise<LoadSide> {
  const sandbox = new Sandbox({ poolSize: POOL_SIZE });
  try {
    // As `serve` starts: load comes the moment the pool is ready (its network-namespace holders
    // are still being made in the background), not after whenWarm().
    await sandbox.initialize();
    const latencies: number[] = [];
    const before = await cpuMarks();
    const start = performance.now();
    const end = start + durationMs;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, client) => {
        for (let index = 0; performance.now() < end; index += 1) {
          const { body, expected } = echoRequest(client, index);
          const sent = performance.now();
          const result = await sandbox.run(JSON.parse(body) as { code: string; stdin: string });
          if (result.stdout !== expected) throw new ScriptFailure(`direct load: client ${client} got ${JSON.stringify(result.stdout.slice(0, 100))}...`);
          latencies.push(performance.now() - sent);
        }
      }),
    );
    const elapsedMs = performance.now() - start;
    const after = await cpuMarks();
    return {
      runs: latencies.length,
      runsPerSecond: round(latencies.length / (elapsedMs / 1000), 2),
      latencyMs: summarize(latencies),
      cpuMsPerRun: cpuPerRun(before, after, latencies.length),
    };
  } finally {
    await sandbox.cleanup();
  }
}

export async function measureLoad(durationMs: number, log: Log): Promise<LoadResults> {
  const servedSide = await served(durationMs, log);
  const directSide = await direct(durationMs);
  return { concurrency: CONCURRENCY, poolSize: POOL_SIZE, maxQueue: MAX_QUEUE, durationMs, served: servedSide, direct: directSide };
}
