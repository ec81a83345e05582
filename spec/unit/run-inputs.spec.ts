/** A run's input files, decided once, then written for the mount path or packed for the stdin path (no Docker). */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MAX_COLLECT_HEADER_BYTES } from '../../lib/runner/collected-files.js';
import { goLine } from '../../lib/runner/loader.js';
import { packRunEntries, runEntries, writeRunEntries } from '../../lib/runner/run-inputs.js';

test('a run with only code has one entry and no inputs file', () => {
  const { entries, staged } = runEntries('print(1)', {});
  assert.deepEqual(
    entries.map((entry) => [entry.path, entry.content.toString()]),
    [['main.py', 'print(1)']],
  );
  assert.deepEqual(staged, { codePath: '/sandbox-in/main.py', inputsPath: undefined });
});

test('stdin, files, argv, env and collect become entries: the code first, the inputs file last, naming the others by their container paths', () => {
  const files = new Map([
    ['data/in.csv', Buffer.from('a,b')],
    ['model.bin', Buffer.from([0, 1, 2])],
  ]);
  const { entries, staged } = runEntries('code', {
    stdin: Buffer.from('in'),
    files,
    argv: ['-v'],
    env: { MODE: 'x' },
    collect: { patterns: ['*.png'], maxBytes: 100 },
  });
  assert.deepEqual(
    entries.map((entry) => entry.path),
    ['main.py', 'stdin', 'files/data/in.csv', 'files/model.bin', 'inputs.json'],
  );
  assert.equal(entries[2]?.content, files.get('data/in.csv'), 'file contents are not copied');
  assert.deepEqual(JSON.parse(entries.at(-1)!.content.toString()), {
    argv: ['-v'],
    env: { MODE: 'x' },
    stdin: '/sandbox-in/stdin',
    files: '/sandbox-in/files',
    collect: { patterns: ['*.png'], maxBytes: 100, maxFiles: 1000, maxHeaderBytes: MAX_COLLECT_HEADER_BYTES },
  });
  assert.equal(staged.inputsPath, '/sandbox-in/inputs.json');
});

test('the mount path writes the entries as files (dirs 0755, files 0644); the stdin path packs the same entries behind a header', async (t) => {
  const { entries } = runEntries('print(2)', { stdin: Buffer.from('abc'), files: new Map([['d/e/f.txt', Buffer.from('deep')]]) });
  const dir = await mkdtemp(join(tmpdir(), 'dps-run-inputs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeRunEntries(dir, entries);
  assert.deepEqual((await readdir(dir, { recursive: true })).sort(), ['files', 'files/d', 'files/d/e', 'files/d/e/f.txt', 'inputs.json', 'main.py', 'stdin']);
  assert.equal(await readFile(join(dir, 'files/d/e/f.txt'), 'utf8'), 'deep');
  assert.equal((await stat(join(dir, 'main.py'))).mode & 0o777, 0o644 & ~process.umask());
  assert.equal((await stat(join(dir, 'files/d'))).mode & 0o777, 0o755 & ~process.umask());

  const packed = packRunEntries(entries);
  const payload = Buffer.concat(packed.chunks);
  assert.equal(packed.bytes, payload.length);
  const newline = payload.indexOf('\n');
  const header = JSON.parse(payload.subarray(0, newline).toString()) as { root: string; entries: [string, number][] };
  assert.equal(header.root, '/sandbox-in');
  assert.deepEqual(
    header.entries,
    entries.map((entry) => [entry.path, entry.content.length]),
  );
  let offset = newline + 1;
  for (const [path, size] of header.entries) {
    assert.deepEqual(payload.subarray(offset, offset + size), await readFile(join(dir, path)), `${path}: the same bytes on both paths`);
    offset += size;
  }
  assert.equal(offset, payload.length);
});

test('the go line carries the payload length and the loader deadlines', () => {
  const line = goLine({
    nonce: 'n',
    codePath: '/sandbox-in/main.py',
    inputsPath: undefined,
    payloadBytes: 42,
    runDeadlineMs: 15_000.4,
    reportDeadlineMs: 35_000,
  });
  assert.equal(line, 'n /sandbox-in/main.py - 42 15001 35000\n');
});
