/**
 * The HTTP service's request handler: a `(req, res)` function over one Sandbox, for node:http or
 * for mounting in an existing app. Routes:
 *
 *   GET  /healthz      the process answers (no token needed)
 *   GET  /readyz       200 while containers can be made, else 503 (no token needed)
 *   GET  /v1/info      limits, image, Python version, engines
 *   POST /v1/run       a run: its result as JSON, or as server-sent events (Accept: text/event-stream)
 *   GET  /metrics      Prometheus text: runs by status, durations, queue, containers, engines, requests
 *   GET  /api/v2/runtimes, POST /api/v2/execute   Piston v2's API for Python (lib/server/piston.ts)
 *   GET  /             the playground, when asked for (lib/server/playground/)
 *
 * No bad request uses a container: the body is checked (size, type, JSON, keys) and the run's
 * parameters against the Sandbox's maxima before the run is queued.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AbortError,
  EngineUnavailableError,
  QueueFullError,
  QueueTimeoutError,
  RunParamsError,
  SandboxClosedError,
  type RunResult,
  type Sandbox,
} from '../index.js';
import { parseRunParams } from '../options.js';
import { BearerTokens } from './auth.js';
import { HttpError, readJsonBody, sendError, sendJson } from './http-io.js';
import { METRICS_CONTENT_TYPE, ServiceMetrics } from './metrics.js';
import { parsePistonExecute, pistonRuntimes, toPistonResponse } from './piston.js';
import { playgroundFiles, sendStatic } from './playground.js';
import { RateLimiter, type RateLimitSettings } from './rate-limit.js';
import { parseRunBody, runResultJson } from './run-request.js';
import { RunEventStream } from './run-events.js';

export interface HandlerOptions {
  /** Bearer tokens; none: every request is let in. */
  tokens?: readonly string[];
  /** Runs a minute per token (per address without tokens); over it, 429 with Retry-After. @default no limit */
  rateLimit?: RateLimitSettings;
  /** Serve the playground page at / (it asks for the token itself). @default false */
  playground?: boolean;
  /** Largest request body, in bytes. @default base64 of the Sandbox's maxFilesBytes plus 4 MiB for code and stdin */
  maxBodyBytes?: number;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

interface Route {
  method: 'GET' | 'POST';
  path: string;
  /** Whether a token is needed (when tokens are set). */
  auth: boolean;
  /** Whether the route runs code, and so counts against the client's rate limit. */
  runs?: boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void;
}

