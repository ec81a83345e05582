/**
 * Version 1 users wrote `const Sandbox = require('docker-python-sandbox')`. The built package must
 * still give them the class that way (Node's require() of an ES module, unflagged from Node 20.19),
 * with every named export on it, and named imports too. Runs against dist/, which `npm test`
 * builds first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

test('require() returns the Sandbox class, as in version 1', () => {
  const script =
    `const Sandbox = require(${JSON.stringify(DIST)}); const s = new Sandbox({ poolSize: 2 });` +
    'process.stdout.write(JSON.stringify([typeof Sandbox, Sandbox.name, s.options.poolSize, typeof s.initialize, typeof s.run]))';
  const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(output), ['function', 'Sandbox', 2, 'function', 'function']);
});

test('import gives the class as default and named export, with the error classes', () => {
  const script =
    `import(${JSON.stringify(DIST)}).then((m) => process.stdout.write(JSON.stringify(` +
    '[m.default === m.Sandbox, typeof m.SandboxOptionsError, typeof m.EngineUnavailableError])))';
  const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(output), [true, 'function', 'function']);
});

/** Runs a CommonJS script in a fresh node (`-e` is CommonJS) and parses the JSON it writes. */
function fromCommonJs(script: string): unknown {
  const output = execFileSync(process.execPath, ['-e', `const m = require(${JSON.stringify(DIST)});\n${script}`], { encoding: 'utf8' });
  return JSON.parse(output);
}

test('from CommonJS, .Sandbox is the class itself, the same one ESM imports, named "Sandbox"', () => {
  const script =
    `import(${JSON.stringify(DIST)}).then((esm) => { const s = new m.Sandbox({ poolSize: 1 }); process.stdout.write(JSON.stringify([` +
    'm.Sandbox === m, m.Sandbox === esm.Sandbox, esm.default === m, m.Sandbox.name, ' +
    's instanceof m, s instanceof esm.Sandbox, s.constructor === esm.default, new m().constructor === m.Sandbox])) })';
  assert.deepEqual(fromCommonJs(script), [true, true, true, 'Sandbox', true, true, true, true]);
});

test('from CommonJS, every runtime export of the ESM entry is there, and the very same value', () => {
  const script =
    `import(${JSON.stringify(DIST)}).then((esm) => { ` +
    "const esmNames = Object.keys(esm).filter((name) => name !== 'default' && name !== 'module.exports').sort(); " +
    'process.stdout.write(JSON.stringify({ esmNames, cjsNames: Object.keys(m).sort(), differing: esmNames.filter((name) => m[name] !== esm[name]) })) })';
  const { esmNames, cjsNames, differing } = fromCommonJs(script) as { esmNames: string[]; cjsNames: string[]; differing: string[] };
  assert.deepEqual(cjsNames, esmNames);
  assert.deepEqual(differing, []);
  // The list is not trivially empty: the classes, the label and removeOrphans are all in it.
  for (const name of [
    'Sandbox',
    'SandboxError',
    'SandboxOptionsError',
    'RunParamsError',
    'EngineUnavailableError',
    'QueueTimeoutError',
    'CONTAINER_LABEL',
    'removeOrphans',
  ]) {
    assert.ok(cjsNames.includes(name), `${name} is missing from require()`);
  }
});

test('from CommonJS, removeOrphans is a function, CONTAINER_LABEL the label, and every error class a SandboxError class', () => {
  const script =
    "const errorNames = Object.keys(m).filter((name) => name.endsWith('Error'));" +
    'process.stdout.write(JSON.stringify({ removeOrphans: typeof m.removeOrphans, label: m.CONTAINER_LABEL, errorNames, ' +
    'notErrors: errorNames.filter((name) => !(typeof m[name] === "function" && (m[name] === m.SandboxError || m[name].prototype instanceof m.SandboxError))) }))';
  const { removeOrphans, label, errorNames, notErrors } = fromCommonJs(script) as {
    removeOrphans: string;
    label: string;
    errorNames: string[];
    notErrors: string[];
  };
  assert.equal(removeOrphans, 'function');
  assert.equal(label, 'docker-python-sandbox');
  assert.equal(errorNames.length, 13);
  assert.deepEqual(notErrors, []);
});

test('from CommonJS, bad options throw the SandboxOptionsError that require() exposes', () => {
  const script =
    'try { new m.Sandbox({ poolSize: 0 }); process.stdout.write(JSON.stringify("did not throw")); } catch (error) {' +
    ' process.stdout.write(JSON.stringify([error instanceof m.SandboxOptionsError, error instanceof m.SandboxError, error.code, error.issues[0].path])); }';
  assert.deepEqual(fromCommonJs(script), [true, true, 'ERR_SANDBOX_OPTIONS', 'poolSize']);
});

test("the package's ./server subpath gives createServer and createHandler (the name resolves through package.json's exports)", () => {
  const script =
    "import('docker-python-sandbox/server').then((m) => process.stdout.write(JSON.stringify(" +
    '[typeof m.createServer, typeof m.createHandler, typeof m.ServiceOptionsError])))';
  const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  assert.deepEqual(JSON.parse(output), ['function', 'function', 'function']);
});
