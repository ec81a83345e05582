/**
 * Added latency: the same hello-world program through `sandbox.run()` and through the service's
 * routes on one in-process server (same Sandbox, same pool), interleaved, with the pool warm and
 * quiet before each timed run. What a route adds over the direct call is the HTTP layer as a
 * client on this host sees it: fetch, node:http, JSON or SSE, the handler's checks. For scale, the
 * same client's POST to a bare node:http server that answers `{}` at once (no run): the floor of
 * any HTTP service on this host.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SandboxService } from '../../lib/server/server.js';
import { summarize, timed, type Summary } from '../shared/stats.js';
import { ScriptFailure } from '../shared/script.js';
import { expectHello, HELLO } from '../bench/hello.js';
import { progress, type Log } from '../shared/log.js';

export type Route = 'direct' | 'json' | 'sse' | 'piston' | 'bare';
export const ROUTES: readonly Route[] = ['direct', 'json', 'sse', 'piston', 'bare'];

export type LatencyResults = Record<Route, { samples: number[]; summary: Summary }>;

async function post(base: string, path: string, body: unknown, accept = 'application/json'): Promise<string> {
  const response = await fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: accept }, body: JSON.stringify(body) });
  const text = await response.text();
  if (response.status !== 200) throw new ScriptFailure(`POST ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text;
}

/** A server that answers every request with `{}` once its body is in. */
async function bareServer(): Promise<{ server: Server; base: string }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** One hello-world run through `route`, its output checked (for 'bare': one POST, no run). */
async function runThrough(route: Route, service: SandboxService, base: string, bareBase: string): Promise<void> {
  switch (route) {
    case 'bare': {
      const answer = await post(bareBase, '/', { code: HELLO });
      if (answer !== '{}') throw new ScriptFailure(`bare node:http: ${answer}`);
      return;
    }
    case 'direct': {
      const result = await service.sandbox.run(HELLO);
      expectHello(result.stdout, 'direct sandbox.run', result.stderr);
      return;
    }
    case 'json': {
      const result = JSON.parse(await post(base, '/v1/run', { code: HELLO })) as { stdout: string; stderr: string };
      expectHello(result.stdout, 'POST /v1/run', result.stderr);
      return;
    }
    case 'sse': {
      const stream = await post(base, '/v1/run', { code: HELLO }, 'text/event-stream');
      const data = /^event: result\ndata: (.*)$/m.exec(stream)?.[1];
      if (data === undefined) throw new ScriptFailure(`POST /v1/run (SSE): no result event in ${JSON.stringify(stream.slice(0, 300))}`);
      const result = JSON.parse(data) as { stdout: string; stderr: string };
      expectHello(result.stdout, 'POST /v1/run (SSE)', result.stderr);
      return;
    }
    case 'piston': {
      const answer = JSON.parse(await post(base, '/api/v2/execute', { language: 'python', version: '*', files: [{ content: HELLO }] })) as {
        run: { stdout: string; stderr: string };
      };
      expectHello(answer.run.stdout, 'POST /api/v2/execute', answer.run.stderr);
      return;
    }
  }
}

export async function measureAddedLatency(service: SandboxService, base: string, runs: number, warmupRuns: number, log: Log): Promise<LatencyResults> {
  const bare = await bareServer();
  const samples = new Map<Route, number[]>(ROUTES.map((route) => [route, []]));
  const tick = progress(runs, (done) => log(`latency (${ROUTES.join(', ')} interleaved): ${done}/${runs}`));
  for (let iteration = -warmupRuns; iteration < runs; iteration += 1) {
    for (const route of ROUTES) {
      // The replacement container ready and nothing else going on during a timed run.
      await service.sandbox.whenWarm();
      const { ms } = await timed(() => runThrough(route, service, base, bare.base));
      if (iteration >= 0) samples.get(route)!.push(ms);
    }
    if (iteration >= 0) tick();
  }
  bare.server.close();
  return Object.fromEntries(ROUTES.map((route) => [route, { samples: samples.get(route)!, summary: summarize(samples.get(route)!) }])) as LatencyResults;
}