export function createHandler(sandbox: Sandbox, options: HandlerOptions = {}): RequestHandler {
  const tokens = new BearerTokens(options.tokens ?? []);
  const metrics = new ServiceMetrics();
  const limiter = options.rateLimit === undefined ? undefined : new RateLimiter(options.rateLimit);
  const maxBodyBytes = options.maxBodyBytes ?? Math.ceil((sandbox.options.maxFilesBytes * 4) / 3) + 4 * 1024 * 1024;
  let pythonVersion: Promise<string> | undefined;
  /** The image's Python version, asked once (one run). */
  const python = (): Promise<string> => {
    pythonVersion ??= sandbox.run('import sys\nprint(sys.version.split()[0])').then((result) => result.stdout.trim());
    return pythonVersion;
  };

  const routes: Route[] = [
    { method: 'GET', path: '/healthz', auth: false, handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      auth: false,
      handle: (_req, res) => {
        const stats = sandbox.stats();
        const ready = sandbox.state === 'ready' && !stats.failing;
        sendJson(
          res,
          ready ? 200 : 503,
          { ready, state: sandbox.state, containers: { ready: stats.ready, busy: stats.busy, starting: stats.starting } },
          ready ? {} : { 'Retry-After': '5' },
        );
      },
    },
    {
      method: 'GET',
      path: '/v1/info',
      auth: true,
      handle: async (_req, res) => {
        const { options } = sandbox;
        sendJson(res, 200, {
          image: options.image,
          runtime: options.runtime ?? null,
          python: await python().catch(() => null),
          limits: {
            timeoutMs: options.timeoutMs,
            maxTimeoutMs: options.maxTimeoutMs,
            memoryLimitMb: options.memoryLimitMb,
            maxMemoryLimitMb: options.maxMemoryLimitMb,
            maxOutputBytes: options.maxOutputBytes,
            maxFilesBytes: options.maxFilesBytes,
            maxCollectBytes: options.maxCollectBytes,
            maxBodyBytes,
          },
          poolSize: options.poolSize,
          engines: sandbox.stats().engines.map((engine) => ({ name: engine.name, state: engine.state, size: engine.size })),
        });
      },
    },
    { method: 'POST', path: '/v1/run', auth: true, runs: true, handle: (req, res) => handleRun(sandbox, metrics, req, res, maxBodyBytes) },
    { method: 'GET', path: '/api/v2/runtimes', auth: true, handle: async (_req, res) => sendJson(res, 200, pistonRuntimes(await python())) },
    {
      method: 'POST',
      path: '/api/v2/execute',
      auth: true,
      runs: true,
      handle: async (req, res) => {
        const body = await readJsonBody(req, maxBodyBytes, { textIsJson: true });
        const version = await python();
        const { options } = sandbox;
        const parsed = parsePistonExecute(body, { pythonVersion: version, maxTimeoutMs: options.maxTimeoutMs, maxMemoryLimitMb: options.maxMemoryLimitMb });
        if (!parsed.ok) return sendJson(res, parsed.status, { message: parsed.message });
        try {
          parseRunParams(parsed.params, options);
        } catch (error) {
          if (error instanceof RunParamsError) return sendJson(res, 400, { message: error.message });
          throw error;
        }
        const controller = abortOnClose(res);
        const result = await counted(metrics, sandbox.run({ ...parsed.params, signal: controller.signal }));
        sendJson(res, 200, toPistonResponse(result, version));
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      auth: true,
      handle: (_req, res) => {
        const text = metrics.render(sandbox.stats());
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];

  if (options.playground === true) {
    for (const file of playgroundFiles()) routes.push({ method: 'GET', path: file.path, auth: false, handle: (_req, res) => sendStatic(res, file) });
  }

  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://service').pathname;
    // By route, never by raw path: unknown paths share one series.
    res.on('finish', () => metrics.recordRequest(routes.some((candidate) => candidate.path === path) ? path : 'unmatched', res.statusCode));
    void route(routes, tokens, limiter, path, req, res).catch((error: unknown) => respondWithError(res, error));
  };
}

async function route(
  routes: readonly Route[],
  tokens: BearerTokens,
  limiter: RateLimiter | undefined,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const matching = routes.filter((candidate) => candidate.path === path);
  if (matching.length === 0) throw new HttpError(404, 'not_found', `No route ${path}: see the README for the service's API.`);
  const found = matching.find((candidate) => candidate.method === req.method);
  if (found === undefined) {
    const allowed = matching.map((candidate) => candidate.method).join(', ');
    throw new HttpError(405, 'method_not_allowed', `${path} takes ${allowed}, not ${req.method ?? '?'}.`, { headers: { Allow: allowed } });
  }
  if (found.auth && !tokens.allows(req.headers.authorization)) {
    throw new HttpError(401, 'unauthorized', 'A valid token is needed: send Authorization: Bearer <token>.', {
      headers: { 'WWW-Authenticate': 'Bearer realm="docker-python-sandbox"' },
    });
  }
  if (found.runs === true && limiter !== undefined) {
    // Refused before the body is read: a client over its limit costs nothing more.
    const client = BearerTokens.presented(req.headers.authorization) ?? req.socket.remoteAddress ?? 'unknown';
    const waitSeconds = limiter.take(client, performance.now());
    if (waitSeconds > 0) {
      throw new HttpError(429, 'rate_limited', `Over this client's rate limit; try again in ${waitSeconds} s.`, {
        headers: { 'Retry-After': String(waitSeconds) },
      });
    }
  }
  await found.handle(req, res);
}

async function handleRun(sandbox: Sandbox, metrics: ServiceMetrics, req: IncomingMessage, res: ServerResponse, maxBodyBytes: number): Promise<void> {
  const params = parseRunBody(await readJsonBody(req, maxBodyBytes));
  parseRunParams(params, sandbox.options); // the library's rules, before anything is queued: a RunParamsError is a 400
  const controller = abortOnClose(res);
  if (wantsEvents(req)) {
    const events = new RunEventStream(res);
    try {
      const result = await counted(
        metrics,
        sandbox.run({
          ...params,
          signal: controller.signal,
          onStdout: (chunk) => events.send('stdout', chunk),
          onStderr: (chunk) => events.send('stderr', chunk),
        }),
      );
      events.end('result', runResultJson(result));
    } catch (error) {
      if (!events.started) throw error; // still a plain HTTP answer
      events.end('error', errorBody(asHttpError(error)).error);
    } finally {
      events.close();
    }
    return;
  }
  const result = await counted(metrics, sandbox.run({ ...params, signal: controller.signal }));
  sendJson(res, 200, runResultJson(result));
}

/** A run's outcome, counted: its status and timings, 'aborted' when its client left, 'rejected' when refused. */
async function counted(metrics: ServiceMetrics, running: Promise<RunResult>): Promise<RunResult> {
  try {
    const result = await running;
    metrics.recordResult(result);
    return result;
  } catch (error) {
    metrics.recordRun(error instanceof AbortError ? 'aborted' : 'rejected');
    throw error;
  }
}

/** A client that goes away takes its run with it: queued, it leaves the queue; running, its container is killed. */
function abortOnClose(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client disconnected'));
  });
  return controller;
}

function wantsEvents(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').split(',').some((type) => type.trim().toLowerCase().startsWith('text/event-stream'));
}

/** What a failure answers: the service's own HttpError, or the library's typed errors mapped to statuses. */
function asHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof RunParamsError) return new HttpError(400, 'invalid_run', error.message, { issues: error.issues });
  if (error instanceof QueueFullError) return new HttpError(503, 'queue_full', error.message, { headers: { 'Retry-After': '1' } });
  if (error instanceof QueueTimeoutError || error instanceof EngineUnavailableError)
    return new HttpError(503, 'unavailable', error.message, { headers: { 'Retry-After': '5' } });
  if (error instanceof SandboxClosedError) return new HttpError(503, 'shutting_down', error.message, { headers: { 'Retry-After': '5' } });
  return new HttpError(500, 'internal', error instanceof Error ? error.message : String(error));
}

function errorBody(error: HttpError): { error: Record<string, unknown> } {
  return { error: { code: error.code, message: error.message, ...(error.issues === undefined ? {} : { issues: error.issues }) } };
}

function respondWithError(res: ServerResponse, error: unknown): void {
  if (error instanceof AbortError || res.destroyed) return; // the client is gone: nobody to tell
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const httpError = asHttpError(error);
  // A body too large is not read to its end: close the connection rather than drain it.
  if (httpError.status === 413) res.setHeader('Connection', 'close');
  sendError(res, httpError);
}
