/**
 * The original library's own expectations, in Python 3, on a real engine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSandbox } from '../helpers/engine.js';

test('hello world: exact stdout, empty stderr, combined == stdout, not an error', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run('print("Hello world")');
  assert.equal(result.stdout, 'Hello world\n');
  assert.equal(result.stderr, '');
  assert.equal(result.combined, result.stdout);
  assert.equal(result.isError, false);
  assert.equal(result.timedOut, false);
  assert.equal(result.exitCode, 0);
  assert.ok(result.durationMs > 0);
});

test('a syntax error: isError, empty stdout, SyntaxError on stderr, combined == stderr', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run('print("unclosed"');
  assert.equal(result.isError, true);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /SyntaxError/);
  assert.match(result.stderr, /File "\/sandbox-in\/main\.py", line 1/);
  assert.equal(result.combined, result.stderr);
  assert.equal(result.exitCode, 1);
});

test('an uncaught exception prints a traceback of the program only, exit code 1', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run('def f():\n    raise ValueError("boom")\nf()\n');
  assert.equal(result.exitCode, 1);
  assert.equal(
    result.stderr,
    'Traceback (most recent call last):\n' +
      '  File "/sandbox-in/main.py", line 3, in <module>\n    f()\n' +
      '  File "/sandbox-in/main.py", line 2, in f\n    raise ValueError("boom")\n' +
      'ValueError: boom\n',
  );
});

test('sys.exit codes and messages behave as under python3', async (t) => {
  const sandbox = await startSandbox(t, { poolSize: 3 });
  const [three, message, none] = await Promise.all([
    sandbox.run('import sys\nprint("partial")\nsys.exit(3)'),
    sandbox.run('import sys\nsys.exit("bad input")'),
    sandbox.run('import sys\nsys.exit()'),
  ]);
  assert.deepEqual([three.exitCode, three.stdout, three.isError], [3, 'partial\n', true]);
  assert.deepEqual([message.exitCode, message.stderr], [1, 'bad input\n']);
  assert.deepEqual([none.exitCode, none.isError], [0, false]);
});

test('a sleep past the timeout: timedOut, isError, settled within timeoutMs + 1 s, output before it kept', async (t) => {
  const sandbox = await startSandbox(t, { timeoutMs: 1_000 });
  const started = performance.now();
  const result = await sandbox.run('import time\nprint("before", flush=True)\ntime.sleep(30)\nprint("after")');
  const elapsed = performance.now() - started;
  assert.equal(result.timedOut, true);
  assert.equal(result.isError, true);
  assert.equal(result.exitCode, null);
  assert.equal(result.stdout, 'before\n');
  assert.ok(elapsed < 2_000, `settled after ${elapsed.toFixed(0)} ms`);
});

test('a run may set its own timeoutMs', async (t) => {
  const sandbox = await startSandbox(t, { timeoutMs: 30_000 });
  const started = performance.now();
  const result = await sandbox.run({ code: 'while True: pass', timeoutMs: 500 });
  assert.equal(result.timedOut, true);
  assert.ok(performance.now() - started < 1_500);
});

test('a huge allocation under the memory limit is an error', async (t) => {
  const sandbox = await startSandbox(t, { memoryLimitMb: 50 });
  const result = await sandbox.run('data = bytearray(500 * 1024 * 1024)\nprint("allocated")');
  assert.equal(result.isError, true);
  assert.equal(result.timedOut, false);
  assert.doesNotMatch(result.stdout, /allocated/);
});

test('2 x poolSize parallel runs each get their own correct output', async (t) => {
  const poolSize = 3;
  const sandbox = await startSandbox(t, { poolSize });
  const runs = Array.from({ length: 2 * poolSize }, (_, i) => sandbox.run(`import os\nprint(${i}, os.uname().nodename)`).then((result) => ({ i, result })));
  const results = await Promise.all(runs);
  const hosts = new Set<string>();
  for (const { i, result } of results) {
    const [index, host] = result.stdout.trim().split(' ');
    assert.equal(index, String(i));
    assert.equal(result.isError, false);
    hosts.add(host!);
  }
  assert.equal(hosts.size, 2 * poolSize, 'every run had a container of its own');
});

test('single use: a file written in one run is absent in the next', async (t) => {
  const sandbox = await startSandbox(t);
  const write = await sandbox.run('open("/sandbox/left-behind.txt", "w").write("x")\nimport os\nprint(os.path.exists("/sandbox/left-behind.txt"))');
  assert.equal(write.stdout, 'True\n');
  const read = await sandbox.run('import os\nprint(os.path.exists("/sandbox/left-behind.txt"))');
  assert.equal(read.stdout, 'False\n');
});

test('the program reads EOF on stdin and runs as a non-root user with no network', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run(
    'import os, sys, socket\n' +
      'print(repr(sys.stdin.read()))\n' +
      'print(os.getuid())\n' +
      'try:\n    socket.create_connection(("1.1.1.1", 53), timeout=2)\n    print("connected")\n' +
      'except OSError as e:\n    print("no network")\n',
  );
  assert.equal(result.stdout, "''\n1000\nno network\n");
});
