/**
 * `docker-python-sandbox serve`: the HTTP service (lib/server) as a program. Parses its flags,
 * reads tokens from --token-file (one per line; blank lines and # comments skipped) and DPS_TOKENS
 * (comma-separated), starts the pool, listens, and prints exactly one line to stdout:
 * `listening on http://HOST:PORT`. The CLI's signal handler calls close() on SIGINT/SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { SandboxOptions } from './options.js';
import { createServer, type SandboxService } from './server/server.js';

export const SERVE_USAGE = `Usage: docker-python-sandbox serve [--host 127.0.0.1] [--port 8080] [--token-file FILE]
         [--pool-size N] [--max-queue N] [--timeout MS] [--memory MB] [--image NAME] [--runtime NAME]
         [--docker-host ADDRESS | --context NAME] [--docker PATH] [--close-grace MS] [--rate-limit N] [--playground]

Serves the sandbox over HTTP: POST /v1/run, GET /v1/info, /metrics, /healthz, /readyz (see the
README). Tokens come from --token-file (one per line) and DPS_TOKENS (comma-separated); without any,
the service listens on loopback only. --port 0 picks a free port. Prints one line once it
listens: "listening on http://HOST:PORT". SIGINT/SIGTERM stop accepting, let runs in flight
finish (up to --close-grace ms, default 30000), remove the containers and exit 0.
--rate-limit N: at most N runs a minute per token (per address without tokens); over it, 429.
--playground: a page at / to write and run code in a browser (it asks for the token).
--docker PATH: the docker binary to drive, or podman (default: docker on PATH).
`;

/** A flag the serve command cannot take. */
export class ServeUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServeUsageError';
  }
}

function whole(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) throw new ServeUsageError(`--${flag} must be a whole number from ${min}, not "${value}"`);
  return number;
}

async function readTokens(tokenFile: string | undefined, environment: string | undefined): Promise<string[]> {
  const fromFile =
    tokenFile === undefined
      ? []
      : (
          await readFile(tokenFile, 'utf8').catch((error: unknown) => {
            throw new ServeUsageError(`--token-file ${tokenFile} cannot be read: ${(error as Error).message}`);
          })
        )
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line !== '' && !line.startsWith('#'));
  const fromEnvironment = (environment ?? '')
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '');
  const tokens = [...fromFile, ...fromEnvironment];
  const short = tokens.find((token) => token.length < 16);
  if (short !== undefined) throw new ServeUsageError('every token must be at least 16 characters long (a guessable token is no protection)');
  return tokens;
}

/** Starts the service from the command's arguments; resolves once it listens (having printed where). */
export async function serve(argv: readonly string[], environment: NodeJS.ProcessEnv): Promise<SandboxService> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'token-file': { type: 'string' },
        'pool-size': { type: 'string' },
        'max-queue': { type: 'string' },
        timeout: { type: 'string' },
        memory: { type: 'string' },
        image: { type: 'string' },
        runtime: { type: 'string' },
        'docker-host': { type: 'string' },
        context: { type: 'string' },
        docker: { type: 'string' },
        'close-grace': { type: 'string' },
        'rate-limit': { type: 'string' },
        playground: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new ServeUsageError((error as Error).message);
  }
  if (values['docker-host'] !== undefined && values.context !== undefined) throw new ServeUsageError('give --docker-host or --context, not both');
  const sandbox: SandboxOptions = {};
  const poolSize = whole('pool-size', values['pool-size'], 1);
  const maxQueue = whole('max-queue', values['max-queue'], 0);
  const timeoutMs = whole('timeout', values.timeout, 1);
  const memoryLimitMb = whole('memory', values.memory, 1);
  if (poolSize !== undefined) sandbox.poolSize = poolSize;
  if (maxQueue !== undefined) sandbox.maxQueue = maxQueue;
  if (timeoutMs !== undefined) sandbox.timeoutMs = timeoutMs;
  if (memoryLimitMb !== undefined) sandbox.memoryLimitMb = memoryLimitMb;
  if (values.image !== undefined) sandbox.image = values.image;
  if (values.runtime !== undefined) sandbox.runtime = values.runtime;
  if (values['docker-host'] !== undefined) sandbox.dockerHost = values['docker-host'];
  if (values.context !== undefined) sandbox.context = values.context;
  if (values.docker !== undefined) sandbox.dockerPath = values.docker;
  const port = whole('port', values.port, 0);
  const closeGraceMs = whole('close-grace', values['close-grace'], 0);
  const rateLimit = whole('rate-limit', values['rate-limit'], 1);
  const service = createServer({
    host: values.host ?? '127.0.0.1',
    port: port ?? 8080,
    tokens: await readTokens(values['token-file'], environment.DPS_TOKENS),
    sandbox,
    ...(closeGraceMs === undefined ? {} : { closeGraceMs }),
    ...(rateLimit === undefined ? {} : { rateLimit: { perMinute: rateLimit } }),
    playground: values.playground,
  });
  const url = await service.listen();
  process.stdout.write(`listening on ${url}\n`);
  return service;
}
