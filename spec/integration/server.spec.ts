/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call --
   the answers are parsed JSON; each assertion checks the shape it reads. */
/**
 * The HTTP service on the real engine: every route, status code and security rule of
 * lib/server, through real HTTP requests to a server on 127.0.0.1 (a free port).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import piston from 'piston-client';
import { createServer, ServiceOptionsError, type SandboxService } from '../../lib/server/server.js';
import { runnerContainers } from '../helpers/engine.js';
import { eventually } from '../helpers/eventually.js';

const TOKEN = 'a-test-token-of-some-length';
const auth = { Authorization: `Bearer ${TOKEN}` };

interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by each assertion
}

describe('the HTTP service', () => {
  let service: SandboxService;
  let base: string;

  before(async () => {
    service = createServer({ port: 0, tokens: [TOKEN], sandbox: { poolSize: 2, timeoutMs: 3_000 } });
    base = await service.listen();
  });
  after(async () => {
    await service.close();
  });

  async function call(path: string, init: RequestInit = {}): Promise<Answer> {
    const response = await fetch(base + path, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
  }
  const run = (body: unknown, headers: Record<string, string> = auth): Promise<Answer> =>
    call('/v1/run', { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

  test('listen() says where; /healthz and /readyz answer without a token', async () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual((await call('/healthz')).body, { status: 'ok' });
    const ready = await call('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.ready, true);
  });

  test('every other route needs a bearer token: 401 with WWW-Authenticate, never from the query string', async () => {
    const attempts: Record<string, string>[] = [{}, { Authorization: 'Bearer wrong' }, { Authorization: TOKEN }];
    for (const attempt of attempts) {
      const answer = await run({ code: 'print(1)' }, attempt);
      assert.equal(answer.status, 401);
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(answer.body.error.code, 'unauthorized');
    }
    assert.equal((await call(`/v1/info?token=${TOKEN}`)).status, 401);
    assert.equal((await call(`/v1/info?access_token=${TOKEN}`, { headers: {} })).status, 401);
  });

  test('POST /v1/run answers 200 with the result for every outcome', async () => {
    const ok = await run({ code: 'print("hello")' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.stdout, 'hello\n');
    assert.equal(ok.body.status, 'ok');
    const failed = await run({ code: 'raise SystemExit(3)' });
    assert.equal(failed.status, 200);
    assert.equal(failed.body.status, 'error');
    assert.equal(failed.body.exitCode, 3);
    const slow = await run({ code: 'import time\ntime.sleep(10)', timeoutMs: 500 });
    assert.equal(slow.status, 200);
    assert.equal(slow.body.status, 'timeout');
  });

  test('stdin, argv, env and files (text or base64) go in; collected files come back as base64', async () => {
    const answer = await run({
      code: 'import os, sys\nprint(sys.stdin.read(), sys.argv[1:], os.environ["X"], open("a.txt").read(), open("b.bin", "rb").read())\nopen("out.bin", "wb").write(bytes([0, 1, 2]))',
      stdin: 'in',
      argv: ['-v'],
      env: { X: 'y' },
      files: { 'a.txt': 'text', 'b.bin': { base64: Buffer.from([255, 0]).toString('base64') } },
      collect: ['out.bin'],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.stdout, "in ['-v'] y text b'\\xff\\x00'\n");
    assert.equal(answer.body.files['out.bin'], Buffer.from([0, 1, 2]).toString('base64'));
  });

  test('bad requests get 400, 404, 405, 413 or 415 with the error shape, and use no container', async () => {
    await service.sandbox.whenWarm();
    const before = (await runnerContainers(service.sandbox.id)).sort();
    const unknownKey = await run({ code: 'print(1)', colour: 'red' });
    assert.equal(unknownKey.status, 400);
    assert.equal(unknownKey.body.error.code, 'invalid_request');
    assert.ok(unknownKey.body.error.issues.length >= 1);
    const overMax = await run({ code: 'print(1)', timeoutMs: 10 ** 9 });
    assert.equal(overMax.status, 400);
    assert.equal(overMax.body.error.code, 'invalid_run');
    assert.equal((await run({ code: 'print(1)', files: { '../escape': 'x' } })).status, 400);
    assert.equal((await run({ code: 'print(1)', files: { 'a.bin': { base64: 'not base64!' } } })).status, 400);
    const invalidJson = await call('/v1/run', { method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: '{"code": ' });
    assert.equal(invalidJson.status, 400);
    assert.equal(invalidJson.body.error.code, 'invalid_json');
    const notJson = await call('/v1/run', { method: 'POST', headers: { 'Content-Type': 'text/plain', ...auth }, body: 'print(1)' });
    assert.equal(notJson.status, 415);
    assert.equal((await call('/nowhere', { headers: auth })).status, 404);
    const wrongMethod = await call('/v1/run', { headers: auth });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    assert.equal((await tooLarge(base)).status, 413);
    assert.deepEqual((await runnerContainers(service.sandbox.id)).sort(), before, 'no container was used or replaced');
  });

  test('with Accept: text/event-stream, output arrives as events while the program runs, then the result', async () => {
    const response = await fetch(`${base}/v1/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...auth },
      body: JSON.stringify({
        code: 'import sys, time\nprint("first", flush=True)\nprint("err", file=sys.stderr, flush=True)\ntime.sleep(1.5)\nprint("second")',
      }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events: { event: string; data: unknown; at: number }[] = [];
    for await (const event of readEvents(response)) events.push({ ...event, at: performance.now() });
    const names = events.map((event) => event.event);
    assert.deepEqual(names.slice(-1), ['result']);
    assert.ok(names.includes('stderr'));
    const first = events.find((event) => event.data === 'first\n');
    const result = events.at(-1)!;
    assert.ok(first !== undefined, JSON.stringify(events));
    assert.ok(result.at - first.at >= 1_000, `"first" came ${(result.at - first.at).toFixed(0)} ms before the result`);
    assert.equal((result.data as { stdout: string }).stdout, 'first\nsecond\n');
  });

  test('a client that disconnects aborts its run: the container is killed at once', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/v1/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...auth },
      body: JSON.stringify({ code: 'import time\nprint("started", flush=True)\ntime.sleep(60)', timeoutMs: 60_000 }),
      signal: controller.signal,
    });
    for await (const event of readEvents(response)) if (event.data === 'started\n') break;
    controller.abort();
    await eventually('the run ended with its client', () => service.sandbox.stats().busy === 0, 5_000);
  });

  test('GET /metrics needs the token and counts runs, durations, containers, engines and requests', async () => {
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const scrape = async (): Promise<string> => {
      const response = await fetch(`${base}/metrics`, { headers: auth });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return response.text();
    };
    // The disconnected client's run is counted once its rejection has gone through.
    let text = await scrape();
    await eventually('the aborted run is counted', async () => /^dps_runs_total\{status="aborted"\} [1-9]/m.test((text = await scrape())), 5_000);
    const sample = (name: string): number => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(sample('dps_runs_total{status="ok"}') >= 2, text);
    assert.ok(sample('dps_runs_total{status="timeout"}') >= 1);
    assert.ok(sample('dps_runs_total{status="aborted"}') >= 1, 'the disconnected client');
    assert.ok(sample('dps_run_duration_seconds_count') >= 4);
    assert.equal(sample('dps_engine_up{engine="default"}'), 1);
    assert.ok(sample('dps_http_requests_total{route="/v1/run",code="400"}') >= 4);
    assert.ok(sample('dps_http_requests_total{route="unmatched",code="404"}') >= 1);
  });

  test('GET /v1/info gives the image, Python version, limits and engines', async () => {
    const info = await call('/v1/info', { headers: auth });
    assert.equal(info.status, 200);
    assert.match(info.body.python, /^3\.\d+\.\d+$/);
    assert.equal(info.body.limits.timeoutMs, 3_000);
    assert.deepEqual(
      info.body.engines.map((engine: { name: string }) => engine.name),
      ['default'],
    );
  });
});

test('a full queue answers 503 with Retry-After; no token means loopback only', async () => {
  assert.throws(() => createServer({ host: '0.0.0.0', port: 0 }), ServiceOptionsError);
  const service = createServer({ port: 0, sandbox: { poolSize: 1, maxQueue: 1 } });
  const base = await service.listen();
  try {
    const post = (): Promise<Response> =>
      fetch(`${base}/v1/run`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ code: 'import time\ntime.sleep(1)' }),
      });
    const running = post();
    await eventually('the first run holds the container', () => service.sandbox.stats().busy === 1, 10_000);
    const queued = post();
    await eventually('the second run is queued', () => service.sandbox.stats().queued === 1, 10_000);
    const refused = await post();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'queue_full');
    assert.equal((await running).status, 200);
    assert.equal((await queued).status, 200);
  } finally {
    await service.close();
  }
});

/** Sends `bytes` on a raw connection, then nothing: resolves with what the server sent once it closes the connection. */
function stall(port: number, bytes: string, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server still held a stalled connection after ${deadlineMs} ms (sent: ${JSON.stringify(bytes)})`));
    }, deadlineMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined); // a reset after the 408 ends it like a close
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve(answer);
    });
  });
}

test('a slow client cannot hold the server: late headers or a late body get 408 and lose their connection', async () => {
  assert.throws(() => createServer({ port: 0, headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 }), /at most requestTimeoutMs/);
  const service = createServer({ port: 0, sandbox: { poolSize: 1 }, headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
  const base = await service.listen();
  try {
    const port = Number(new URL(base).port);
    const lateHeaders = stall(port, 'POST /v1/run HTTP/1.1\r\nHost: a\r\n', 10_000);
    const lateBody = stall(port, 'POST /v1/run HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"code": ', 10_000);
    // Meanwhile the server answers others.
    const served = await fetch(`${base}/v1/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: 'print(2)' }),
    });
    assert.equal(((await served.json()) as { stdout: string }).stdout, '2\n');
    const [headersAnswer, bodyAnswer] = await Promise.all([lateHeaders, lateBody]);
    assert.match(headersAnswer, /^HTTP\/1\.1 408 /);
    assert.match(bodyAnswer, /^HTTP\/1\.1 408 /);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^dps_runs_total\{status="ok"\} 1$/m, 'only the served request ran code');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  } finally {
    await service.close();
  }
});

