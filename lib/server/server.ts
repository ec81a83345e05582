/**
 * The HTTP service: one Sandbox behind node:http. createServer() makes both; listen() starts the
 * pool, then listens; close() stops accepting, lets requests in flight finish (up to a grace
 * period), then removes the Sandbox's containers.
 *
 * Without tokens the service listens on loopback only: anyone who reaches it runs code on the
 * engine's host.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Sandbox, type SandboxOptions } from '../index.js';
import { createHandler, type HandlerOptions } from './handler.js';

export interface ServiceOptions extends HandlerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8080 */
  port?: number;
  /** The Sandbox behind the service. */
  sandbox?: SandboxOptions;
  /** How long close() lets requests in flight finish. @default 30_000 */
  closeGraceMs?: number;
  /** A client must send its request's headers within this; else 408 and the connection is closed. @default 10_000 */
  headersTimeoutMs?: number;
  /** ... and its whole request, body included, within this. @default 60_000 */
  requestTimeoutMs?: number;
}

/** Options the service refuses to start with (e.g. a public address without tokens). */
export class ServiceOptionsError extends Error {
  readonly code = 'ERR_SERVICE_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'ServiceOptionsError';
  }
}

export interface SandboxService {
  readonly server: Server;
  readonly sandbox: Sandbox;
  /** Starts the pool, then listens; resolves with the address (http://host:port). */
  listen(): Promise<string>;
  /** Stops accepting, lets requests in flight finish (up to closeGraceMs), removes the containers. */
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export function createServer(options: ServiceOptions = {}): SandboxService {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if ((options.tokens ?? []).length === 0 && !isLoopback(host)) {
    throw new ServiceOptionsError(
      `Without a token the service listens on loopback only, and ${host} is not: anyone who reaches it could run code. ` +
        'Give tokens (--token-file, DPS_TOKENS or the tokens option), or listen on 127.0.0.1.',
    );
  }
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  if (!(headersTimeoutMs > 0 && requestTimeoutMs >= headersTimeoutMs)) {
    throw new ServiceOptionsError(
      `headersTimeoutMs (${headersTimeoutMs}) must be above 0 and at most requestTimeoutMs (${requestTimeoutMs}): a request cannot take less time than its headers`,
    );
  }
  const sandbox = new Sandbox(options.sandbox ?? {});
  // A slow client cannot hold the server: node:http answers 408 and closes a connection whose
  // headers or whole request are late. It checks every connectionsCheckingInterval (30 s by
  // default, which would let a client overstay by that much): a tenth of the headers' time here.
  const server = createHttpServer(
    { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(1_000, headersTimeoutMs / 10)) },
    createHandler(sandbox, options),
  );
  server.keepAliveTimeout = 5_000;
  const graceMs = options.closeGraceMs ?? 30_000;
  return {
    server,
    sandbox,
    async listen() {
      await sandbox.initialize();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${shown}:${address.port}`;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([closed, grace]);
      clearTimeout(timer);
      server.closeAllConnections();
      await sandbox.cleanup();
    },
  };
}
