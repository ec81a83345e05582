/** How doctor prints its checks: the table (with and without colour), JSON, and when colour is used. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failed, passed } from '../../lib/doctor/check.js';
import { renderJson, renderTable, useColor } from '../../lib/doctor/render.js';

const CHECKS = [
  passed('docker CLI', 'Docker version 28.2.2, build e6534b4'),
  failed('engine', 'no engine answers at unix:///nonexistent.sock', 'Start the engine.'),
  passed('memory limit', 'OOM-killed'),
];

test('the table: one line per check with names in one column, the fix under a failure, a summary', () => {
  assert.equal(
    renderTable(CHECKS, { color: false }),
    [
      'PASS  docker CLI    Docker version 28.2.2, build e6534b4',
      'FAIL  engine        no engine answers at unix:///nonexistent.sock',
      '                    fix: Start the engine.',
      'PASS  memory limit  OOM-killed',
      '1 of 3 checks failed',
      '',
    ].join('\n'),
  );
  assert.equal(renderTable([CHECKS[0]!], { color: false }).split('\n').at(-2), 'all 1 checks passed');
});

test('colour marks PASS green and FAIL red, and only when asked', () => {
  const coloured = renderTable(CHECKS, { color: true });
  const ESC = '\u001b';
  assert.ok(coloured.includes(`${ESC}[32mPASS${ESC}[0m  docker CLI`), coloured);
  assert.ok(coloured.includes(`${ESC}[31mFAIL${ESC}[0m  engine`), coloured);
  assert.ok(!renderTable(CHECKS, { color: false }).includes(ESC));
});

test('colour only on a terminal, never with NO_COLOR set or on a dumb terminal', () => {
  assert.equal(useColor({ isTTY: true }, {}), true);
  assert.equal(useColor({ isTTY: false }, {}), false);
  assert.equal(useColor({}, {}), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
  assert.equal(useColor({ isTTY: true }, { TERM: 'dumb' }), false);
});

test('JSON: {"checks": [{name, ok, detail, fix}]}, fix null for a pass', () => {
  assert.deepEqual(JSON.parse(renderJson(CHECKS)), {
    checks: [
      { name: 'docker CLI', ok: true, detail: 'Docker version 28.2.2, build e6534b4', fix: null },
      { name: 'engine', ok: false, detail: 'no engine answers at unix:///nonexistent.sock', fix: 'Start the engine.' },
      { name: 'memory limit', ok: true, detail: 'OOM-killed', fix: null },
    ],
  });
  assert.ok(renderJson(CHECKS).endsWith('}\n'));
});
