/**
 * Which engine a docker CLI reaches, as the CLI itself would decide it: an address given to this
 * library, else DOCKER_HOST, else a context (given, DOCKER_CONTEXT, or the CLI config's current
 * one). And what the address means for security: a plain tcp:// engine is warned about once.
 * Pure helpers; running `docker context inspect` is lib/docker/cli.ts's job.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where an engine is, found before any call to it. */
export interface Endpoint {
  /** The engine address (unix://, tcp://, ssh://, npipe://). */
  address: string;
  /** How errors name it: the address, or the context and its address. */
  display: string;
  /** Whether calls to a tcp:// address use TLS. */
  tls: boolean;
}

/** The docker CLI's environment variables, as it reads them. */
type Environment = Readonly<Record<string, string | undefined>>;

/** Whether the docker CLI turns TLS on from the environment (any non-empty value does, as in the CLI). */
export function tlsFromEnvironment(env: Environment): boolean {
  return nonEmpty(env.DOCKER_TLS_VERIFY) !== undefined || nonEmpty(env.DOCKER_TLS) !== undefined;
}

/** The address given through DOCKER_HOST, if any. */
export function hostFromEnvironment(env: Environment): string | undefined {
  return nonEmpty(env.DOCKER_HOST);
}

/**
 * The context the docker CLI would use when neither an address nor DOCKER_HOST is given:
 * DOCKER_CONTEXT, else `currentContext` of its config.json; undefined for the default context.
 */
export function contextFromEnvironment(env: Environment, readConfig: (file: string) => string = (file) => readFileSync(file, 'utf8')): string | undefined {
  const named = nonEmpty(env.DOCKER_CONTEXT);
  if (named !== undefined) return named === 'default' ? undefined : named;
  const file = join(nonEmpty(env.DOCKER_CONFIG) ?? join(homedir(), '.docker'), 'config.json');
  let current: unknown;
  try {
    current = (JSON.parse(readConfig(file)) as { currentContext?: unknown }).currentContext;
  } catch {
    return undefined; // no config file (or not JSON): the CLI uses the default context too
  }
  return typeof current === 'string' && current !== '' && current !== 'default' ? current : undefined;
}

/** The format for `docker context inspect` whose output endpointOfContext() reads. */
export const CONTEXT_INSPECT_FORMAT = '{{json .Endpoints.docker}}\n{{json .TLSMaterial}}';

/** The endpoint of a context, from `docker context inspect --format CONTEXT_INSPECT_FORMAT <name>`. */
export function endpointOfContext(name: string, stdout: string): Endpoint | undefined {
  // One JSON document per line (JSON holds no raw newline).
  const [first = '', second = 'null'] = stdout.trim().split('\n');
  try {
    const docker = JSON.parse(first) as { Host?: unknown; SkipTLSVerify?: unknown } | null;
    const material = JSON.parse(second) as { docker?: unknown } | null;
    if (docker === null) return undefined;
    if (typeof docker.Host !== 'string' || docker.Host === '') return undefined;
    // TLS files in the context, or skip-tls-verify (TLS without checking the server), mean TLS.
    const tls = (Array.isArray(material?.docker) && material.docker.length > 0) || docker.SkipTLSVerify === true;
    return { address: docker.Host, display: `the Docker context "${name}" (${docker.Host})`, tls };
  } catch {
    return undefined;
  }
}

/** What `docker context inspect` (or any docker command) says of a context that does not exist. */
export const CONTEXT_NOT_FOUND = /context "([^"]*)": context not found/;

/** The message for a context that does not exist. */
export function contextNotFoundMessage(name: string): string {
  return `There is no Docker context "${name}": \`docker context ls\` lists the contexts (of DOCKER_CONFIG, or ~/.docker), \`docker context create\` makes one.`;
}

/** Warning code of a plain (no TLS) tcp:// engine. */
export const PLAINTEXT_TCP_WARNING = 'DPS_PLAINTEXT_TCP';

const warnedAbout = new Set<string>();

/**
 * Warns once per address and process (process.emitWarning, code DPS_PLAINTEXT_TCP) that an engine
 * is reached over tcp:// without TLS: whoever can reach that port controls the engine, which is
 * root on its host, and the code, inputs and output cross the network readable by anyone on the way.
 */
export function warnPlaintextTcpOnce(endpoint: Endpoint): void {
  if (warnedAbout.has(endpoint.address)) return;
  warnedAbout.add(endpoint.address);
  process.emitWarning(
    `${endpoint.display} is reached over tcp:// without TLS: anyone who can reach that port is root on its host, and programs, ` +
      'their inputs and output cross the network unencrypted. Use TLS (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or a context with TLS) or ssh://.',
    { code: PLAINTEXT_TCP_WARNING },
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
