/** The host's reading of the collected-files section, which comes from inside the sandbox. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCollectedFiles } from '../../lib/runner/collected-files.js';

const PATTERNS = ['*.txt'];

function section(header: unknown, ...contents: string[]): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...contents.map((content) => Buffer.from(content))]);
}

test('a well-formed section gives the files in order and the skipped list', () => {
  const parsed = parseCollectedFiles(
    section(
      {
        files: [
          ['a.txt', 3],
          ['d/b.txt', 2],
        ],
        skipped: [['c.txt', 'too big']],
      },
      'abc',
      'de',
    ),
    100,
    PATTERNS,
  );
  assert.deepEqual(Object.fromEntries(Object.entries(parsed.files).map(([path, content]) => [path, content.toString()])), { 'a.txt': 'abc', 'd/b.txt': 'de' });
  assert.deepEqual(parsed.skippedFiles, [{ path: 'c.txt', reason: 'too big' }]);
});

test('names that are absolute or climb out are refused, not handed to the caller', () => {
  const parsed = parseCollectedFiles(
    section(
      {
        files: [
          ['../evil', 1],
          ['/etc/x', 1],
          ['ok.txt', 1],
        ],
        skipped: [],
      },
      'a',
      'b',
      'c',
    ),
    100,
    PATTERNS,
  );
  assert.deepEqual(Object.keys(parsed.files), ['ok.txt']);
  assert.deepEqual(
    parsed.skippedFiles.map((file) => file.path),
    ['../evil', '/etc/x'],
  );
  assert.match(parsed.skippedFiles[0]!.reason, /name the host does not accept/);
});

test('a file named __proto__ is an ordinary own property', () => {
  const parsed = parseCollectedFiles(section({ files: [['__proto__', 1]], skipped: [] }, 'p'), 100, PATTERNS);
  assert.deepEqual(Object.keys(parsed.files), ['__proto__']);
  assert.equal(Object.getPrototypeOf(parsed.files), Object.prototype);
});

test('sizes that do not add up, a total over the cap, or a malformed list: nothing is taken, every pattern is listed', () => {
  const cases = [
    section({ files: [['a.txt', 5]], skipped: [] }, 'abc'),
    section({ files: [['a.txt', 1]], skipped: [] }, 'abc'),
    section({ files: [['a.txt', 200]], skipped: [] }, 'x'.repeat(200)),
    section({ files: [['a.txt', -1]], skipped: [] }),
    section({ files: 'a.txt', skipped: [] }),
    Buffer.from('not json\n'),
    Buffer.from('{"files": [], "skipped": []}'),
  ];
  for (const [index, bytes] of cases.entries()) {
    const parsed = parseCollectedFiles(bytes, 100, ['*.txt', 'out/**']);
    assert.deepEqual(parsed.files, {}, `case ${index}`);
    assert.deepEqual(
      parsed.skippedFiles.map((file) => file.path),
      ['*.txt', 'out/**'],
      `case ${index}`,
    );
    assert.match(parsed.skippedFiles[0]!.reason, /^could not be collected: /, `case ${index}`);
  }
});
