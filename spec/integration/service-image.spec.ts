/**
 * The service's container image (deploy/Dockerfile, built by scripts/build-service-image.sh) on the
 * real engine, as the README's deployment section runs it: a non-root user in the socket's group,
 * read-only root, no capabilities, the host's /var/run/docker.sock mounted and nothing else shared.
 * A run with stdin, files and collect comes back right; its inputs went in-band (the stdin path):
 * the sandboxes the service made have no bind mount and the program sees a tmpfs at /sandbox-in.
 * `docker stop` (SIGTERM) ends the service with exit code 0 and leaves none of its containers.
 *
 * Labels: the service container carries the bare `docker-python-sandbox` label (so that cleanups
 * remove it) and no owner labels, so no orphan reaper ever takes it for an orphan. The sandboxes
 * the service makes name it by its pid namespace (the container's), which differs from every host
 * process's: host reapers count them as alive, and the service's reaper counts the host's as alive
 * too (lib/owner.ts), although --network host gives both the same hostname.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { execa } from 'execa';
import { LABEL, OWNER_PIDNS_LABEL, ROLE_LABEL } from '../../lib/docker/labels.js';
import { eventually } from '../helpers/eventually.js';
import { watchedProcess } from '../helpers/watched-process.js';

const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-service-image.sh', import.meta.url));
const PROBE = fileURLToPath(new URL('../fixtures/service-image/inputs_probe.py', import.meta.url));
const IMAGE = process.env.DPS_SERVICE_IMAGE ?? 'docker-python-sandbox-service:latest';
const LISTENING = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/;
/** Longer than the service's close grace (30 s), so that docker stop never resorts to SIGKILL. */
const STOP_SECONDS = 45;
const POOL_SIZE = 2;

async function docker(args: readonly string[]): Promise<string> {
  const result = await execa('docker', args, { reject: false, stdin: 'ignore' });
  assert.equal(result.exitCode, 0, `docker ${args.join(' ')}: ${String(result.stderr)}`);
  return String(result.stdout).trim();
}

