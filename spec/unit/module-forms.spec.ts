/**
 * Version 1 users wrote `const Sandbox = require('docker-python-sandbox')`. The built package must
 * still give them the class that way (Node's require() of an ES module), and named imports too.
 * Runs against dist/, which `npm test` builds first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

test('require() returns the Sandbox class, as in version 1', () => {
  const script = `const Sandbox = require(${JSON.stringify(DIST)}); const s = new Sandbox({ poolSize: 2 });` +
    'process.stdout.write(JSON.stringify([typeof Sandbox, Sandbox.name, s.options.poolSize, typeof s.initialize, typeof s.run]))';
  const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(output), ['function', 'Sandbox', 2, 'function', 'function']);
});

test('import gives the class as default and named export, with the error classes', () => {
  const script = `import(${JSON.stringify(DIST)}).then((m) => process.stdout.write(JSON.stringify(` +
    '[m.default === m.Sandbox, typeof m.SandboxOptionsError, typeof m.EngineUnavailableError])))';
  const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(output), [true, 'function', 'function']);
});
