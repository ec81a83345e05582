/**
 * `collect`: files the program leaves in its work dir come back in `result.files`, capped by
 * `maxCollectBytes`, with what did not come back listed in `result.skippedFiles`; on the real
 * engine, under runc and (where registered) gVisor.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { RunParamsError } from '../../lib/index.js';
import { quietStats, runtimeMissing, startSandbox } from '../helpers/engine.js';

const WRITE_TREE = `
import os
os.makedirs('out/deep', exist_ok=True)
open('report.txt', 'w').write('total: 42\\n')
open('notes.md', 'w').write('not asked for')
open('.hidden.txt', 'w').write('a wildcard does not match a leading dot')
open('out/a.csv', 'w').write('a,b\\n1,2\\n')
open('out/deep/blob.bin', 'wb').write(bytes(range(256)) * 4)
os.makedirs('data/x', exist_ok=True)
open('data/x/y.txt', 'w').write('y')
`;

for (const runtime of [undefined, 'runsc'] as const) {
  const label = runtime ?? 'runc';
  test(`collect brings back the files its paths and globs match, byte for byte (${label})`, async (t) => {
    const missing = await runtimeMissing(runtime);
    if (missing !== undefined) return t.skip(`runtime ${runtime} is not usable here: ${missing}`);
    const sandbox = await startSandbox(t, runtime === undefined ? {} : { runtime });
    const result = await sandbox.run({ code: WRITE_TREE, collect: ['*.txt', 'out/**', 'data', 'missing-*.png'] });
    assert.equal(result.status, 'ok', result.stderr);
    assert.deepEqual(Object.keys(result.files).sort(), ['data/x/y.txt', 'out/a.csv', 'out/deep/blob.bin', 'report.txt']);
    assert.equal(result.files['report.txt']!.toString(), 'total: 42\n');
    assert.equal(result.files['out/a.csv']!.toString(), 'a,b\n1,2\n');
    assert.ok(result.files['out/deep/blob.bin']!.equals(Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256))));
    assert.deepEqual(result.skippedFiles, []);
  });
}

test('a 5 MB file over a 1 MB collect cap is listed in skippedFiles with the reason; smaller files still come back', async (t) => {
  const sandbox = await startSandbox(t, { maxCollectBytes: 1024 * 1024 });
  const result = await sandbox.run({
    code: "open('big.bin', 'wb').write(b'x' * 5_000_000)\nopen('small.txt', 'w').write('fits')",
    collect: ['*'],
  });
  assert.equal(result.status, 'ok', result.stderr);
  assert.deepEqual(Object.keys(result.files), ['small.txt']);
  assert.equal(result.files['small.txt']!.toString(), 'fits');
  assert.equal(result.skippedFiles.length, 1);
  assert.equal(result.skippedFiles[0]!.path, 'big.bin');
  assert.match(result.skippedFiles[0]!.reason, /5000000 bytes would exceed maxCollectBytes \(1048576 bytes/);
});

test('collected files fill the cap in path order: exactly what fits comes back, the rest is listed', async (t) => {
  const sandbox = await startSandbox(t, { maxCollectBytes: 250_000 });
  const result = await sandbox.run({
    code: "import os\nfor i in range(5):\n    open(f'part{i}.bin', 'wb').write(os.urandom(100_000))\nimport hashlib\nfor i in range(5):\n    print(hashlib.sha256(open(f'part{i}.bin', 'rb').read()).hexdigest())",
    collect: ['part*.bin'],
  });
  const digests = result.stdout.trim().split('\n');
  assert.deepEqual(Object.keys(result.files), ['part0.bin', 'part1.bin']);
  assert.equal(createHash('sha256').update(result.files['part0.bin']!).digest('hex'), digests[0]);
  assert.equal(createHash('sha256').update(result.files['part1.bin']!).digest('hex'), digests[1]);
  assert.deepEqual(
    result.skippedFiles.map((file) => file.path),
    ['part2.bin', 'part3.bin', 'part4.bin'],
  );
});

test('symbolic links are never followed: not out of the work dir, not inside it', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run({
    code: "import os\nos.symlink('/etc/passwd', 'passwd')\nos.symlink('/etc', 'etc')\nopen('real.txt', 'w').write('r')\nos.symlink('real.txt', 'alias.txt')",
    collect: ['*', 'etc/**'],
  });
  assert.deepEqual(Object.keys(result.files), ['real.txt']);
  assert.deepEqual(result.skippedFiles, [
    { path: 'alias.txt', reason: 'is a symbolic link (not followed)' },
    { path: 'etc', reason: 'is a symbolic link (not followed)' },
    { path: 'passwd', reason: 'is a symbolic link (not followed)' },
  ]);
});

test('a process the program left behind cannot spoil the files or the output after the program ends', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run({
    code: [
      'import subprocess',
      "open('result.txt', 'w').write('final')",
      "print('done')",
      // A daemon that keeps printing and rewriting the file after the program has exited.
      "subprocess.Popen(['sh', '-c', 'while true; do echo spam; echo junk > result.txt; done'])",
    ].join('\n'),
    collect: ['result.txt'],
  });
  assert.equal(result.status, 'ok', result.stderr);
  assert.match(result.stdout, /^done\n/);
  assert.ok(['final', 'junk\n', ''].includes(result.files['result.txt']!.toString()), `got ${JSON.stringify(result.files['result.txt']?.toString())}`);
  assert.deepEqual(result.skippedFiles, []);
});

test('a run stopped at its time limit lists its patterns as not collected', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run({ code: "open('x.txt', 'w').write('x')\nwhile True: pass", timeoutMs: 500, collect: ['*.txt', 'out/**'] });
  assert.equal(result.status, 'timeout');
  assert.deepEqual(result.files, {});
  assert.deepEqual(
    result.skippedFiles.map((file) => file.path),
    ['*.txt', 'out/**'],
  );
  assert.match(result.skippedFiles[0]!.reason, /not collected: the program was stopped at its time limit/);
});

test('a run without collect has empty files and skippedFiles', async (t) => {
  const sandbox = await startSandbox(t);
  const result = await sandbox.run("open('x.txt', 'w').write('x')");
  assert.deepEqual(result.files, {});
  assert.deepEqual(result.skippedFiles, []);
});

test('collect patterns that are absolute or escape the work dir reject with RunParamsError and use no container', async (t) => {
  const sandbox = await startSandbox(t);
  for (const [pattern, message] of [
    ['/etc/passwd', /collect\.0: must be relative to the work dir/],
    ['../*', /collect\.0: must stay inside the work dir/],
    ['out/../../x', /collect\.0: must stay inside the work dir/],
  ] as const) {
    await assert.rejects(sandbox.run({ code: 'print(1)', collect: [pattern] }), (error: unknown) => {
      assert.ok(error instanceof RunParamsError);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.deepEqual(sandbox.stats(), quietStats(1));
});
