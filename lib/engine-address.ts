/**
 * What an engine address (`dockerHost`, DOCKER_HOST, a context's endpoint) says, as data: which
 * transport, and for ssh the user, host, port and the engine's socket on that host. Pure: nothing
 * here touches the network or the environment.
 */

/** The engine socket an ssh:// address without a path reaches (the docker CLI's default too). */
export const DEFAULT_REMOTE_SOCKET = '/var/run/docker.sock';

export type EngineAddress =
  | { kind: 'unix'; path: string }
  | { kind: 'npipe'; path: string }
  | { kind: 'tcp'; host: string; port: number | undefined }
  | {
      kind: 'ssh';
      user: string | undefined;
      /** As ssh takes it: a name (maybe an alias of ~/.ssh/config) or an address, without brackets. */
      host: string;
      port: number | undefined;
      /** The engine's unix socket on that host: the URL's path, or DEFAULT_REMOTE_SOCKET. */
      socketPath: string;
    }
  | { kind: 'invalid'; reason: string };

export type SshAddress = Extract<EngineAddress, { kind: 'ssh' }>;

/**
 * Parses `unix:///path`, `npipe:////./pipe/name`, `tcp://host[:port]`, and
 * `ssh://[user@]host[:port][/path/to/docker.sock]`. Anything else, or an ssh address with a
 * password, query or fragment, is `{ kind: 'invalid', reason }`.
 */
export function parseEngineAddress(address: string): EngineAddress {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address)?.[1]?.toLowerCase();
  if (scheme === undefined) return invalid(`"${address}" has no scheme: use unix://, tcp://, ssh:// or npipe://`);
  const rest = address.slice(scheme.length + 3);
  switch (scheme) {
    case 'unix':
      return rest.startsWith('/') ? { kind: 'unix', path: rest } : invalid(`"${address}" must name an absolute socket path, e.g. unix:///var/run/docker.sock`);
    case 'npipe':
      return rest === '' ? invalid(`"${address}" must name a pipe, e.g. npipe:////./pipe/docker_engine`) : { kind: 'npipe', path: rest };
    case 'tcp':
      return parseTcp(address);
    case 'ssh':
      return parseSsh(address);
    default:
      return invalid(`"${address}" has the scheme ${scheme}://; use unix://, tcp://, ssh:// or npipe://`);
  }
}

function parseTcp(address: string): EngineAddress {
  const url = asUrl(address);
  if (url === undefined || url.hostname === '') return invalid(`"${address}" is not a tcp://host[:port] address`);
  return { kind: 'tcp', host: unbracket(url.hostname), port: url.port === '' ? undefined : Number(url.port) };
}

function parseSsh(address: string): EngineAddress {
  const url = asUrl(address);
  if (url === undefined || url.hostname === '') return invalid(`"${address}" is not an ssh://[user@]host[:port][/socket/path] address`);
  // The reason does not repeat the address: it would put the password in logs.
  if (url.password !== '') return invalid('an ssh:// address must not hold a password: use a key (ssh-agent or ~/.ssh/config)');
  if (url.search !== '' || url.hash !== '') return invalid(`"${address}" has a query or fragment; an ssh address is ssh://[user@]host[:port][/socket/path]`);
  // ssh would read a host that starts with '-' as an option (say -oProxyCommand=...).
  if (url.hostname.startsWith('-')) return invalid(`"${address}" names a host that starts with "-"`);
  const path = decodeURIComponent(url.pathname);
  // ssh -L <local>:<remote> cannot carry a path with a colon.
  if (path.includes(':')) return invalid(`"${address}" names a socket path with ":", which ssh cannot forward`);
  return {
    kind: 'ssh',
    user: url.username === '' ? undefined : decodeURIComponent(url.username),
    host: unbracket(url.hostname),
    port: url.port === '' ? undefined : Number(url.port),
    socketPath: path !== '' && path !== '/' ? path : DEFAULT_REMOTE_SOCKET,
  };
}

function asUrl(address: string): URL | undefined {
  try {
    return new URL(address);
  } catch {
    return undefined;
  }
}

/** `[::1]` (how URLs write IPv6 hosts) becomes `::1` (how ssh takes them). */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function invalid(reason: string): EngineAddress {
  return { kind: 'invalid', reason };
}
