/**
 * The service under a bounded load, on 127.0.0.1 only: `serve` as its own process with a pool of
 * 4 and a queue of 8, and 16 clients posting runs for 30 s (scripts/shared/http-load.ts: each run
 * echoes 128 KiB of stdin unique to its request). Every answer is a 200 with the request's own
 * output or a 503 queue_full with Retry-After, and the server's resident memory stays flat once
 * warm. RSS moves with V8's collection cycles (a sawtooth of ~30 MiB here), so that check only
 * catches gross growth; the second test measures what a request leaves behind exactly: live
 * memory after full collections, before and after 120 runs through a service in this process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createServer } from '../../lib/server/server.js';
import { driveLoad, echoRequest, PAYLOAD_BYTES, postRun, type RssSample } from '../../scripts/shared/http-load.js';
import { runConcurrently } from '../../scripts/shared/concurrency.js';
import { startServeProcess } from '../../scripts/shared/serve-process.js';
import { DockerEngine } from '../../lib/docker/engine.js';
import { OWNER_PID_LABEL } from '../../lib/docker/labels.js';

const MIB = 2 ** 20;
const DURATION_MS = 30_000;
/** How far the last third's highest RSS may rise above the middle third's: GC's sawtooth, not a trend. */
const RSS_SLACK_BYTES = 24 * MIB;

function highest(samples: readonly RssSample[], fromMs: number, toMs: number): number {
  const within = samples.filter((sample) => sample.atMs >= fromMs && sample.atMs < toMs).map((sample) => sample.bytes);
  assert.ok(within.length >= 3, `RSS samples between ${fromMs} and ${toMs} ms: ${within.length}`);
  return Math.max(...within);
}

test('16 clients for 30 s on a pool of 4 with a queue of 8: only 200s with the right output and 503s with Retry-After; RSS flat', async (t) => {
  const token = 'load-spec-token-0123456789';
  const serve = await startServeProcess(['--pool-size', '4', '--max-queue', '8'], { env: { ...process.env, DPS_TOKENS: token } });
  t.after(() => serve.stop());
  const outcome = await driveLoad({ base: serve.base, token, concurrency: 16, durationMs: DURATION_MS, serverPid: serve.pid });
  const shown = outcome.rss.map((sample) => `${(sample.atMs / 1000).toFixed(0)}s ${(sample.bytes / MIB).toFixed(0)}`).join(', ');
  t.diagnostic(`${outcome.ok} runs of ${PAYLOAD_BYTES} bytes, ${outcome.queueFull} answers 503; server RSS (MiB): ${shown}`);

  assert.deepEqual(outcome.failures, []);
  assert.ok(outcome.ok >= 16, `${outcome.ok} runs answered`);
  assert.ok(outcome.queueFull >= 1, '16 clients on 4 containers and 8 queue places: some were turned away');
  const middle = highest(outcome.rss, DURATION_MS / 3, (2 * DURATION_MS) / 3);
  const last = highest(outcome.rss, (2 * DURATION_MS) / 3, Number.POSITIVE_INFINITY);
  assert.ok(
    last <= middle + RSS_SLACK_BYTES,
    `the server's RSS rose from ${(middle / MIB).toFixed(0)} MiB (highest, middle third) to ${(last / MIB).toFixed(0)} MiB (last third): ${shown}`,
  );

  assert.deepEqual(await serve.stop(), { code: 0, signal: null });
  const left = await new DockerEngine({ binary: 'docker', host: undefined }).listContainers({ [OWNER_PID_LABEL]: String(serve.pid) });
  assert.deepEqual(left, [], 'the server removed its containers');
});

/** Full garbage collections, from a flag set at run time (the spec runs in its own process); the second frees what finalizers of the first let go. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** What the process holds once garbage is collected: the JS heap and the memory outside it (Buffers). */
function liveBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

test('the service keeps nothing of a request once it is answered: live memory after 120 runs is within a few payloads of before', async (t) => {
  const service = createServer({ port: 0, sandbox: { poolSize: 4 } });
  const base = await service.listen();
  try {
    let sent = 0;
    const load = (runs: number): Promise<void> =>
      runConcurrently(runs, 4, async (worker) => {
        const { body, expected } = echoRequest(worker, (sent += 1));
        const answer = await postRun({ base }, body);
        assert.equal(answer.status, 200, answer.text);
        assert.equal((JSON.parse(answer.text) as { stdout: string }).stdout, expected);
      });
    await load(48); // warm: the handler's, fetch's and the pool's first allocations
    const before = liveBytes();
    await load(120);
    const after = liveBytes();
    const grewBy = after - before;
    t.diagnostic(`live memory (JS heap and Buffers, after a full GC): ${(before / MIB).toFixed(1)} MiB before, ${(after / MIB).toFixed(1)} MiB after`);
    assert.ok(grewBy < 16 * PAYLOAD_BYTES, `live memory grew by ${(grewBy / MIB).toFixed(1)} MiB over 120 runs of ${PAYLOAD_BYTES} bytes each way`);
  } finally {
    await service.close();
  }
});
