/**
 * Load: 16 clients for a while on a pool of 4, through `serve` in its own process (a queue of 8:
 * the rest get 503 and wait their Retry-After), and the same clients calling `sandbox.run()` in
 * this process on a pool of 4, one after the other. Each run echoes 128 KiB of stdin unique to its
 * request (scripts/shared/http-load.ts).
 */
import { performance } from 'node:perf_hooks';
import { Sandbox } from '../../lib/index.js';
import { driveLoad, echoRequest, type RssSample } from '../shared/http-load.js';
import { startServeProcess } from '../shared/serve-process.js';
import { ScriptFailure } from '../shared/script.js';
import type { Log } from '../shared/log.js';
import { round, summarize, type Summary } from '../shared/stats.js';

export interface LoadSide {
  runs: number;
  runsPerSecond: number;
  latencyMs: Summary;
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
  try {
    outcome = await driveLoad({ base: serve.base, concurrency: CONCURRENCY, durationMs, serverPid: serve.pid });
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
    queueFull: outcome.queueFull,
    rssMiB: { first: mib(rssBytes[0] ?? 0), max: mib(Math.max(...rssBytes)), last: mib(rssBytes.at(-1) ?? 0) },
    rss: outcome.rss,
  };
}

async function direct(durationMs: number): Promise<LoadSide> {
  const sandbox = new Sandbox({ poolSize: POOL_SIZE });
  try {
    await sandbox.initialize();
    await sandbox.whenWarm();
    const latencies: number[] = [];
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
    return { runs: latencies.length, runsPerSecond: round(latencies.length / (elapsedMs / 1000), 2), latencyMs: summarize(latencies) };
  } finally {
    await sandbox.cleanup();
  }
}

export async function measureLoad(durationMs: number, log: Log): Promise<LoadResults> {
  const servedSide = await served(durationMs, log);
  const directSide = await direct(durationMs);
  return { concurrency: CONCURRENCY, poolSize: POOL_SIZE, maxQueue: MAX_QUEUE, durationMs, served: servedSide, direct: directSide };
}
