/**
 * Piston v2 compatibility (lib/server/piston.ts): requests in, responses out, checked against what
 * Piston itself does (engineer-man/piston api/src/api/v2.js, job.js; isolate's meta messages) and
 * what the npm package piston-client sends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunParams, parseSandboxOptions } from '../../lib/options.js';
import type { RunResult } from '../../lib/result.js';
import { parsePistonExecute, pistonRuntimes, toPistonResponse, type PistonExecuteParsed, type PistonSettings } from '../../lib/server/piston.js';
import { satisfiesRange } from '../../lib/server/semver-range.js';

const settings: PistonSettings = { pythonVersion: '3.12.3', maxTimeoutMs: 30_000, maxMemoryLimitMb: 512 };
const MIB = 1024 * 1024;
const hello = { name: 'main.py', content: 'print("hi")' };

function accepted(body: unknown): Exclude<PistonExecuteParsed, { ok: false }>['params'] {
  const parsed = parsePistonExecute(body, settings);
  assert.ok(parsed.ok, `expected the request to be accepted: ${JSON.stringify(parsed)}`);
  return parsed.params;
}

function refused(body: unknown): string {
  const parsed = parsePistonExecute(body, settings);
  assert.ok(!parsed.ok, `expected a 400 for ${JSON.stringify(body)}`);
  assert.equal(parsed.status, 400);
  return parsed.message;
}

const request = (fields: Record<string, unknown>) => ({ language: 'python', version: '3.x', files: [hello], ...fields });

test('GET /api/v2/runtimes: one python entry with the aliases of Piston\'s python package, no "runtime" key', () => {
  const runtimes = pistonRuntimes('3.12.3');
  assert.deepEqual(runtimes, [{ language: 'python', version: '3.12.3', aliases: ['py', 'py3', 'python3', 'python3.12'] }]);
  assert.equal(JSON.stringify(runtimes), '[{"language":"python","version":"3.12.3","aliases":["py","py3","python3","python3.12"]}]');
  assert.deepEqual(pistonRuntimes('3.13.0')[0]?.aliases, ['py', 'py3', 'python3', 'python3.13']);
});

test("piston-client's execute('python', code) body becomes a run the library accepts", () => {
  // What piston-client 1.0.2 sends (index.js): its own defaults for everything but the code.
  const body = {
    language: 'python',
    version: '3.12.3',
    files: [{ content: 'import sys\nprint(sys.argv[1:])' }],
    stdin: '',
    args: ['1', '2', '3'],
    compile_timeout: 10000,
    run_timeout: 3000,
    compile_memory_limit: -1,
    run_memory_limit: -1,
  };
  const params = accepted(body);
  assert.deepEqual(params, { code: 'import sys\nprint(sys.argv[1:])', files: {}, stdin: '\n', argv: ['1', '2', '3'], timeoutMs: 3000 });
  const resolved = parseRunParams(params, parseSandboxOptions({ maxTimeoutMs: settings.maxTimeoutMs, maxMemoryLimitMb: settings.maxMemoryLimitMb }));
  assert.equal(resolved.timeoutMs, 3000);
  assert.equal(resolved.memoryLimitMb, 50, 'run_memory_limit -1 leaves the default');
});

test('language: python and its aliases; version: a semver range the Python version satisfies', () => {
  for (const language of ['python', 'py', 'py3', 'python3', 'python3.12']) {
    for (const version of ['3.12.3', '3.x', '3', '3.12', '*', '>=3.10', '^3.11', '~3.12.0', '3.10 - 3.13']) {
      assert.equal(accepted(request({ language, version })).code, 'print("hi")', `${language} ${version}`);
    }
  }
  assert.equal(refused(request({ language: 'python', version: '3.11' })), 'python-3.11 runtime is unknown');
  assert.equal(refused(request({ language: 'py2', version: '2.7.18' })), 'py2-2.7.18 runtime is unknown');
  assert.equal(refused(request({ language: 'python3.11', version: '*' })), 'python3.11-* runtime is unknown');
  assert.equal(refused(request({ language: 'javascript', version: '18.15.0' })), 'javascript-18.15.0 runtime is unknown');
  assert.equal(refused(request({ language: 'Python', version: '3.12.3' })), 'Python-3.12.3 runtime is unknown', 'names are case-sensitive, as in Piston');
  assert.equal(refused(request({ version: 'latest' })), 'python-latest runtime is unknown');
});

test("Piston's checks in Piston's order and words", () => {
  assert.equal(refused({}), 'language is required as a string');
  assert.equal(refused(null), 'language is required as a string');
  assert.equal(refused([1, 2]), 'language is required as a string');
  assert.equal(refused('print(1)'), 'language is required as a string');
  assert.equal(refused({ language: '', version: '3.x', files: [hello] }), 'language is required as a string');
  assert.equal(refused({ language: 3, version: '3.x', files: [hello] }), 'language is required as a string');
  assert.equal(refused({ language: 'python', files: [hello] }), 'version is required as a string');
  assert.equal(refused({ language: 'python', version: 3.12, files: [hello] }), 'version is required as a string');
  assert.equal(refused({ language: 'python', version: '3.x' }), 'files is required as an array');
  assert.equal(refused(request({ files: { 'main.py': 'print(1)' } })), 'files is required as an array');
  assert.equal(refused(request({ files: [hello, { name: 'b.py' }] })), 'files[1].content is required as a string');
  assert.equal(refused(request({ files: [hello, null] })), 'files[1].content is required as a string');
  assert.equal(refused(request({ files: [{ content: 42 }] })), 'files[0].content is required as a string');
  // The runtime is looked up after the files' contents, and before the limits.
  assert.equal(refused(request({ version: '9', files: [null], run_timeout: 'x' })), 'files[0].content is required as a string');
  assert.equal(refused(request({ version: '9', run_timeout: 'x' })), 'python-9 runtime is unknown');
  assert.equal(refused(request({ files: [] })), 'files must include at least one utf8 encoded file');
  assert.equal(refused(request({ files: [{ content: 'cHJpbnQoMSk=', encoding: 'base64' }] })), 'files must include at least one utf8 encoded file');
  assert.equal(refused(request({ compile_memory_limit: '1', run_timeout: 'x' })), 'If specified, compile_memory_limit must be a number');
  assert.equal(refused(request({ run_timeout: '3000' })), 'If specified, run_timeout must be a number');
  assert.equal(refused(request({ run_cpu_time: true })), 'If specified, run_cpu_time must be a number');
  assert.equal(refused(request({ run_memory_limit: 600 * MIB, run_timeout: 'x' })), `run_memory_limit cannot exceed the configured limit of ${512 * MIB}`);
});

test('the rest of the request: stdin and args (which Piston does not check) get clear messages; unknown keys are ignored', () => {
  assert.equal(refused(request({ stdin: 5 })), 'stdin must be a string');
  assert.equal(refused(request({ args: '1 2' })), 'args must be an array of strings');
  assert.equal(refused(request({ args: ['1', 2] })), 'args[1] must be a string');
  assert.equal(refused(request({ args: ['a\0b'] })), 'args[0] must not contain NUL characters');
  assert.equal(refused(request({ files: [{ name: 7, content: 'print(1)' }] })), 'files[0].name must be a string');
  const params = accepted(request({ stdin: null, args: null, compile_cpu_time: 10000, run_cpu_time: 3000, extra: { anything: true } }));
  assert.deepEqual(params, { code: 'print("hi")', files: {}, stdin: '\n', argv: [] });
});

test('stdin gets a final newline when it lacks one, as Piston feeds it', () => {
  assert.equal(accepted(request({ stdin: '5 7' })).stdin, '5 7\n');
  assert.equal(accepted(request({ stdin: 'line 1\nline 2\n' })).stdin, 'line 1\nline 2\n');
  assert.equal(accepted(request({})).stdin, '\n');
});

test('run_timeout: milliseconds, at most the maximum, whole (rounded up); falsy means the default', () => {
  assert.equal(accepted(request({ run_timeout: 5000 })).timeoutMs, 5000);
  assert.equal(accepted(request({ run_timeout: 1500.2 })).timeoutMs, 1501);
  assert.equal(accepted(request({ run_timeout: 30_000 })).timeoutMs, 30_000);
  assert.equal(accepted(request({ run_timeout: 0 })).timeoutMs, undefined);
  assert.equal(accepted(request({ run_timeout: null })).timeoutMs, undefined);
  assert.equal(refused(request({ run_timeout: 30_001 })), 'run_timeout cannot exceed the configured limit of 30000');
  assert.equal(refused(request({ run_timeout: -1 })), 'run_timeout must be non-negative');
  // Compile and CPU-time limits are accepted and ignored, whatever their size.
  assert.equal(accepted(request({ compile_timeout: 10 ** 9, compile_memory_limit: 10 ** 12, run_cpu_time: 10 ** 9 })).timeoutMs, undefined);
});

test('run_memory_limit: bytes to MiB rounded up; -1, 0 or absent mean the default; at most the maximum', () => {
  assert.equal(accepted(request({ run_memory_limit: 128 * MIB })).memoryLimitMb, 128);
  assert.equal(accepted(request({ run_memory_limit: 100_000_000 })).memoryLimitMb, 96);
  assert.equal(accepted(request({ run_memory_limit: 512 * MIB })).memoryLimitMb, 512);
  assert.equal(accepted(request({ run_memory_limit: -1 })).memoryLimitMb, undefined);
  assert.equal(accepted(request({ run_memory_limit: 0 })).memoryLimitMb, undefined);
  assert.equal(accepted(request({})).memoryLimitMb, undefined);
  assert.equal(refused(request({ run_memory_limit: 512 * MIB + 1 })), `run_memory_limit cannot exceed the configured limit of ${512 * MIB}`);
  assert.equal(refused(request({ run_memory_limit: -2 })), 'run_memory_limit must be non-negative');
  assert.equal(refused(request({ run_memory_limit: 8_000_000 })), 'run_memory_limit must be at least 16777216 (16 MiB, in bytes) or -1 for the default');
  assert.equal(refused(request({ run_memory_limit: '64000000' })), 'If specified, run_memory_limit must be a number');
});

test('files: the first utf8 file is the program, the others go into the work dir by name, decoded', () => {
  const params = accepted(
    request({
      files: [
        { name: 'weights.bin', content: 'AAEC/w==', encoding: 'base64' },
        { name: 'main.py', content: 'import helper\nprint(helper.X)' },
        { name: 'helper.py', content: 'X = 42\n' },
        { name: 'data/table.bin', content: '00ff10', encoding: 'hex' },
        { name: 'notes.txt', content: 'ünïcode', encoding: 'utf8' },
        { name: 'legacy.txt', content: 'as is', encoding: 'latin1' },
        { content: 'unnamed' },
      ],
    }),
  );
  assert.equal(params.code, 'import helper\nprint(helper.X)');
  assert.deepEqual(params.files, {
    'weights.bin': Buffer.from([0, 1, 2, 255]),
    'helper.py': 'X = 42\n',
    'data/table.bin': Buffer.from([0, 255, 16]),
    'notes.txt': 'ünïcode',
    'legacy.txt': 'as is',
    'file6.code': 'unnamed',
  });
  // The parameters pass the library's own checks (paths, types).
  const resolved = parseRunParams(params, parseSandboxOptions({}));
  assert.deepEqual([...resolved.files.keys()], ['weights.bin', 'helper.py', 'data/table.bin', 'notes.txt', 'legacy.txt', 'file6.code']);
});

test('file names: joined to the work dir as Piston does; one that escapes it or names no file is refused', () => {
  const named = (name: string) => accepted(request({ files: [hello, { name, content: 'x' }] })).files;
  assert.deepEqual(named('/etc/passwd'), { 'etc/passwd': 'x' });
  assert.deepEqual(named('./a//b/../c.txt'), { 'a/c.txt': 'x' });
  assert.deepEqual(named(''), { 'file1.code': 'x' });
  const refusedName = (name: string) => refused(request({ files: [hello, { name, content: 'x' }] }));
  assert.equal(refusedName('../outside.py'), 'File path "../outside.py" tries to escape parent directory: ../outside.py');
  assert.equal(refusedName('a/../../../etc/passwd'), 'File path "a/../../../etc/passwd" tries to escape parent directory: ../../etc/passwd');
  assert.equal(refusedName('..'), 'File path ".." tries to escape parent directory: ..');
  assert.equal(refusedName('.'), 'File path "." is not a usable file name');
  assert.equal(refusedName('a\\..\\..\\b'), 'File path "a\\..\\..\\b" must stay inside the work dir (no ".." parts)');
  assert.equal(refusedName('bad\0name'), 'File path "bad\0name" is not a usable file name');
  // The program's own name is checked too, as Piston writes every file.
  assert.equal(
    refused(request({ files: [{ name: '../main.py', content: 'print(1)' }] })),
    'File path "../main.py" tries to escape parent directory: ../main.py',
  );
});

const base: RunResult = {
  stdout: '',
  stderr: '',
  combined: '',
  isError: false,
  timedOut: false,
  status: 'ok',
  exitCode: 0,
  signal: null,
  oomKilled: false,
  truncated: false,
  durationMs: 41.7,
  timings: { queuedMs: 0.4, runMs: 41.7 },
  usage: { cpuMs: 30, peakMemoryBytes: 9_437_184 },
  files: {},
  skippedFiles: [],
  engine: 'default',
};
const result = (fields: Partial<RunResult>): RunResult => ({ ...base, ...fields });

test('a program that exits with 0: code 0, no signal, status or message', () => {
  const response = toPistonResponse(result({ stdout: 'hi\n', stderr: 'warn\n', combined: 'hi\nwarn\n' }), '3.12.3');
  assert.deepEqual(response, {
    run: {
      stdout: 'hi\n',
      stderr: 'warn\n',
      output: 'hi\nwarn\n',
      code: 0,
      signal: null,
      message: null,
      status: null,
      memory: 9_437_184,
      cpu_time: 30,
      wall_time: 41.7,
    },
    language: 'python',
    version: '3.12.3',
  });
  assert.equal('compile' in response, false, 'Python has no compile stage');
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(response.run)) as object).sort(), [
    'code',
    'cpu_time',
    'memory',
    'message',
    'output',
    'signal',
    'status',
    'stderr',
    'stdout',
    'wall_time',
  ]);
});

test('an error exit: RE with isolate\'s "Exited with error status N"', () => {
  const traceback = 'Traceback (most recent call last):\n  File "/sandbox-in/main.py", line 1, in <module>\nZeroDivisionError: division by zero\n';
  const { run } = toPistonResponse(result({ status: 'error', isError: true, exitCode: 1, stderr: traceback, combined: traceback }), '3.12.3');
  assert.deepEqual(
    { code: run.code, signal: run.signal, status: run.status, message: run.message, stderr: run.stderr, output: run.output },
    { code: 1, signal: null, status: 'RE', message: 'Exited with error status 1', stderr: traceback, output: traceback },
  );
  assert.equal(toPistonResponse(result({ status: 'error', isError: true, exitCode: 137 }), '3.12.3').run.message, 'Exited with error status 137');
});

test('a timeout: TO, SIGKILL, no code, "Time limit exceeded (wall clock)"', () => {
  const { run } = toPistonResponse(
    result({ status: 'timeout', isError: true, timedOut: true, exitCode: null, stdout: 'tick\n', combined: 'tick\n', usage: null, durationMs: 2000.3 }),
    '3.12.3',
  );
  assert.deepEqual(run, {
    stdout: 'tick\n',
    stderr: '',
    output: 'tick\n',
    code: null,
    signal: 'SIGKILL',
    message: 'Time limit exceeded (wall clock)',
    status: 'TO',
    memory: null,
    cpu_time: null,
    wall_time: 2000.3,
  });
});

test('an OOM kill and other fatal signals: SG, the signal in Piston\'s names, "Caught fatal signal N"', () => {
  const killed = (fields: Partial<RunResult>) => {
    const { run } = toPistonResponse(result({ status: 'error', isError: true, ...fields }), '3.12.3');
    return [run.code, run.signal, run.status, run.message];
  };
  assert.deepEqual(killed({ status: 'oom', oomKilled: true, exitCode: 137, signal: 'SIGKILL' }), [null, 'SIGKILL', 'SG', 'Caught fatal signal 9']);
  assert.deepEqual(killed({ exitCode: 139, signal: 'SIGSEGV' }), [null, 'SIGSEGV', 'SG', 'Caught fatal signal 11']);
  assert.deepEqual(killed({ exitCode: 143, signal: 'SIGTERM' }), [null, 'SIGTERM', 'SG', 'Caught fatal signal 15']);
  // Node names 6 SIGIOT and 29 SIGPOLL; Piston says SIGABRT and SIGIO.
  assert.deepEqual(killed({ exitCode: 134, signal: 'SIGIOT' }), [null, 'SIGABRT', 'SG', 'Caught fatal signal 6']);
  assert.deepEqual(killed({ exitCode: 157, signal: 'SIGPOLL' }), [null, 'SIGIO', 'SG', 'Caught fatal signal 29']);
  assert.deepEqual(killed({ exitCode: 162, signal: 'SIG34' }), [null, 'SIGRTMIN', 'SG', 'Caught fatal signal 34']);
  assert.deepEqual(killed({ exitCode: 168, signal: 'SIG40' }), [null, 'SIGRTMIN+6', 'SG', 'Caught fatal signal 40']);
  assert.deepEqual(killed({ exitCode: 178, signal: 'SIG50' }), [null, 'SIGRTMAX-14', 'SG', 'Caught fatal signal 50']);
  assert.deepEqual(killed({ exitCode: 192, signal: 'SIG64' }), [null, 'SIGRTMAX', 'SG', 'Caught fatal signal 64']);
  // Piston has no name for 32 and 33.
  assert.deepEqual(killed({ exitCode: 160, signal: 'SIG32' }), [null, null, 'SG', 'Caught fatal signal 32']);
  // Stopped by the host without a status: isolate's internal error.
  assert.deepEqual(killed({ exitCode: null, signal: null }), [null, null, 'XX', 'The program ended without an exit status']);
});

test("the output cap: OL or EL by the stream that wrote last, SIGKILL, Piston's messages", () => {
  const capped = (stdout: string, stderr: string, combined: string) => {
    const { run } = toPistonResponse(result({ status: 'output_limit', isError: true, truncated: true, exitCode: null, stdout, stderr, combined }), '3.12.3');
    return [run.code, run.signal, run.status, run.message];
  };
  const lines = 'x'.repeat(1024);
  assert.deepEqual(capped(lines, '', lines), [null, 'SIGKILL', 'OL', 'stdout length exceeded']);
  assert.deepEqual(capped('start\n', lines, `start\n${lines}`), [null, 'SIGKILL', 'EL', 'stderr length exceeded']);
  assert.deepEqual(capped(`a\n${lines}`, 'warn\n', `a\nwarn\n${lines}`), [null, 'SIGKILL', 'OL', 'stdout length exceeded']);
});

test('semver ranges: as node-semver 7 decides them for release versions', () => {
  // Expected values checked against node-semver 7's satisfies() for these versions.
  const cases: [string, string[], string[]][] = [
    ['*', ['3.12.3', '0.0.3'], []],
    ['3', ['3.12.3', '3.11.9'], ['4.0.0', '2.7.18']],
    ['3.12.x', ['3.12.3', '3.12.0'], ['3.13.0', '3.11.9']],
    ['3.12.3', ['3.12.3'], ['3.12.0']],
    ['v3.12.3+build.1', ['3.12.3'], ['3.12.0']],
    ['>3.12', ['3.13.0', '4.0.0'], ['3.12.3']],
    ['>3.12.2', ['3.12.3'], ['3.12.0']],
    ['<=3.12', ['3.12.3', '2.7.18'], ['3.13.0']],
    ['<3.12', ['3.11.9'], ['3.12.0']],
    ['>= 3.10 <3.13', ['3.12.3'], ['3.13.0', '2.7.18']],
    ['~3.12.1', ['3.12.3'], ['3.12.0', '3.13.0']],
    ['~3', ['3.13.0'], ['4.0.0']],
    ['^3.12.4', ['3.13.0'], ['3.12.3', '4.0.0']],
    ['^0.2.3', ['0.2.5'], ['0.3.0', '0.2.2']],
    ['^0.0.3', ['0.0.3'], ['0.0.4']],
    ['3.10 - 3.12.2', ['3.12.0'], ['3.12.3']],
    ['3.12.3 - 3', ['3.12.3', '3.99.0'], ['4.0.0', '3.12.0']],
    ['2.x || >=3.12', ['2.7.18', '3.12.3'], ['3.11.9']],
    ['>*', [], ['3.12.3']],
    ['latest', [], ['3.12.3']],
    ['3.12.3-rc1', [], ['3.12.3']],
  ];
  for (const [range, inside, outside] of cases) {
    for (const version of inside) assert.equal(satisfiesRange(version, range), true, `${version} satisfies ${range}`);
    for (const version of outside) assert.equal(satisfiesRange(version, range), false, `${version} does not satisfy ${range}`);
  }
});
