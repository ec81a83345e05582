/**
 * Sandboxes on tcp:// engines: a private dockerd with `--tlsverify` and certificates made here by
 * openssl (reached with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, or a context holding the
 * certificates), and a private dockerd on plain tcp:// (which works, with one warning per address).
 * The docker CLI reads the TLS variables from its environment: the tests set them in process.env,
 * which the library passes on to each CLI it starts, and put them back afterwards.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { execa } from 'execa';
import { PLAINTEXT_TCP_WARNING } from '../../lib/docker/engine-endpoint.js';
import { EngineUnavailableError, Sandbox, type SandboxOptions } from '../../lib/index.js';
import { startPrivateEngine, type PrivateEngine } from '../helpers/private-engine.js';
import { freePort } from '../../scripts/shared/sshd.js';

interface Certificates {
  /** The CA, the engine's certificate and key (for dockerd's flags). */
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem of a client the CA signed. */
  clientDir: string;
  /** The same names, for a client signed by another CA, which the engine must refuse. */
  strangerDir: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  await execa('openssl', args, { stdin: 'ignore' });
}

/** An EC P-256 key and a certificate signed by the CA (or self-signed, for a CA). */
async function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  ca?: { cert: string; key: string },
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}-key.pem`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `${extensions}\n`);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-subj', subject];
  if (ca === undefined) {
    await openssl([
      'req',
      '-x509',
      ...newKey,
      '-days',
      '2',
      '-out',
      cert,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
  } else {
    const csr = join(dir, `${name}.csr`);
    await openssl(['req', '-new', ...newKey, '-out', csr]);
    await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-out', cert, '-extfile', ext]);
  }
  return { cert, key };
}

async function clientDir(dir: string, name: string, ca: { cert: string; key: string }): Promise<string> {
  const client = await issue(dir, name, `/CN=${name}`, 'extendedKeyUsage=clientAuth', ca);
  const certPath = join(dir, `${name}-dir`);
  await mkdir(certPath);
  await execa('cp', [ca.cert, join(certPath, 'ca.pem')]);
  await execa('cp', [client.cert, join(certPath, 'cert.pem')]);
  await execa('cp', [client.key, join(certPath, 'key.pem')]);
  return certPath;
}

async function makeCertificates(t: TestContext): Promise<Certificates> {
  const dir = await mkdtemp(join(tmpdir(), 'dps-tls-spec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await issue(dir, 'ca', '/CN=docker-python-sandbox test CA', '');
  const server = await issue(dir, 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth', ca);
  const otherCa = await issue(dir, 'other-ca', '/CN=some other CA', '');
  return {
    ca: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientDir: await clientDir(dir, 'client', ca),
    strangerDir: await clientDir(dir, 'stranger', otherCa),
  };
}

/** Sets environment variables until the test ends (undefined removes one). */
function withEnvironment(t: TestContext, values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    const previous = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
    t.after(() => {
      if (previous === undefined) delete process.env[name];
      else process.env[name] = previous;
    });
  }
}

/** The process warnings with the plain-tcp code, from now until the test ends. */
function plaintextWarnings(t: TestContext): Error[] {
  const seen: Error[] = [];
  const listener = (warning: Error & { code?: string }): void => {
    if (warning.code === PLAINTEXT_TCP_WARNING) seen.push(warning);
  };
  process.on('warning', listener);
  t.after(() => process.off('warning', listener));
  return seen;
}

/** Warnings are emitted on the next tick. */
function nextTick(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** An initialized Sandbox of the private engine, cleaned up while the engine still runs. */
async function sandboxOn(engine: PrivateEngine, options: SandboxOptions): Promise<Sandbox> {
  const sandbox = new Sandbox(options);
  engine.onTeardown(() => sandbox.cleanup());
  await sandbox.initialize();
  return sandbox;
}

test('a --tlsverify engine on tcp:// works with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, or a context with the certificates; without them a typed error says why', async (t) => {
  const certificates = await makeCertificates(t);
  const port = await freePort();
  const address = `tcp://127.0.0.1:${port}`;
  // prettier-ignore
  const engine = await startPrivateEngine(t, {
    extraArgs: ['--tlsverify', '--tlscacert', certificates.ca, '--tlscert', certificates.serverCert, '--tlskey', certificates.serverKey, '--host', address],
  });
  const warnings = plaintextWarnings(t);
  const config = await mkdtemp(join(tmpdir(), 'dps-docker-config-'));
  t.after(() => rm(config, { recursive: true, force: true }));
  withEnvironment(t, { DOCKER_CONFIG: config, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined, DOCKER_TLS: undefined });

  // No certificates: the engine refuses plain HTTP, and the error says how to give them.
  withEnvironment(t, { DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined });
  await assert.rejects(new Sandbox({ dockerHost: address }).initialize(), (error: unknown) => {
    assert.ok(error instanceof EngineUnavailableError, String(error));
    assert.match(error.message, new RegExp(`^The engine at ${address} speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH`));
    return true;
  });

  // A client certificate of another CA: the TLS handshake fails, and the error says so.
  process.env.DOCKER_TLS_VERIFY = '1';
  process.env.DOCKER_CERT_PATH = certificates.strangerDir;
  await assert.rejects(new Sandbox({ dockerHost: address }).initialize(), (error: unknown) => {
    assert.ok(error instanceof EngineUnavailableError, String(error));
    assert.match(error.message, new RegExp(`^TLS with the engine at ${address} failed: check DOCKER_CERT_PATH`));
    return true;
  });

  // The right certificates, from the environment.
  process.env.DOCKER_CERT_PATH = certificates.clientDir;
  const sandbox = await sandboxOn(engine, { dockerHost: address, poolSize: 2 });
  const results = await Promise.all([sandbox.run('print(6 * 7)'), sandbox.run({ code: 'import sys; print(sys.stdin.read().upper())', stdin: 'over tls' })]);
  assert.deepEqual(
    results.map((result) => result.stdout),
    ['42\n', 'OVER TLS\n'],
  );
  await sandbox.cleanup();

  // A context holding the certificates; the TLS variables play no part.
  delete process.env.DOCKER_TLS_VERIFY;
  delete process.env.DOCKER_CERT_PATH;
  const dir = certificates.clientDir;
  await execa('docker', ['context', 'create', 'dps-tls-spec', '--docker', `host=${address},ca=${dir}/ca.pem,cert=${dir}/cert.pem,key=${dir}/key.pem`], {
    stdin: 'ignore',
  });
  const viaContext = await sandboxOn(engine, { context: 'dps-tls-spec' });
  assert.equal((await viaContext.run('print("context")')).stdout, 'context\n');
  await viaContext.cleanup();

  await nextTick();
  assert.equal(warnings.length, 1, 'only the attempt without TLS warned');
});

test('a plain tcp:// engine (no TLS) works, and the first initialize() per address warns once (DPS_PLAINTEXT_TCP)', async (t) => {
  const port = await freePort();
  const address = `tcp://127.0.0.1:${port}`;
  const engine = await startPrivateEngine(t, { extraArgs: ['--host', address] });
  const warnings = plaintextWarnings(t);
  withEnvironment(t, { DOCKER_TLS_VERIFY: undefined, DOCKER_TLS: undefined, DOCKER_CERT_PATH: undefined });

  const first = await sandboxOn(engine, { dockerHost: address });
  assert.equal((await first.run('print(1)')).stdout, '1\n');
  await nextTick();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.message, new RegExp(`^${address} is reached over tcp:// without TLS: anyone who can reach that port is root on its host`));

  const second = await sandboxOn(engine, { dockerHost: address });
  assert.equal((await second.run('print(2)')).stdout, '2\n');
  await Promise.all([first.cleanup(), second.cleanup()]);
  await nextTick();
  assert.equal(warnings.length, 1, 'once per address');
});
