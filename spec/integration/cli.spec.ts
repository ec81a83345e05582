/**
 * The command-line runner, as a user would call it: a real process against the real engine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import { OWNER_PID_LABEL, ROLE_LABEL } from '../../lib/docker/labels.js';
import { watchedProcess, type WatchedProcess } from '../helpers/watched-process.js';
import { CLI, cli, cliProcess } from '../helpers/cli-process.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/exit_seven.py', import.meta.url));

/** Starts the CLI; its stdin stays open for the spec to write or end. Killed when the test ends, if still running. */
function startCli(t: TestContext, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): WatchedProcess {
  const running = watchedProcess(process.execPath, ['--import', 'tsx', CLI, ...args], { env: options.env, keepStdinOpen: true });
  t.after(() => running.kill());
  return running;
}

/** Every container on the engine (running or not) whose owner-pid label names this process, with its role. */
async function containersOwnedBy(pid: number): Promise<string[]> {
  const { stdout } = await promisify(execFile)('docker', [
    'ps',
    '-a',
    '--filter',
    `label=${OWNER_PID_LABEL}=${pid}`,
    '--format',
    `{{.Names}} {{.Label "${ROLE_LABEL}"}}`,
  ]);
  return stdout.split('\n').filter((line) => line !== '');
}

test("run FILE: the program's output goes to our stdout and stderr, its exit code becomes ours", async () => {
  const { outcome, pid } = await cliProcess(['run', FIXTURE]);
  assert.deepEqual(outcome, { code: 7, stdout: 'to stdout\n', stderr: 'to stderr\n' });
  // By its owner label, since other processes may make and remove containers on the engine meanwhile.
  assert.deepEqual(await containersOwnedBy(pid), [], 'the CLI leaves no container behind');
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
  const result = JSON.parse(outcome.stdout) as Record<string, unknown>;
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
  const result = JSON.parse(outcome.stdout) as Record<string, unknown>;
  assert.deepEqual(result.files, { 'a.txt': Buffer.from('hello').toString('base64') });
  assert.deepEqual(result.skippedFiles, []);
});

test('--collect without --out, --file escaping the work dir or without "=", exit 2 and leave no container', async () => {
  const refusals = [
    { args: ['run', FIXTURE, '--collect', '*.png'], message: /--collect needs --out <dir>/ },
    { args: ['run', FIXTURE, '--file', `../x=${FIXTURE}`], message: /files\.\.\.\/x: must stay inside the work dir/ },
    { args: ['run', FIXTURE, '--file', FIXTURE], message: /--file expects PATH=LOCAL/ },
  ];
  for (const { args, message } of refusals) {
    const { outcome, pid } = await cliProcess(args);
    assert.equal(outcome.code, 2, args.join(' '));
    assert.match(outcome.stderr, message);
    assert.deepEqual(await containersOwnedBy(pid), [], `${args.join(' ')} leaves no container`);
  }
});

test("run streams the program's stdout and stderr as they arrive, not when it ends", async (t) => {
  const running = startCli(t, ['run', '-']);
  running.stdin!.end(
    [
      'import sys, time',
      "print('first', flush=True)",
      "print('warning', file=sys.stderr, flush=True)",
      'time.sleep(3)',
      "print('second')",
      "print('done', file=sys.stderr)",
    ].join('\n'),
  );
  assert.deepEqual(await running.waitForExit(60_000), { code: 0, signal: null }, running.stderr);
  assert.equal(running.stdout, 'first\nsecond\n');
  assert.equal(running.stderr, 'warning\ndone\n');
  // The piece with "first" came while the program slept, well before the piece with "second".
  for (const [stream, chunks, early, late] of [
    ['stdout', running.stdoutChunks, 'first', 'second'],
    ['stderr', running.stderrChunks, 'warning', 'done'],
  ] as const) {
    const first = chunks.find((chunk) => chunk.text.includes(early));
    const second = chunks.find((chunk) => chunk.text.includes(late));
    assert.ok(first !== undefined && second !== undefined && first !== second, `${stream}: ${JSON.stringify(chunks)}`);
    assert.ok(second.at - first.at >= 2_000, `${stream}: "${early}" arrived only ${Math.round(second.at - first.at)} ms before "${late}"`);
  }
});

test('--version prints the version of package.json and exits 0', async () => {
  const manifest = JSON.parse(await readFile(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  assert.deepEqual(await cli(['--version']), { code: 0, stdout: `${manifest.version}\n`, stderr: '' });
  assert.match((await cli(['--help'])).stdout, /--version/);
});

test('run - with --stdin - is refused before anything is read from stdin', async (t) => {
  // stdin is left open: a CLI that read it first would wait forever, and the deadline fails it.
  const running = startCli(t, ['run', '-', '--stdin', '-']);
  assert.deepEqual(await running.waitForExit(20_000), { code: 2, signal: null });
  assert.match(running.stderr, /the program and --stdin cannot both come from standard input[\s\S]*Usage: docker-python-sandbox run/);
  assert.equal(running.stdout, '');
});

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`${signal} during a run removes its containers and temp dirs, then exits ${code}`, async (t) => {
    // The CLI's own TMPDIR: its temp dirs are then the only ones there, named dps-<its pid>-*.
    const tempDir = await mkdtemp(join(tmpdir(), 'dps-cli-signal-'));
    t.after(() => rm(tempDir, { recursive: true, force: true }));
    const running = startCli(t, ['run', '-', '--timeout', '120000'], { env: { ...process.env, TMPDIR: tempDir } });
    const pid = running.pid;
    running.stdin!.end("import time\nprint('started', flush=True)\ntime.sleep(60)");
    await running.waitForOutput('the program started', (stdout) => stdout.includes('started'), 60_000);

    // What the signal must remove is there: the running container and its input dir.
    const before = await containersOwnedBy(pid);
    assert.ok(
      before.some((line) => line.endsWith(' runner')),
      `a runner container of pid ${pid}: ${before.join(', ')}`,
    );
    const ownTempDirs = async (): Promise<string[]> => (await readdir(tempDir)).filter((name) => name.startsWith(`dps-${pid}-`));
    assert.notDeepEqual(await ownTempDirs(), [], `a temp dir of pid ${pid} in ${tempDir}`);

    running.kill(signal);
    assert.deepEqual(await running.waitForExit(30_000), { code, signal: null }, running.stderr);
    // cleanup() waits for holder creations under way, so nothing may appear after the exit either.
    assert.deepEqual(await containersOwnedBy(pid), [], `containers of pid ${pid} left after ${signal}`);
    assert.deepEqual(await ownTempDirs(), [], `temp dirs of pid ${pid} left after ${signal}`);
    assert.equal(running.stdout, 'started\n');
    assert.doesNotMatch(running.stderr, /SandboxClosedError|error/i);
  });
}