test('Piston v2: the npm piston-client works unchanged against the service', async () => {
  const service = createServer({ port: 0, sandbox: { poolSize: 1 } });
  const base = await service.listen();
  try {
    const client = piston({ server: base });
    const runtimes = (await client.runtimes()) as { language: string; version: string; aliases: string[] }[];
    assert.equal(runtimes[0]?.language, 'python');
    assert.ok(runtimes[0]?.aliases.includes('py'));
    const ran = (await client.execute('python', 'import sys\nprint(input(), sys.argv[1:])\nsys.exit(2)', { stdin: 'hi', args: ['a'] })) as {
      language: string;
      run: { stdout: string; output: string; code: number; status: string | null };
    };
    assert.equal(ran.language, 'python');
    assert.equal(ran.run.stdout, "hi ['a']\n");
    assert.equal(ran.run.code, 2);
    assert.equal(ran.run.status, 'RE');
    // Piston lays every file out beside the first and runs that one: a sibling module imports.
    const multiFile = (await client.execute('python', {
      files: [
        { name: 'main.py', content: 'import helper\nprint(helper.greet("piston"))' },
        { name: 'helper.py', content: 'def greet(name):\n    return "hello " + name' },
      ],
    })) as { run: { stdout: string; stderr: string; code: number } };
    assert.equal(multiFile.run.stdout, 'hello piston\n', multiFile.run.stderr);
    assert.equal(multiFile.run.code, 0);
    const slow = (await client.execute('python', 'import time\ntime.sleep(5)', { runTimeout: 300 })) as { run: { status: string; signal: string } };
    assert.equal(slow.run.status, 'TO');
    assert.equal(slow.run.signal, 'SIGKILL');
    const unknown = await fetch(`${base}/api/v2/execute`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ language: 'cobol', version: '*', files: [{ content: '' }] }),
    });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { message: string }).message, /runtime is unknown/);
  } finally {
    await service.close();
  }
});

