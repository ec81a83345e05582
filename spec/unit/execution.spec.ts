/** One run's reading of the loader's streams, against a scripted loader (no Docker). */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { AttachedProcess } from '../../lib/docker/cli.js';
import { LOADER_DEADLINE_GRACE_MS, runExecution, type ExecutionInput, type RawExecution } from '../../lib/runner/execution.js';
import { EngineUnavailableError } from '../../lib/errors.js';
import { GO_ACK, MARKER_PREFIX } from '../../lib/runner/loader.js';

const NONCE = 'n0nce';
const MARKER = `${MARKER_PREFIX}${NONCE}`;

interface Scripted {
  loader: AttachedProcess;
  exit(exitCode?: number): void;
  stdout: PassThrough;
  stderr: PassThrough;
}

function scriptedLoader(): Scripted {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let exit!: (exitCode: number) => void;
  const exited = new Promise<{ exitCode: number | undefined; signal: string | undefined }>(
    (resolve) => (exit = (exitCode) => resolve({ exitCode, signal: undefined })),
  );
  const loader: AttachedProcess = { command: 'docker run (scripted)', stdin: new PassThrough(), stdout, stderr, exited, kill: () => {} };
  return {
    loader,
    stdout,
    stderr,
    exit: (exitCode = 0) => {
      stdout.end();
      stderr.end();
      exit(exitCode);
    },
  };
}

