import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_REMOTE_SOCKET, parseEngineAddress } from '../../lib/engine-address.js';
import { contextFromEnvironment, endpointOfContext, hostFromEnvironment, tlsFromEnvironment } from '../../lib/docker/engine-endpoint.js';
import { isOrphanedTunnel } from '../../lib/runner/orphaned-tunnels.js';
import type { OwnerProbe } from '../../lib/owner.js';

test('ssh:// addresses: user, host, port and the engine socket (the URL path, else /var/run/docker.sock)', () => {
  assert.deepEqual(parseEngineAddress('ssh://user@host:2222/run/user/1000/docker.sock'), {
    kind: 'ssh',
    user: 'user',
    host: 'host',
    port: 2222,
    socketPath: '/run/user/1000/docker.sock',
  });
  assert.deepEqual(parseEngineAddress('ssh://alias'), {
    kind: 'ssh',
    user: undefined,
    host: 'alias',
    port: undefined,
    socketPath: DEFAULT_REMOTE_SOCKET,
  });
  assert.equal(DEFAULT_REMOTE_SOCKET, '/var/run/docker.sock');
  const slash = parseEngineAddress('ssh://sandbox@host/');
  assert.ok(slash.kind === 'ssh' && slash.socketPath === DEFAULT_REMOTE_SOCKET);
  const ipv6 = parseEngineAddress('ssh://u@[::1]:22');
  assert.ok(ipv6.kind === 'ssh' && ipv6.host === '::1' && ipv6.port === 22);
  const escaped = parseEngineAddress('ssh://my%20user@host/var/tmp/my%20engine.sock');
  assert.ok(escaped.kind === 'ssh' && escaped.user === 'my user' && escaped.socketPath === '/var/tmp/my engine.sock');
});

test('ssh:// addresses that cannot be used are invalid, with the reason', () => {
  for (const [address, reason] of [
    ['ssh://user:secret@host', /password/],
    ['ssh://host?socket=/x', /query or fragment/],
    ['ssh://host#x', /query or fragment/],
    ['ssh://', /not an ssh:/],
    ['ssh://-oProxyCommand=touch%20x', /starts with "-"/],
    ['ssh://host/run/a:b.sock', /with ":"/],
  ] as const) {
    const parsed = parseEngineAddress(address);
    assert.equal(parsed.kind, 'invalid', address);
    assert.match(parsed.kind === 'invalid' ? parsed.reason : '', reason, address);
  }
});

test('unix://, tcp:// and npipe:// addresses; anything else is invalid', () => {
  assert.deepEqual(parseEngineAddress('unix:///var/run/docker.sock'), { kind: 'unix', path: '/var/run/docker.sock' });
  assert.deepEqual(parseEngineAddress('tcp://127.0.0.1:2376'), { kind: 'tcp', host: '127.0.0.1', port: 2376 });
  assert.deepEqual(parseEngineAddress('tcp://engine.example'), { kind: 'tcp', host: 'engine.example', port: undefined });
  assert.deepEqual(parseEngineAddress('tcp://[::1]:2375'), { kind: 'tcp', host: '::1', port: 2375 });
  assert.deepEqual(parseEngineAddress('npipe:////./pipe/docker_engine'), { kind: 'npipe', path: '//./pipe/docker_engine' });
  for (const address of ['unix://relative.sock', 'localhost:2375', 'http://host:2375', 'tcp://host:99999', 'npipe://']) {
    assert.equal(parseEngineAddress(address).kind, 'invalid', address);
  }
});

