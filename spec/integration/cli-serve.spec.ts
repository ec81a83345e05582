/**
 * `docker-python-sandbox serve` as a program: the line it prints, tokens from a file and from
 * DPS_TOKENS, the refusals it exits with, and a SIGTERM that lets the run in flight finish.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, cli } from '../helpers/cli-process.js';
import { DockerEngine } from '../../lib/docker/engine.js';
import { OWNER_PID_LABEL } from '../../lib/docker/labels.js';
import { watchedProcess } from '../helpers/watched-process.js';

const LISTENING = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n$/;

test('serve prints one line once it listens, takes tokens from a file, and on SIGTERM lets the run in flight finish, then exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dps-serve-spec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'tokens');
  await writeFile(tokenFile, '# the service tokens\n\nfirst-token-0123456789\n');
  const server = watchedProcess(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', '--pool-size', '1', '--token-file', tokenFile], {
    env: { ...process.env, DPS_TOKENS: 'second-token-0123456789' },
  });
  t.after(() => server.kill('SIGKILL'));
  await server.waitForOutput('the listening line', (out) => out.includes('\n'), 60_000);
  const base = LISTENING.exec(server.stdout)?.[1];
  assert.ok(base !== undefined, `stdout is exactly one listening line: ${JSON.stringify(server.stdout)}`);

  const post = (token: string | undefined, code: string): Promise<Response> =>
    fetch(`${base}/v1/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ code }),
    });
  assert.equal((await post(undefined, 'print(1)')).status, 401);
  assert.equal((await post('first-token-0123456789', 'print(1)')).status, 200, 'a token from the file');
  assert.equal((await post('second-token-0123456789', 'print(1)')).status, 200, 'a token from DPS_TOKENS');

  // A streamed run: its first line says the program is under way; then the signal comes.
  const inFlight = await fetch(`${base}/v1/run`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: 'Bearer first-token-0123456789' },
    body: JSON.stringify({ code: 'import time\nprint("started", flush=True)\ntime.sleep(1.5)\nprint("done")' }),
  });
  let stream = '';
  const decoder = new TextDecoder();
  for await (const chunk of inFlight.body as unknown as AsyncIterable<Uint8Array>) {
    stream += decoder.decode(chunk, { stream: true });
    if (stream.includes('"started\\n"') && !stream.includes('SIGTERM sent')) {
      server.kill('SIGTERM');
      stream += 'SIGTERM sent';
    }
  }
  const result = /event: result\ndata: (.*)\n/.exec(stream)?.[1];
  assert.ok(result !== undefined, `the run finished after the signal: ${stream}`);
  assert.equal((JSON.parse(result) as { stdout: string }).stdout, 'started\ndone\n');
  assert.deepEqual(await server.exited, { code: 0, signal: null });
  assert.equal(server.stdout.split('\n').length, 2, 'nothing else on stdout');
  const left = await new DockerEngine({ binary: 'docker', host: undefined }).listContainers({ [OWNER_PID_LABEL]: String(server.pid) });
  assert.deepEqual(left, [], 'its containers are gone');
});

test('serve refuses a public address without tokens, and short tokens, before starting anything', async () => {
  const open = await cli(['serve', '--host', '0.0.0.0', '--port', '0']);
  assert.equal(open.code, 2);
  assert.match(open.stderr, /loopback only/);
  assert.equal(open.stdout, '');
  const short = await cli(['serve', '--port', '0'], { env: { ...process.env, DPS_TOKENS: 'short' } });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /at least 16 characters/);
});