function execute(loader: AttachedProcess, overrides: Partial<ExecutionInput> = {}): Promise<RawExecution> {
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
    ...overrides,
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

test("the go line carries the payload length and the loader's own deadlines (time limit or collect timeout, plus a grace); the payload follows it", async () => {
  const scripted = scriptedLoader();
  const written: Buffer[] = [];
  scripted.loader.stdin.on('data', (chunk: Buffer) => written.push(chunk));
  const payload = { chunks: [Buffer.from('{"header"}\n'), Buffer.from('code')], bytes: 15 };
  const run = execute(scripted.loader, { timeoutMs: 1_234, payload });
  scripted.stdout.write(`${GO_ACK}${MARKER}:0:0:0:1:2:0\n`);
  scripted.stderr.write(`${MARKER}\n`);
  await run;
  const sent = Buffer.concat(written).toString();
  assert.equal(sent, `${NONCE} /sandbox-in/main.py - 15 ${1_234 + LOADER_DEADLINE_GRACE_MS} ${30_000 + LOADER_DEADLINE_GRACE_MS}\n{"header"}\ncode`);
  scripted.exit();
});

/** A kill that records it was asked, and ends the scripted loader the way a removed container does. */
function killer(scripted: Scripted): { kill: () => Promise<void>; killed: () => boolean } {
  let killed = false;
  return {
    kill: () => {
      killed = true;
      scripted.exit(137);
      return Promise.resolve();
    },
    killed: () => killed,
  };
}

test('running: the engine reports the container dead: the run ends "died", with the output so far', async () => {
  const scripted = scriptedLoader();
  let die!: () => void;
  const run = execute(scripted.loader, { died: new Promise<void>((resolve) => (die = resolve)) });
  scripted.stdout.write(`${GO_ACK}so far\n`);
  scripted.stderr.write('warning\n');
  await new Promise((resolve) => setImmediate(resolve)); // the chunks are read
  die();
  const result = await run;
  assert.deepEqual([result.reason, result.stdout, result.stderr, result.report], ['died', 'so far\n', 'warning\n', undefined]);
});

test('running: a die event that comes before the last output and markers (another connection; over ssh it often does) loses nothing', async () => {
  const scripted = scriptedLoader();
  let die!: () => void;
  const run = execute(scripted.loader, { died: new Promise<void>((resolve) => (die = resolve)) });
  scripted.stdout.write(GO_ACK);
  await new Promise((resolve) => setImmediate(resolve)); // the acknowledgement is read: running
  die();
  await new Promise((resolve) => setImmediate(resolve)); // the death is seen first
  scripted.stdout.write(`6\n${MARKER}:0:0:0:1:2:0\n`);
  scripted.stderr.write(`${MARKER}\n`);
  scripted.exit(0);
  const result = await run;
  assert.deepEqual([result.reason, result.stdout, result.report?.exitCode], ['exit', '6\n', 0]);
});

test('awaiting the acknowledgement: a death ran nothing ("lost"), even when the engine says so before the CLI ends', async () => {
  const scripted = scriptedLoader();
  let die!: () => void;
  const run = execute(scripted.loader, { died: new Promise<void>((resolve) => (die = resolve)) });
  die();
  scripted.exit(125);
  const result = await run;
  assert.deepEqual([result.reason, result.cliExitCode], ['lost', 125]);
});

test('the time limit stops the run: the container is killed, the output before it kept', async () => {
  const scripted = scriptedLoader();
  const { kill, killed } = killer(scripted);
  const run = execute(scripted.loader, { timeoutMs: 30, kill });
  scripted.stdout.write(`${GO_ACK}before\n`);
  const result = await run;
  assert.deepEqual([result.reason, result.stdout, killed()], ['timeout', 'before\n', true]);
});

test('the output cap stops the run at exactly maxOutputBytes, stdout and stderr together', async () => {
  const scripted = scriptedLoader();
  const { kill, killed } = killer(scripted);
  const run = execute(scripted.loader, { maxOutputBytes: 10, kill });
  scripted.stdout.write(`${GO_ACK}123456`);
  scripted.stderr.write('abcdefgh');
  const result = await run;
  assert.deepEqual([result.reason, result.truncated, result.stdout + result.stderr, killed()], ['output_limit', true, '123456abcd', true]);
});

test('an abort stops the run; an abort before the start stops it at once', async () => {
  const scripted = scriptedLoader();
  const controller = new AbortController();
  const { kill, killed } = killer(scripted);
  const run = execute(scripted.loader, { signal: controller.signal, kill });
  scripted.stdout.write(GO_ACK);
  controller.abort();
  assert.deepEqual([(await run).reason, killed()], ['aborted', true]);
  const early = scriptedLoader();
  assert.equal((await execute(early.loader, { signal: AbortSignal.abort() })).reason, 'aborted');
});

test('collecting: announced files are read after the marker, in pieces; a CLI that ends before they are all in says so', async () => {
  const files = Buffer.from('{"files":[["a.txt",3]],"skipped":[]}\nabc');
  const complete = scriptedLoader();
  const run = execute(complete.loader, { maxCollectedBytes: 1_000 });
  complete.stdout.write(Buffer.concat([Buffer.from(`${GO_ACK}out\n${MARKER}:0:0:0:1:2:${files.length}\n`), files.subarray(0, 10)]));
  complete.stderr.write(`${MARKER}:0:0:0:1:2:0\n`);
  complete.stdout.write(files.subarray(10));
  const result = await run;
  assert.deepEqual([result.reason, result.stdout, result.collected?.toString(), result.collectProblem], ['exit', 'out\n', files.toString(), undefined]);

  const cut = scriptedLoader();
  const cutRun = execute(cut.loader, { maxCollectedBytes: 1_000 });
  cut.stdout.write(Buffer.concat([Buffer.from(`${GO_ACK}${MARKER}:0:0:0:1:2:${files.length}\n`), files.subarray(0, 10)]));
  cut.stderr.write(`${MARKER}:0:0:0:1:2:0\n`);
  await new Promise((resolve) => setImmediate(resolve));
  cut.exit();
  const cutResult = await cutRun;
  assert.deepEqual(
    [cutResult.reason, cutResult.report?.exitCode, cutResult.collected, cutResult.collectProblem],
    ['exit', 0, undefined, 'the container stopped before all the files had arrived'],
  );
});

test("collecting: more files announced than the cap allows stops the run, keeping the program's report", async () => {
  const scripted = scriptedLoader();
  const { kill, killed } = killer(scripted);
  const run = execute(scripted.loader, { maxCollectedBytes: 100, kill });
  scripted.stdout.write(`${GO_ACK}${MARKER}:4:0:0:1:2:5000\n`);
  scripted.stderr.write(`${MARKER}:4:0:0:1:2:0\n`);
  const result = await run;
  assert.deepEqual([result.reason, result.report?.exitCode, killed()], ['exit', 4, true]);
  assert.match(result.collectProblem ?? '', /announced 5000 bytes of files, more than the cap allows/);
});

test('the engine lost the end of stdout: the verdict comes from the marker on stderr', async () => {
  const scripted = scriptedLoader();
  const run = execute(scripted.loader);
  scripted.stdout.write(`${GO_ACK}out\n`);
  scripted.stderr.write(`err\n${MARKER}:3:0:0:5:6:0\n`);
  scripted.exit(3);
  const result = await run;
  assert.deepEqual([result.reason, result.report?.exitCode, result.stdout, result.stderr], ['exit', 3, 'out\n', 'err\n']);
});

test('a go line unacknowledged for a second makes the run ask the engine: no answer ends it as "unanswered" with the engine\'s failure', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const down = new EngineUnavailableError('The Docker engine at unix:///x.sock did not answer within 5000 ms; is it hung?', {
    command: 'docker version',
    stderr: '',
  });
  let asked = 0;
  let killed = 0;
  const scripted = scriptedLoader();
  const run = execute(scripted.loader, {
    askEngine: () => (asked++, Promise.resolve(down)),
    kill: () => (killed++, Promise.resolve()),
  });
  t.mock.timers.tick(999);
  assert.equal(asked, 0);
  t.mock.timers.tick(1);
  const raw = await run;
  assert.equal(asked, 1);
  assert.equal(killed, 1);
  assert.equal(raw.reason, 'unanswered');
  assert.equal(raw.engineDown, down);
});

test('an engine that answers leaves a late acknowledgement alone; an acknowledgement in time asks nothing', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let asked = 0;
  const slow = scriptedLoader();
  const slowRun = execute(slow.loader, { askEngine: () => (asked++, Promise.resolve(undefined)) });
  t.mock.timers.tick(1_000);
  await Promise.resolve();
  slow.stdout.write(`${GO_ACK}late\n${MARKER}:0:0:0:1:2:0\n`);
  slow.stderr.write(`${MARKER}:0:0:0:1:2:0\n`);
  const slowRaw = await slowRun;
  assert.equal(asked, 1);
  assert.equal(slowRaw.reason, 'exit');
  assert.equal(slowRaw.stdout, 'late\n');

  const quick = scriptedLoader();
  const quickRun = execute(quick.loader, { askEngine: () => (asked++, Promise.resolve(undefined)) });
  quick.stdout.write(`${GO_ACK}ok\n${MARKER}:0:0:0:1:2:0\n`);
  quick.stderr.write(`${MARKER}:0:0:0:1:2:0\n`);
  await quickRun;
  t.mock.timers.tick(5_000);
  assert.equal(asked, 1, 'no question once acknowledged');
});