test('the environment chooses as the docker CLI does: DOCKER_HOST, TLS variables, DOCKER_CONTEXT, then config.json', () => {
  assert.equal(hostFromEnvironment({ DOCKER_HOST: 'ssh://h' }), 'ssh://h');
  assert.equal(hostFromEnvironment({ DOCKER_HOST: '' }), undefined);
  assert.equal(tlsFromEnvironment({ DOCKER_TLS_VERIFY: '1' }), true);
  assert.equal(tlsFromEnvironment({ DOCKER_TLS: '1' }), true);
  assert.equal(tlsFromEnvironment({ DOCKER_CERT_PATH: '/certs' }), false, 'a cert path alone does not turn TLS on');
  assert.equal(tlsFromEnvironment({ DOCKER_TLS_VERIFY: '' }), false);
  const config = (text: string) => (file: string) => {
    assert.equal(file, '/cfg/config.json');
    return text;
  };
  assert.equal(contextFromEnvironment({ DOCKER_CONTEXT: 'remote' }, config('{}')), 'remote');
  assert.equal(contextFromEnvironment({ DOCKER_CONTEXT: 'default' }, config('{}')), undefined);
  assert.equal(contextFromEnvironment({ DOCKER_CONFIG: '/cfg' }, config('{"currentContext":"remote"}')), 'remote');
  assert.equal(contextFromEnvironment({ DOCKER_CONFIG: '/cfg' }, config('{"currentContext":"default"}')), undefined);
  assert.equal(contextFromEnvironment({ DOCKER_CONFIG: '/cfg' }, config('not json')), undefined);
  assert.equal(
    contextFromEnvironment({ DOCKER_CONFIG: '/cfg' }, () => {
      throw new Error('ENOENT');
    }),
    undefined,
  );
});

test("a context's endpoint and TLS, from `docker context inspect`", () => {
  const tls = endpointOfContext('secure', '{"Host":"tcp://h:2376","SkipTLSVerify":false}\n{"docker":["ca.pem","cert.pem","key.pem"]}\n');
  assert.deepEqual(tls, { address: 'tcp://h:2376', display: 'the Docker context "secure" (tcp://h:2376)', tls: true });
  assert.equal(endpointOfContext('plain', '{"Host":"tcp://h:2375","SkipTLSVerify":false}\n{}')?.tls, false);
  assert.equal(endpointOfContext('skip', '{"Host":"tcp://h:2375","SkipTLSVerify":true}\nnull')?.tls, true);
  assert.equal(endpointOfContext('ssh', '{"Host":"ssh://u@h","SkipTLSVerify":false}\n{}')?.address, 'ssh://u@h');
  assert.equal(endpointOfContext('broken', 'null\nnull'), undefined);
  assert.equal(endpointOfContext('broken', 'garbage'), undefined);
});

test("a tunnel's ssh command line is an orphan's only when its temp dir names a dead owner of this host", () => {
  const dead = new Set([4242]);
  const probe: OwnerProbe = {
    host: 'here',
    pidns: undefined,
    signal: (pid) => {
      if (dead.has(pid)) throw Object.assign(new Error('ESRCH'), { code: 'ESRCH' });
    },
    startOf: () => '100',
  };
  const argv = (socket: string, binary = '/usr/bin/ssh') => [binary, '-N', '-o', 'BatchMode=yes', '-L', `${socket}:/var/run/docker.sock`, '--', 'host'];
  assert.equal(isOrphanedTunnel(argv('/tmp/dps-4242-100-abcdef/docker.sock'), probe), true);
  assert.equal(isOrphanedTunnel(argv('/tmp/dps-4243-100-abcdef/docker.sock'), probe), false, 'a live owner');
  assert.equal(isOrphanedTunnel(argv('/tmp/dps-4242-100-abcdef/other.sock'), probe), false, 'not our socket name');
  assert.equal(isOrphanedTunnel(argv('/tmp/something-4242/docker.sock'), probe), false, 'not an owner dir');
  assert.equal(isOrphanedTunnel(argv('/tmp/dps-4242-100-abcdef/docker.sock', '/usr/bin/socat'), probe), false, 'not ssh');
  assert.equal(isOrphanedTunnel(['/usr/bin/ssh', '-N', 'host'], probe), false, 'no forward');
});
