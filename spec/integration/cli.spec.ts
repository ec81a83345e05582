/**
 * The command-line runner, as a user would call it: a real process against the real engine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { labelledContainers } from '../helpers/engine.js';

const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/exit_seven.py', import.meta.url));

interface CliOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The library's containers that were not there before. */
async function containersNotIn(before: readonly string[]): Promise<string[]> {
  return (await labelledContainers()).filter((name) => !before.includes(name));
}

function cli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

test('run FILE: the program\'s output goes to our stdout and stderr, its exit code becomes ours', async () => {
  const before = await labelledContainers();
  const outcome = await cli(['run', FIXTURE]);
  assert.deepEqual(outcome, { code: 7, stdout: 'to stdout\n', stderr: 'to stderr\n' });
  // No new container is left; others may have gone meanwhile (the CLI's Sandbox reaps orphans).
  assert.deepEqual(await containersNotIn(before), [], 'the CLI leaves no container behind');
});

test('run - reads the program from stdin', async () => {
  const outcome = await cli(['run', '-'], { input: 'print(6 * 7)' });
  assert.deepEqual(outcome, { code: 0, stdout: '42\n', stderr: '' });
});

test('--stdin feeds a file to the program and --arg passes arguments', async () => {
  const outcome = await cli(['run', '-', '--stdin', FIXTURE, '--arg', 'one', '--arg', 'two words'], {
    input: 'import sys\nprint(sys.argv[1:], len(sys.stdin.read().splitlines()))',
  });
  assert.deepEqual(outcome, { code: 0, stdout: "['one', 'two words'] 4\n", stderr: '' });
});

test('--json prints the whole result', async () => {
  const outcome = await cli(['run', '-', '--json'], { input: 'print("hi")' });
  assert.equal(outcome.code, 0);
  const result = JSON.parse(outcome.stdout);
  assert.equal(result.stdout, 'hi\n');
  assert.equal(result.isError, false);
  assert.equal(result.exitCode, 0);
  assert.equal(typeof result.durationMs, 'number');
});

test('--timeout stops the program and exits 124; --memory limits it', async () => {
  const timedOut = await cli(['run', '-', '--timeout', '500'], { input: 'import time\ntime.sleep(30)' });
  assert.equal(timedOut.code, 124);
  assert.match(timedOut.stderr, /stopped at its time limit \(500 ms\)/);
  const oom = await cli(['run', '-', '--memory', '32'], { input: 'x = bytearray(200 * 1024 * 1024)' });
  assert.equal(oom.code, 137);
  assert.match(oom.stderr, /killed at its memory limit \(out of memory\)/);
});

test('--runtime names the runtime; an unknown one exits 125 saying which runtimes exist', async () => {
  const outcome = await cli(['run', FIXTURE, '--runtime', 'no-such-runtime']);
  assert.equal(outcome.code, 125);
  assert.match(outcome.stderr, /RuntimeNotFoundError \(ERR_RUNTIME_NOT_FOUND\): The Docker engine has no runtime "no-such-runtime" \(it has: .*runc/);
});

test('an unreachable engine (DOCKER_HOST pointing nowhere) exits 125 with a clear message', async () => {
  const outcome = await cli(['run', FIXTURE], { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
  assert.equal(outcome.code, 125);
  assert.match(outcome.stderr, /EngineUnavailableError \(ERR_ENGINE_UNAVAILABLE\): No Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock/);
});

test('usage errors and bad options exit 2 and show the usage', async () => {
  const missing = await cli([]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing command[\s\S]*Usage: docker-python-sandbox run/);
  const badMemory = await cli(['run', FIXTURE, '--memory', '1']);
  assert.equal(badMemory.code, 2);
  assert.match(badMemory.stderr, /memoryLimitMb: must be a whole number from 16/);
  const unreadable = await cli(['run', '/nonexistent/program.py']);
  assert.equal(unreadable.code, 2);
  assert.match(unreadable.stderr, /cannot read \/nonexistent\/program\.py/);
});

test('--file puts local files in the work dir; --collect with --out writes what the program made', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dps-cli-spec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'numbers.txt'), '3\n4\n5\n');
  const out = join(dir, 'results');
  const outcome = await cli(
    ['run', '-', '--file', `data/numbers.txt=${join(dir, 'numbers.txt')}`, '--env', 'SCALE=10', '--collect', 'out/**', '--collect', 'big.bin', '--out', out],
    {
      input: [
        'import os',
        "numbers = [int(line) for line in open('data/numbers.txt')]",
        "os.makedirs('out/deep', exist_ok=True)",
        "open('out/sum.txt', 'w').write(str(sum(numbers) * int(os.environ['SCALE'])))",
        "open('out/deep/count.txt', 'w').write(str(len(numbers)))",
        "open('big.bin', 'wb').write(b'x' * 11 * 1024 * 1024)",
      ].join('\n'),
    },
  );
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(await readFile(join(out, 'out/sum.txt'), 'utf8'), '120');
  assert.equal(await readFile(join(out, 'out/deep/count.txt'), 'utf8'), '3');
  assert.deepEqual((await readdir(out)).sort(), ['out']);
  assert.match(outcome.stderr, /not collected: big\.bin: 11534336 bytes would exceed maxCollectBytes/);
});

test('--json prints collected files as base64', async () => {
  const outcome = await cli(['run', '-', '--json', '--collect', '*.txt'], { input: "open('a.txt', 'w').write('hello')" });
  assert.equal(outcome.code, 0, outcome.stderr);
  const result = JSON.parse(outcome.stdout);
  assert.deepEqual(result.files, { 'a.txt': Buffer.from('hello').toString('base64') });
  assert.deepEqual(result.skippedFiles, []);
});

test('--collect without --out, --file escaping the work dir or without "=", exit 2 and leave no container', async () => {
  const before = await labelledContainers();
  const noOut = await cli(['run', FIXTURE, '--collect', '*.png']);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /--collect needs --out <dir>/);
  const escaping = await cli(['run', FIXTURE, '--file', `../x=${FIXTURE}`]);
  assert.equal(escaping.code, 2);
  assert.match(escaping.stderr, /files\.\.\.\/x: must stay inside the work dir/);
  const noEquals = await cli(['run', FIXTURE, '--file', FIXTURE]);
  assert.equal(noEquals.code, 2);
  assert.match(noEquals.stderr, /--file expects PATH=LOCAL/);
  assert.deepEqual(await containersNotIn(before), []);
});