/** The engine's socket on this host, when the engine is reached through one (else why not). */
function engineSocket(): { path: string } | { missing: string } {
  const host = process.env.DOCKER_HOST;
  if (host === undefined || host === '') return { path: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { path: host.slice('unix://'.length) };
  return { missing: `DOCKER_HOST=${host} is not a unix socket that could be mounted into the service's container` };
}

interface RunResultJson {
  status: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  files: Record<string, string>;
  timings: { queuedMs: number; runMs: number };
}

interface Mount {
  Type: string;
  Source: string;
  Destination: string;
}

/**
 * The bind mounts of containers (docker inspect's Mounts: binds and volumes; tmpfs mounts are not
 * there). A container that went in the meantime (a used runner, removed by the engine) is skipped.
 */
async function bindMounts(containers: readonly string[]): Promise<string[]> {
  if (containers.length === 0) return [];
  const inspected = await execa('docker', ['inspect', '--format', '{{.Name}} {{json .Mounts}}', ...containers], { reject: false, stdin: 'ignore' });
  const errors = String(inspected.stderr)
    .split('\n')
    .filter((line) => line.trim() !== '' && !/no such (object|container)/i.test(line));
  assert.deepEqual(errors, [], 'docker inspect of the sandbox containers');
  const lines = String(inspected.stdout).split('\n').filter(Boolean);
  return lines.flatMap((line) => {
    const [name, json = '[]'] = line.split(/ (.*)/s);
    return (JSON.parse(json) as Mount[]).filter((mount) => mount.Type === 'bind').map((mount) => `${name}: ${mount.Source} -> ${mount.Destination}`);
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

test('the service image serves runs through the mounted socket, sends inputs in-band, and exits 0 on docker stop', async (t) => {
  const socket = engineSocket();
  if ('missing' in socket) {
    t.skip(socket.missing);
    return;
  }

  const buildStart = performance.now();
  const build = await execa('bash', [BUILD_SCRIPT], { reject: false, stdin: 'ignore', all: true });
  assert.equal(build.exitCode, 0, `scripts/build-service-image.sh failed:\n${String(build.all)}`);
  t.diagnostic(`build-service-image.sh: ${Math.round(performance.now() - buildStart)} ms (${String(build.stdout).split('\n').at(-1)})`);

  const token = randomBytes(24).toString('hex');
  const name = `dps-service-image-spec-${process.pid}`;
  // The socket's group, as the README tells users to pass it: the image's user is not root.
  const socketGroup = (await stat(socket.path)).gid;
  let pidns: string | undefined;
  t.after(async () => {
    await execa('docker', ['rm', '--force', name], { reject: false, stdin: 'ignore' });
    // What a failed run left: runners end with the service's CLIs, network holders would stay for minutes.
    const left = pidns === undefined ? [] : await listByPidns(pidns);
    if (left.length > 0) await execa('docker', ['rm', '--force', ...left], { reject: false, stdin: 'ignore' });
  });
  const startedAt = performance.now();
  // No --rm: the exit code is read after docker stop. Host networking: this engine has no bridge
  // (dockerd --bridge none), so -p cannot publish a port here; the flags after the image override
  // the image's --host 0.0.0.0 --port 8080.
  // prettier-ignore
  await docker([
    'run', '--detach', '--name', name,
    '--label', LABEL, '--label', `${LABEL}.spec=service-image`,
    '--init', '--read-only', '--tmpfs', '/tmp',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--group-add', String(socketGroup),
    '--volume', `${socket.path}:/var/run/docker.sock`,
    '--network', 'host',
    '--env', `DPS_TOKENS=${token}`,
    IMAGE,
    '--host', '127.0.0.1', '--port', '0', '--pool-size', String(POOL_SIZE),
  ]);
  const logs = watchedProcess('docker', ['logs', '--follow', name]);
  t.after(() => logs.kill('SIGKILL'));
  await logs.waitForOutput('the listening line', (out) => out.includes('\n'), 90_000);
  const base = LISTENING.exec(logs.stdout)?.[1];
  assert.ok(base !== undefined, `the service's stdout is its listening line: ${JSON.stringify(logs.stdout)}`);
  t.diagnostic(`docker run to "listening on": ${Math.round(performance.now() - startedAt)} ms`);

  // The sandboxes this service made: those labelled with its pid namespace.
  pidns = /^pid:\[(\d+)\]$/.exec(await docker(['exec', name, 'node', '-p', 'require("node:fs").readlinkSync("/proc/self/ns/pid")']))?.[1];
  assert.ok(pidns !== undefined, 'the service container has a pid namespace');
  const warm = await listByPidns(pidns, 'runner');
  assert.ok(warm.length >= 1, 'the service keeps warm sandbox containers, labelled with its pid namespace');
  assert.deepEqual(await bindMounts(await listByPidns(pidns)), [], 'no sandbox container of the service has a bind mount');

  const post = async (body: object): Promise<{ result: RunResultJson; ms: number }> => {
    const sent = performance.now();
    const response = await fetch(`${base}/v1/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return { result: JSON.parse(text) as RunResultJson, ms: performance.now() - sent };
  };
  const unauthorised = await fetch(`${base}/v1/run`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"code":"print(1)"}' });
  assert.equal(unauthorised.status, 401, 'a token is needed');

  const blob = randomBytes(64);
  const { result, ms: firstMs } = await post({
    code: await readFile(PROBE, 'utf8'),
    stdin: 'from stdin\n',
    files: { 'data/greeting.txt': 'hello from a file\n', 'blob.bin': { base64: blob.toString('base64') } },
    collect: ['report.txt'],
  });
  assert.equal(result.status, 'ok', `the probe failed: ${result.stderr}`);
  const seen = JSON.parse(result.stdout) as { stdin: string; greeting: string; blob: string; inputDir: { fstype: string; options: string[] } | null };
  assert.equal(seen.stdin, 'from stdin\n');
  assert.equal(seen.greeting, 'hello from a file\n');
  assert.equal(seen.blob, blob.toString('hex'));
  assert.ok(seen.inputDir !== null, 'the program has an input dir at /sandbox-in');
  assert.equal(seen.inputDir.fstype, 'tmpfs', "the inputs came in-band into a tmpfs, not through a bind mount of the service's temp dir");
  assert.ok(seen.inputDir.options.includes('rw'), `a writable tmpfs (the mount path's bind mount is read-only): ${seen.inputDir.options.join(',')}`);
  assert.deepEqual(Object.keys(result.files), ['report.txt']);
  assert.equal(Buffer.from(result.files['report.txt']!, 'base64').toString(), 'hello from a file / from stdin\n');

  // Warm runs: each starts once the pool has made up for the one before (from /metrics).
  const readyContainers = async (): Promise<number> => {
    const metrics = await (await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${token}` } })).text();
    return Number(/^dps_containers\{state="ready"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  };
  const latencies: number[] = [];
  const queued: number[] = [];
  for (let index = 0; index < 5; index += 1) {
    await eventually('the pool is warm again', async () => (await readyContainers()) === POOL_SIZE);
    const hello = await post({ code: 'print("hello")' });
    assert.equal(hello.result.stdout, 'hello\n');
    latencies.push(hello.ms);
    queued.push(hello.result.timings.queuedMs);
  }
  t.diagnostic(
    `POST /v1/run through the container: first (probe) ${Math.round(firstMs)} ms; hello world p50 ${median(latencies).toFixed(1)} ms (of which waiting for a container p50 ${median(queued).toFixed(1)} ms)`,
  );

  // The containers made since (replacements of the used ones) went in-band too.
  assert.deepEqual(await bindMounts(await listByPidns(pidns)), [], 'no sandbox container of the service has a bind mount');

  const stopping = performance.now();
  await docker(['stop', '--time', String(STOP_SECONDS), name]);
  t.diagnostic(`docker stop: ${Math.round(performance.now() - stopping)} ms`);
  assert.equal(
    await docker(['inspect', '--format', '{{.State.ExitCode}}', name]),
    '0',
    `the service exits 0 on SIGTERM; its output:\n${logs.stdout}${logs.stderr}`,
  );
  assert.deepEqual(await listByPidns(pidns), [], 'the service removed its sandbox containers before it exited');
});

/** Names of the library's containers owned by a process of this pid namespace (of one role, if given). */
function listByPidns(pidns: string, role?: 'runner' | 'netns'): Promise<string[]> {
  const filters = [`label=${LABEL}`, `label=${OWNER_PIDNS_LABEL}=${pidns}`, ...(role === undefined ? [] : [`label=${ROLE_LABEL}=${role}`])];
  return docker(['ps', '--all', '--format', '{{.Names}}', ...filters.flatMap((filter) => ['--filter', filter])]).then((out) => out.split('\n').filter(Boolean));
}
