/**
 * A bounded HTTP load on the service (lib/server): `concurrency` clients post runs for `durationMs`,
 * each waiting for its answer before the next. Every answer is checked: 200 with the expected
 * output, or 503 `queue_full` with a `Retry-After` (the client then waits that long, as a client
 * should); anything else is a failure, recorded with what came back. The server's resident memory
 * is sampled meanwhile. Used by the load spec and by `npm run bench:http`.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

export interface LoadOptions {
  /** The service's URL, http://host:port. */
  base: string;
  token?: string;
  concurrency: number;
  durationMs: number;
  /** The server process, whose RSS is sampled every second. */
  serverPid: number;
  /** How long one request may take before it counts as a failure. @default 60_000 */
  requestDeadlineMs?: number;
}

export interface RssSample {
  /** ms since the load started */
  atMs: number;
  bytes: number;
}

export interface LoadOutcome {
  /** Answers 200 with the right output. */
  ok: number;
  /** Answers 503 queue_full with Retry-After. */
  queueFull: number;
  /** Anything else: a wrong status, output or header, a network error, a request past its deadline. */
  failures: string[];
  /** Latency of each 200, in ms. */
  latenciesMs: number[];
  rss: RssSample[];
  elapsedMs: number;
}

/** Bytes each request sends as stdin and gets back as stdout: a leak of requests or results would show in the RSS. */
export const PAYLOAD_BYTES = 128 * 1024;

/** What each request runs: the program echoes its stdin, which is unique to the request, so the answer proves it was the request's own run. */
export function echoRequest(client: number, index: number): { body: string; expected: string } {
  const tag = `${client}.${index};`;
  const stdin = tag.repeat(Math.ceil(PAYLOAD_BYTES / tag.length)).slice(0, PAYLOAD_BYTES);
  return { body: JSON.stringify({ code: 'import sys\nsys.stdout.write(sys.stdin.read())', stdin }), expected: stdin };
}

/** VmRSS of a process, in bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

export async function postRun(
  options: Pick<LoadOptions, 'base' | 'token' | 'requestDeadlineMs'>,
  body: string,
): Promise<{ status: number; retryAfter: string | null; text: string }> {
  const controller = new AbortController();
  const deadlineMs = options.requestDeadlineMs ?? 60_000;
  const deadline = setTimeout(() => controller.abort(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
  try {
    const response = await fetch(`${options.base}/v1/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }) },
      body,
      signal: controller.signal,
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
  } finally {
    clearTimeout(deadline);
  }
}

export async function driveLoad(options: LoadOptions): Promise<LoadOutcome> {
  const outcome: LoadOutcome = { ok: 0, queueFull: 0, failures: [], latenciesMs: [], rss: [], elapsedMs: 0 };
  const start = performance.now();
  const end = start + options.durationMs;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      outcome.rss.push({ atMs: performance.now() - start, bytes: await residentBytes(options.serverPid) });
      await delay(1_000);
    }
  })();

  const client = async (clientIndex: number): Promise<void> => {
    // Past 100 failures the run has failed anyway (a dead server would otherwise spin here).
    for (let index = 0; performance.now() < end && outcome.failures.length < 100; index += 1) {
      const { body, expected } = echoRequest(clientIndex, index);
      const sent = performance.now();
      let answer;
      try {
        answer = await postRun(options, body);
      } catch (error) {
        outcome.failures.push(`client ${clientIndex}: ${(error as Error).message}`);
        continue;
      }
      const tookMs = performance.now() - sent;
      if (answer.status === 200) {
        const result = JSON.parse(answer.text) as { stdout?: string; status?: string };
        if (result.status === 'ok' && result.stdout === expected) {
          outcome.ok += 1;
          outcome.latenciesMs.push(tookMs);
        } else outcome.failures.push(`client ${clientIndex}: 200 with ${answer.text.slice(0, 300)}...`);
      } else if (answer.status === 503 && answer.text.includes('"queue_full"') && /^[1-9]\d*$/.test(answer.retryAfter ?? '')) {
        outcome.queueFull += 1;
        await delay(Math.min(Number(answer.retryAfter) * 1_000, Math.max(0, end - performance.now())));
      } else {
        outcome.failures.push(`client ${clientIndex}: ${answer.status} (Retry-After ${answer.retryAfter}) ${answer.text.slice(0, 300)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, clientIndex) => client(clientIndex)));
  } finally {
    sampling = false;
    await sampler;
  }
  outcome.elapsedMs = performance.now() - start;
  return outcome;
}
