import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunParamsError, Sandbox, SandboxError, SandboxOptionsError } from '../../lib/index.js';
import { DEFAULT_PIDS_LIMIT, MIN_RUNSC_PIDS_LIMIT, parseRemoveOrphansOptions, parseRunParams, parseSandboxOptions } from '../../lib/options.js';

test("defaults are the original library's", () => {
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
  ['dockerHost', 'localhost:2375', /dockerHost: must be an engine address .*: "localhost:2375" has no scheme: use unix:\/\/, tcp:\/\/, ssh:\/\/ or npipe:\/\//],
  ['dockerHost', 'ssh://me:secret@box', /dockerHost: must be an engine address .*must not hold a password/],
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
      () => new Sandbox({ [key]: value }),
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

test('under runsc, per-run memory and cpus are accepted (such a run gets a container of its own)', () => {
  const defaults = parseSandboxOptions({ runtime: 'runsc' });
  const params = parseRunParams({ code: '', memoryLimitMb: 100, cpus: 0.5 }, defaults);
  assert.deepEqual([params.memoryLimitMb, params.cpus], [100, 0.5]);
});

test('orphan reaping is on by default, every minute; reapOrphans: false turns it off; the interval is at least 1 s', () => {
  const options = parseSandboxOptions({});
  assert.deepEqual([options.reapOrphans, options.reapIntervalMs], [true, 60_000]);
  assert.equal(parseSandboxOptions({ reapOrphans: false }).reapOrphans, false);
  assert.throws(() => parseSandboxOptions({ reapIntervalMs: 10 }), /reapIntervalMs: must be a whole number from 1000 to 86400000 \(milliseconds\) \(got 10\)/);
  assert.throws(() => parseSandboxOptions({ reapOrphans: 'no' }), /reapOrphans: must be true or false/);
});

test("the Sandbox's own limits must fit under its maxima for runs", () => {
  assert.throws(
    () => parseSandboxOptions({ timeoutMs: 5_000, maxTimeoutMs: 1_000 }),
    /timeoutMs: must not exceed maxTimeoutMs \(1000\); raise maxTimeoutMs too/,
  );
  assert.throws(() => parseSandboxOptions({ memoryLimitMb: 500, maxMemoryLimitMb: 100 }), /memoryLimitMb: must not exceed maxMemoryLimitMb/);
});

test('a maximum alone never breaks the defaults: timeoutMs, memoryLimitMb and cpus default to the smaller of their usual value and the maximum', () => {
  const low = new Sandbox({ maxTimeoutMs: 5_000, maxMemoryLimitMb: 32, maxCpus: 0.5 }).options;
  assert.deepEqual([low.timeoutMs, low.memoryLimitMb, low.cpus], [5_000, 32, 0.5]);
  // Each maximum on its own lowers only its own default.
  assert.equal(new Sandbox({ maxTimeoutMs: 5_000 }).options.timeoutMs, 5_000);
  assert.equal(new Sandbox({ maxTimeoutMs: 5_000 }).options.memoryLimitMb, 50);
  assert.equal(new Sandbox({ maxMemoryLimitMb: 20 }).options.memoryLimitMb, 20);
  assert.equal(new Sandbox({ maxCpus: 0.25 }).options.cpus, 0.25);
  // Maxima above the usual defaults leave them alone.
  const high = new Sandbox({ maxTimeoutMs: 60_000, maxMemoryLimitMb: 8_192, maxCpus: 8 }).options;
  assert.deepEqual([high.timeoutMs, high.memoryLimitMb, high.cpus], [10_000, 50, 1]);
  // A run without its own timeout gets the lowered default, which its maximum allows.
  assert.equal(parseRunParams('print(1)', parseSandboxOptions({ maxTimeoutMs: 5_000 })).timeoutMs, 5_000);
});

test('an explicit value may equal its explicit maximum', () => {
  const options = parseSandboxOptions({ timeoutMs: 5_000, maxTimeoutMs: 5_000, memoryLimitMb: 64, maxMemoryLimitMb: 64, cpus: 2, maxCpus: 2 });
  assert.deepEqual([options.timeoutMs, options.memoryLimitMb, options.cpus], [5_000, 64, 2]);
});

const overMaxima: Array<[Record<string, number>, string]> = [
  [{ timeoutMs: 6_000, maxTimeoutMs: 5_000 }, 'timeoutMs: must not exceed maxTimeoutMs (5000); raise maxTimeoutMs too, or lower timeoutMs (got 6000)'],
  [
    { memoryLimitMb: 64, maxMemoryLimitMb: 32 },
    'memoryLimitMb: must not exceed maxMemoryLimitMb (32); raise maxMemoryLimitMb too, or lower memoryLimitMb (got 64)',
  ],
  [{ cpus: 2, maxCpus: 1 }, 'cpus: must not exceed maxCpus (1); raise maxCpus too, or lower cpus (got 2)'],
  // Over the default maximum (600000): the value was given, so it is checked.
  [{ timeoutMs: 700_000 }, 'timeoutMs: must not exceed maxTimeoutMs (600000); raise maxTimeoutMs too, or lower timeoutMs (got 700000)'],
];

for (const [options, message] of overMaxima) {
  test(`an explicit value over its maximum is refused: ${JSON.stringify(options)}`, () => {
    assert.throws(
      () => new Sandbox(options),
      (error: unknown) => {
        assert.ok(error instanceof SandboxOptionsError);
        assert.equal(error.issues.length, 1);
        assert.equal(`${error.issues[0]?.path}: ${error.issues[0]?.message}`, message);
        return true;
      },
    );
  });
}

test('under runsc a pidsLimit below 128 is refused at construction, naming the minimum (gVisor could not start)', () => {
  for (const pidsLimit of [8, 10, 64, 127]) {
    assert.throws(
      () => new Sandbox({ runtime: 'runsc', pidsLimit }),
      (error: unknown) => {
        assert.ok(error instanceof SandboxOptionsError);
        assert.equal(error.issues.length, 1);
        assert.equal(error.issues[0]?.path, 'pidsLimit');
        const message = error.issues[0]?.message ?? '';
        assert.match(
          message,
          /^must be at least 128 under runtime "runsc" \(gVisor's own threads count against it; smaller limits fail to start the container/,
        );
        assert.match(message, /leave it out for the default 256/);
        assert.ok(message.endsWith(`(got ${pidsLimit})`), message);
        return true;
      },
    );
  }
  assert.equal(MIN_RUNSC_PIDS_LIMIT, 128);
  assert.equal(new Sandbox({ runtime: 'runsc', pidsLimit: 128 }).options.pidsLimit, 128);
  // runsc's own default passes, and runc keeps small limits (there the program's threads are all it counts).
  assert.equal(new Sandbox({ runtime: 'runsc' }).options.pidsLimit, DEFAULT_PIDS_LIMIT.runsc);
  assert.equal(DEFAULT_PIDS_LIMIT.runsc, 256);
  assert.equal(new Sandbox({ pidsLimit: 10 }).options.pidsLimit, 10);
  assert.equal(new Sandbox({ runtime: 'runc', pidsLimit: 10 }).options.pidsLimit, 10);
});

// Values the caller did not give are described as such: a message never says "got undefined".
const neverUndefined: Array<[string, () => unknown]> = [
  ['Sandbox options 5', () => parseSandboxOptions(5)],
  ['Sandbox options []', () => parseSandboxOptions([])],
  ['maxTimeoutMs 0 with timeoutMs undefined', () => parseSandboxOptions({ timeoutMs: undefined, maxTimeoutMs: 0 })],
  ['timeoutMs over maxTimeoutMs', () => parseSandboxOptions({ timeoutMs: 6_000, maxTimeoutMs: 5_000 })],
  ['cpus over maxCpus', () => parseSandboxOptions({ cpus: 2, maxCpus: 1 })],
  ['runsc with pidsLimit 10', () => parseSandboxOptions({ runtime: 'runsc', pidsLimit: 10 })],
  ['preload [undefined]', () => parseSandboxOptions({ preload: [undefined] })],
  ['poolSize null', () => parseSandboxOptions({ poolSize: null })],
  ['cpus NaN', () => parseSandboxOptions({ cpus: Number.NaN })],
  ['run()', () => parseRunParams(undefined, parseSandboxOptions({}))],
  ['run(null)', () => parseRunParams(null, parseSandboxOptions({}))],
  ['run({})', () => parseRunParams({}, parseSandboxOptions({}))],
  ['run({ code: undefined })', () => parseRunParams({ code: undefined }, parseSandboxOptions({}))],
  ['a file without contents', () => parseRunParams({ code: '', files: { 'a.txt': undefined } }, parseSandboxOptions({}))],
  ['an env var without a value', () => parseRunParams({ code: '', env: { A: undefined } }, parseSandboxOptions({}))],
  ['argv [undefined]', () => parseRunParams({ code: '', argv: [undefined] }, parseSandboxOptions({}))],
  ['collect [undefined]', () => parseRunParams({ code: '', collect: [undefined] }, parseSandboxOptions({}))],
  ['removeOrphans options 5', () => parseRemoveOrphansOptions(5)],
  ['removeOrphans with a bad all and dockerPath', () => parseRemoveOrphansOptions({ all: 'x', dockerPath: '' })],
];

for (const [what, parse] of neverUndefined) {
  test(`the message for ${what} never says "undefined"`, () => {
    assert.throws(parse, (error: unknown) => {
      assert.ok(error instanceof SandboxError, String(error));
      assert.doesNotMatch(error.message, /undefined/);
      return true;
    });
  });
}

test('a run without code says code is not given', () => {
  assert.throws(
    () => parseRunParams({}, parseSandboxOptions({})),
    (error: unknown) => {
      assert.ok(error instanceof RunParamsError);
      assert.deepEqual(error.issues, [{ path: 'code', message: 'must be a string of Python code (not given)' }]);
      return true;
    },
  );
});

test('options that are not an object are refused', () => {
  assert.throws(() => parseSandboxOptions(5), /Invalid Sandbox options:\n {2}- \(root\): .*expected object/);
});

test('run params: a string is the code; an object may set timeoutMs', () => {
  const defaults = parseSandboxOptions({ timeoutMs: 1234 });
  const none = {
    files: new Map(),
    memoryLimitMb: 50,
    cpus: 1,
    stdin: undefined,
    argv: [],
    env: {},
    collect: [],
    onStdout: undefined,
    onStderr: undefined,
    signal: undefined,
  };
  assert.deepEqual(parseRunParams('print(1)', defaults), { code: 'print(1)', timeoutMs: 1234, ...none });
  assert.deepEqual(parseRunParams({ code: 'x', timeoutMs: 99 }, defaults), { code: 'x', timeoutMs: 99, ...none });
  const stdin = parseRunParams({ code: 'x', stdin: 'héllo', argv: ['-v'], env: { MODE: 'a' } }, defaults);
  assert.deepEqual([stdin.stdin, stdin.argv, stdin.env], [Buffer.from('héllo'), ['-v'], { MODE: 'a' }]);
});

const badParams: Array<[unknown, RegExp]> = [
  [undefined, /\(root\): must be a code string or \{ code, timeoutMs\?, stdin\?, \.\.\. \} \(not given\)/],
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
  [{}, /code: must be a string of Python code \(not given\)/],
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

test('engines: each engine gets its pool; poolSize is their total; dockerHost or context alone is one engine named "default"', () => {
  const options = parseSandboxOptions({
    engines: [
      { name: 'a', dockerHost: 'ssh://sandbox@a.example' },
      { name: 'b', context: 'build-box', poolSize: 3 },
    ],
  });
  assert.equal(options.poolSize, 4);
  assert.deepEqual(options.engines, [
    { name: 'a', dockerHost: 'ssh://sandbox@a.example', poolSize: 1 },
    { name: 'b', context: 'build-box', poolSize: 3 },
  ]);
  assert.equal(options.dockerHost, undefined);
  assert.deepEqual(parseSandboxOptions({ dockerHost: 'tcp://h:2376', poolSize: 2 }).engines, [{ name: 'default', dockerHost: 'tcp://h:2376', poolSize: 2 }]);
  assert.deepEqual(parseSandboxOptions({ context: 'remote' }).engines, [{ name: 'default', context: 'remote', poolSize: 1 }]);
  assert.equal(parseSandboxOptions({}).inputTransfer, 'auto');
});

const badEngineOptions: Array<[string, Record<string, unknown>, string, RegExp]> = [
  ['engines with dockerHost', { engines: [{ name: 'a' }], dockerHost: 'unix:///x.sock' }, 'dockerHost', /must not be given with engines/],
  ['engines with poolSize', { engines: [{ name: 'a' }], poolSize: 2 }, 'poolSize', /must not be given with engines; set each engine's poolSize/],
  ['engines with context', { engines: [{ name: 'a' }], context: 'x' }, 'context', /must not be given with engines/],
  ['a name used twice', { engines: [{ name: 'a' }, { name: 'a' }] }, 'engines.1.name', /must be unique; "a" is named twice/],
  [
    'an engine with dockerHost and context',
    { engines: [{ name: 'a', dockerHost: 'unix:///x.sock', context: 'x' }] },
    'engines.0.context',
    /not be given with dockerHost/,
  ],
  ['an engine without a name', { engines: [{ dockerHost: 'unix:///x.sock' }] }, 'engines.0.name', /must be a name of letters/],
  [
    'an unknown engine key',
    { engines: [{ name: 'a', host: 'x' }] },
    'engines.0.host',
    /engines\.0\.host: is not a known key here; known keys are name, dockerHost, context, poolSize/,
  ],
  ['no engines', { engines: [] }, 'engines', /at least one engine/],
  [
    'an engine with a bad address',
    { engines: [{ name: 'a', dockerHost: 'http://box:2375' }] },
    'engines.0.dockerHost',
    /has the scheme http:\/\/; use unix:\/\//,
  ],
  ['dockerHost with context', { dockerHost: 'unix:///x.sock', context: 'x' }, 'context', /not be given with dockerHost/],
  ['a bad inputTransfer', { inputTransfer: 'scp' }, 'inputTransfer', /must be "auto", "mount" or "stdin"/],
];

for (const [what, input, path, message] of badEngineOptions) {
  test(`${what} throws SandboxOptionsError naming ${path}`, () => {
    assert.throws(
      () => parseSandboxOptions(input),
      (error: unknown) => {
        assert.ok(error instanceof SandboxOptionsError);
        const issue = error.issues.find((candidate) => candidate.path === path || candidate.path.startsWith(`${path}.`) || path.startsWith(candidate.path));
        assert.ok(issue, `an issue at ${path}: ${error.message}`);
        assert.match(error.message, message);
        return true;
      },
    );
  });
}

test('a password in an engine address is refused and never printed back', () => {
  assert.throws(
    () => parseSandboxOptions({ dockerHost: 'ssh://me:s3cret@box' }),
    (error: unknown) => {
      assert.ok(error instanceof SandboxOptionsError);
      assert.doesNotMatch(error.message, /s3cret/);
      assert.match(error.message, /ssh:\/\/me:\*\*\*@box/);
      return true;
    },
  );
});
