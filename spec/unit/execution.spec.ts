/** One run's reading of the loader's streams, against a scripted loader (no Docker). */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { AttachedProcess } from '../../lib/docker/cli.js';
import { runExecution, type RawExecution } from '../../lib/runner/execution.js';
import { GO_ACK, MARKER_PREFIX } from '../../lib/runner/loader.js';

const NONCE = 'n0nce';
const MARKER = `${MARKER_PREFIX}${NONCE}`;

function scriptedLoader(): { loader: AttachedProcess; exit(): void; stdout: PassThrough; stderr: PassThrough } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let exit!: () => void;
  const exited = new Promise<{ exitCode: number | undefined; signal: string | undefined }>((resolve) => (exit = () => resolve({ exitCode: 0, signal: undefined })));
  const loader: AttachedProcess = { command: 'docker run (scripted)', stdin: new PassThrough(), stdout, stderr, exited, kill: () => {} };
  return {
    loader,
    stdout,
    stderr,
    exit: () => {
      stdout.end();
      stderr.end();
      exit();
    },
  };
}

function execute(loader: AttachedProcess): Promise<RawExecution> {
  return runExecution({
    loader,
    nonce: NONCE,
    codePath: '/sandbox-in/main.py',
    inputsPath: undefined,
    timeoutMs: 10_000,
    onStdout: undefined,
    onStderr: undefined,
    maxOutputBytes: 1_000_000,
    maxCollectedBytes: 0,
    signal: undefined,
    died: new Promise(() => {}),
    kill: async () => {},
  });
}

test('a loader that ends before acknowledging the go line is "lost": the program never started', async () => {
  const scripted = scriptedLoader();
  const run = execute(scripted.loader);
  scripted.exit();
  assert.equal((await run).reason, 'lost');
});

test('the acknowledgement is not output, even split across chunks; what follows is', async () => {
  const ack = Buffer.from(GO_ACK);
  for (let cut = 1; cut < ack.length; cut++) {
    const scripted = scriptedLoader();
    const run = execute(scripted.loader);
    scripted.stdout.write(ack.subarray(0, cut));
    scripted.stdout.write(Buffer.concat([ack.subarray(cut), Buffer.from(`hello\n${MARKER}:0:0:0:1:2:0\n`)]));
    scripted.stderr.write(`${MARKER}\n`);
    const result = await run;
    assert.equal(result.reason, 'exit', `cut at ${cut}`);
    assert.equal(result.stdout, 'hello\n', `cut at ${cut}`);
    assert.equal(result.report?.exitCode, 0);
    scripted.exit();
  }
});

test('a loader that acknowledged, then died without a report, is a dead program, not a lost container', async () => {
  const scripted = scriptedLoader();
  const run = execute(scripted.loader);
  scripted.stdout.write(`${GO_ACK}partial`);
  scripted.exit();
  const result = await run;
  assert.equal(result.reason, 'exit');
  assert.equal(result.report, undefined);
  assert.equal(result.stdout, 'partial');
});
