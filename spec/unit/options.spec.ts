import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunParamsError, Sandbox, SandboxOptionsError } from '../../lib/index.js';
import { parseRunParams, parseSandboxOptions } from '../../lib/options.js';

test('defaults are the original library\'s', () => {
  const options = new Sandbox().options;
  assert.equal(options.poolSize, 1);
  assert.equal(options.timeoutMs, 10_000);
  assert.equal(options.memoryLimitMb, 50);
  assert.equal(options.image, 'docker-python-sandbox:latest');
});

const badOptions: Array<[string, unknown, RegExp]> = [
  ['poolSize', 0, /poolSize: must be a whole number from 1 to 64 \(got 0\)/],
  ['poolSize', 2.5, /poolSize: must be a whole number from 1 to 64 \(got 2\.5\)/],
  ['poolSize', '4', /poolSize: must be a whole number from 1 to 64 \(got '4'\)/],
  ['timeoutMs', -1, /timeoutMs: must be a whole number from 1 to 86400000 \(milliseconds\) \(got -1\)/],
  ['memoryLimitMb', 4, /memoryLimitMb: must be a whole number from 16 to 1048576 \(MiB; Python itself needs about 10\) \(got 4\)/],
  ['image', '', /image: must be an image name/],
  ['dockerHost', 42, /dockerHost: must be an engine address/],
  ['poolsize', 3, /poolsize: is not a known option; known options are poolSize, timeoutMs, memoryLimitMb, image/],
  ['runtime', 'run sc', /runtime: must be a runtime name registered with the engine/],
  ['user', '0:0', /user: must be a non-root "uid" or "uid:gid"/],
  ['user', 'root', /user: must be a non-root "uid" or "uid:gid"/],
  ['cpus', 0, /cpus: must be a number of cores from 0.01 to 64 \(got 0\)/],
  ['pidsLimit', 4, /pidsLimit: must be a whole number from 8 to 65536 \(got 4\)/],
  ['readOnlyRoot', 'yes', /readOnlyRoot: must be true or false/],
  ['tmpSizeMb', 0, /tmpSizeMb: must be a whole number from 1 to 65536 \(MiB\)/],
  ['maxOutputBytes', 10, /maxOutputBytes: must be a whole number from 1024 to 1073741824 \(bytes\)/],
];

for (const [key, value, message] of badOptions) {
  test(`a bad ${key} (${JSON.stringify(value)}) throws SandboxOptionsError naming it`, () => {
    assert.throws(
      () => new Sandbox({ [key]: value } as never),
      (error: unknown) => {
        assert.ok(error instanceof SandboxOptionsError);
        assert.equal(error.code, 'ERR_SANDBOX_OPTIONS');
        assert.equal(error.name, 'SandboxOptionsError');
        assert.match(error.message, message);
        assert.equal(error.issues[0]?.path, key);
        return true;
      },
    );
  });
}

test('safe defaults: no network, non-root, read-only root, capped tmpfs, output and process limits', () => {
  const options = parseSandboxOptions({});
  assert.equal(options.network, 'none');
  assert.equal(options.user, '1000:1000');
  assert.equal(options.readOnlyRoot, true);
  assert.equal(options.cpus, 1);
  assert.equal(options.pidsLimit, 64);
  assert.equal(options.tmpSizeMb, 16);
  assert.equal(options.workdirSizeMb, 16);
  assert.equal(options.fileSizeLimitMb, 16);
  assert.equal(options.openFilesLimit, 256);
  assert.equal(options.maxOutputBytes, 1024 * 1024);
  assert.equal(options.runtime, undefined);
});

test('the pids limit defaults per runtime, and an explicit value wins', () => {
  assert.equal(parseSandboxOptions({ runtime: 'runsc' }).pidsLimit, 256);
  assert.equal(parseSandboxOptions({ runtime: 'runsc', pidsLimit: 128 }).pidsLimit, 128);
  assert.equal(parseSandboxOptions({ pidsLimit: 32 }).pidsLimit, 32);
});

test('under runsc, per-run memory and cpus are refused with a reason (gVisor cannot update a running sandbox)', () => {
  const defaults = parseSandboxOptions({ runtime: 'runsc' });
  assert.throws(() => parseRunParams({ code: '', memoryLimitMb: 100 }, defaults), /memoryLimitMb: cannot be set per run under runtime "runsc"/);
  assert.equal(parseRunParams({ code: '', cpus: 1 }, defaults).cpus, 1); // the Sandbox's own value is fine
});

test('the Sandbox\'s own limits must fit under its maxima for runs', () => {
  assert.throws(() => parseSandboxOptions({ timeoutMs: 5_000, maxTimeoutMs: 1_000 }), /timeoutMs: must not exceed maxTimeoutMs \(1000\); raise maxTimeoutMs too/);
  assert.throws(() => parseSandboxOptions({ memoryLimitMb: 500, maxMemoryLimitMb: 100 }), /memoryLimitMb: must not exceed maxMemoryLimitMb/);
});