test('a client over its rate limit gets 429 with Retry-After, before its body is read; others are not held', async () => {
  const service = createServer({ port: 0, tokens: [TOKEN, 'another-token-0123456789'], rateLimit: { perMinute: 6, burst: 2 }, sandbox: { poolSize: 1 } });
  const base = await service.listen();
  try {
    // Bodies that are not JSON: the ones let through answer 415, and no container is used.
    const post = (token: string): Promise<Response> =>
      fetch(`${base}/v1/run`, { method: 'POST', headers: { 'Content-Type': 'text/plain', Authorization: `Bearer ${token}` }, body: 'x' });
    assert.deepEqual([(await post(TOKEN)).status, (await post(TOKEN)).status], [415, 415]);
    const limited = await post(TOKEN);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '10');
    assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'rate_limited');
    assert.equal((await post('another-token-0123456789')).status, 415, 'another token has its own budget');
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'routes that run nothing are not limited');
  } finally {
    await service.close();
  }
});

test('--playground serves one page and its own script and style, with nothing from elsewhere', async () => {
  const service = createServer({ port: 0, tokens: [TOKEN], playground: true, sandbox: { poolSize: 1 } });
  const base = await service.listen();
  try {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200, 'the page needs no token: it asks for one');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    for (const part of ['<label for="code">Code</label>', 'id="token"', 'role="log"', '>Output<', '>Run<', '>Stop<']) assert.ok(html.includes(part), part);
    const script = await fetch(`${base}/playground/playground.js`);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    const style = await fetch(`${base}/playground/playground.css`);
    assert.match(style.headers.get('content-type') ?? '', /^text\/css/);
    for (const text of [html, await script.text(), await style.text()])
      assert.doesNotMatch(text, /(src|href)=["']?https?:|url\(\s*["']?https?:|from\s+["']https?:/, 'nothing from a CDN');
    assert.equal((await fetch(`${base}/v1/info`)).status, 401, 'the API still needs the token');
  } finally {
    await service.close();
  }
});

/** A POST that announces a body far over the limit: the answer must come without it being sent. */
function tooLarge(base: string): Promise<{ status: number }> {
  const url = new URL('/v1/run', base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': String(1 << 30), ...auth },
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
        req.destroy();
      },
    );
    req.on('error', reject);
    req.write('{"code": "');
  });
}

/** The events of a text/event-stream response, data parsed as JSON. */
async function* readEvents(response: Response): AsyncGenerator<{ event: string; data: unknown }> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event !== undefined && data !== undefined) yield { event, data: JSON.parse(data) as unknown };
    }
  }
}
