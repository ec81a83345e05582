/**
 * NODE_DEBUG=docker-python-sandbox: every docker command with its duration and exit code, and every
 * failure swallowed in the background; nothing without it, and never what a program printed.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { watchedProcess } from '../helpers/watched-process.js';

const OWNER = fileURLToPath(new URL('../fixtures/debug-owner.ts', import.meta.url));
const LINE = /^DOCKER-PYTHON-SANDBOX \d+: /;

async function ownerStderr(env: NodeJS.ProcessEnv): Promise<string> {
  const owner = watchedProcess(process.execPath, ['--import', 'tsx', OWNER], { env: { ...process.env, ...env } });
  const exit = await owner.waitForExit(120_000);
  assert.deepEqual(exit, { code: 0, signal: null }, owner.stderr);
  return owner.stderr;
}

test("NODE_DEBUG=docker-python-sandbox logs each docker command with its exit code and duration, never a program's output", async () => {
  const stderr = await ownerStderr({ NODE_DEBUG: 'docker-python-sandbox' });
  const lines = stderr.split('\n').filter(Boolean);
  assert.ok(
    lines.every((line) => LINE.test(line)),
    `only debug lines:\n${stderr}`,
  );
  assert.ok(
    lines.some((line) => /docker image inspect --format '\{\{\.Id\}\}' docker-python-sandbox:latest: exit 0 in \d+ ms$/.test(line)),
    stderr,
  );
  assert.ok(
    lines.some((line) => /started docker run --interactive --rm /.test(line)),
    stderr,
  );
  assert.ok(
    lines.some((line) => /docker run --interactive --rm .*: exit 0 in \d+ ms$/.test(line)),
    "the run's container ended, with its duration",
  );
  assert.ok(
    lines.some((line) => /docker rm --force --volumes .*: exit \d+ in \d+ ms$/.test(line)),
    stderr,
  );
  assert.ok(!stderr.includes('a secret the program printed'));
});

test('a failure swallowed in the background is logged: the reaping at initialize when no engine answers', async () => {
  const stderr = await ownerStderr({ NODE_DEBUG: 'docker-python-sandbox', DPS_FIXTURE_DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
  assert.match(stderr, /swallowed: reaping orphans at start failed: No Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock/);
  assert.match(stderr, /docker ps --all .*: exit 1 in \d+ ms/);
});

test('without NODE_DEBUG nothing is printed', async () => {
  assert.equal(await ownerStderr({ NODE_DEBUG: '' }), '');
});