test('options that are not an object are refused', () => {
  assert.throws(() => parseSandboxOptions(5), /Invalid Sandbox options:\n {2}- \(root\): .*expected object/);
});

test('run params: a string is the code; an object may set timeoutMs', () => {
  const defaults = parseSandboxOptions({ timeoutMs: 1234 });
  const none = { files: new Map(), memoryLimitMb: 50, cpus: 1, stdin: undefined, argv: [], env: {}, collect: [], onStdout: undefined, onStderr: undefined, signal: undefined };
  assert.deepEqual(parseRunParams('print(1)', defaults), { code: 'print(1)', timeoutMs: 1234, ...none });
  assert.deepEqual(parseRunParams({ code: 'x', timeoutMs: 99 }, defaults), { code: 'x', timeoutMs: 99, ...none });
  const stdin = parseRunParams({ code: 'x', stdin: 'héllo', argv: ['-v'], env: { MODE: 'a' } }, defaults);
  assert.deepEqual([stdin.stdin, stdin.argv, stdin.env], [Buffer.from('héllo'), ['-v'], { MODE: 'a' }]);
});

const badParams: Array<[unknown, RegExp]> = [
  [undefined, /\(root\): must be a code string or \{ code, timeoutMs\?, stdin\?, \.\.\. \} \(got undefined\)/],
  [42, /\(root\): must be a code string or \{ code, timeoutMs\?, stdin\?, \.\.\. \} \(got 42\)/],
  [{ code: '', stdin: 5 }, /stdin: must be a string or a Buffer \(got 5\)/],
  [{ code: '', argv: 'a b' }, /argv: must be an array of strings/],
  [{ code: '', argv: ['a\0b'] }, /argv\.0: must be a string without NUL characters/],
  [{ code: '', env: { 'BAD-NAME': 'x' } }, /env\.BAD-NAME: is not a variable name: use letters, digits and _, like MY_VAR/],
  [{ code: '', env: { OK: 1 } }, /env\.OK: must be a string/],
  [{ code: '', onStdout: 'print' }, /onStdout: must be a function/],
  [{ code: '', signal: {} }, /signal: must be an AbortSignal/],
  [{ code: '', files: { '/etc/passwd': 'x' } }, /files\.\/etc\/passwd: must be relative to the work dir, not absolute/],
  [{ code: '', files: { '../escape.txt': 'x' } }, /files\.\.\.\/escape\.txt: must stay inside the work dir/],
  [{ code: '', files: { 'a/../../b': 'x' } }, /must stay inside the work dir/],
  [{ code: '', files: { 'a.txt': 5 } }, /files/],
  [{ code: '', files: { 'big.bin': Buffer.alloc(11 * 1024 * 1024) } }, /files: total 11534336 bytes, more than the Sandbox's maxFilesBytes \(10485760\)/],
  [{ code: '', timeoutMs: 600_001 }, /timeoutMs: must be at most 600000, the Sandbox's maxTimeoutMs \(got 600001\); raise maxTimeoutMs/],
  [{ code: '', memoryLimitMb: 5000 }, /memoryLimitMb: must be at most 4096, the Sandbox's maxMemoryLimitMb \(got 5000\)/],
  [{ code: '', cpus: 8 }, /cpus: must be at most 4, the Sandbox's maxCpus \(got 8\)/],
  [{}, /code: must be a string of Python code \(got undefined\)/],
  [{ code: 1 }, /code: must be a string of Python code \(got 1\)/],
  [{ code: '', timeoutMs: 0 }, /timeoutMs: must be a whole number from 1 to 86400000/],
  [{ code: '', timeOut: 5 }, /timeOut: is not a known option; known options are code, timeoutMs/],
];

for (const [param, message] of badParams) {
  test(`bad run params ${JSON.stringify(param)} throw RunParamsError`, () => {
    assert.throws(
      () => parseRunParams(param, parseSandboxOptions({})),
      (error: unknown) => error instanceof RunParamsError && error.code === 'ERR_RUN_PARAMS' && message.test(error.message),
    );
  });
}

test('maxCollectBytes and preload are validated; collect patterns must stay in the work dir', () => {
  assert.throws(() => parseSandboxOptions({ maxCollectBytes: -1 }), /maxCollectBytes: must be a whole number from 0/);
  assert.throws(() => parseSandboxOptions({ preload: 'numpy' }), /preload: must be an array of module names/);
  assert.throws(() => parseRunParams({ code: '', collect: '*.png' }, parseSandboxOptions({})), /collect: must be an array of paths or globs/);
  assert.throws(() => parseRunParams({ code: '', collect: ['/abs'] }, parseSandboxOptions({})), /collect\.0: must be relative to the work dir/);
  assert.deepEqual(parseRunParams({ code: '', collect: ['*.png', 'out/**'] }, parseSandboxOptions({})).collect, ['*.png', 'out/**']);
});
