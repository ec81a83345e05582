/** `preload`: modules each warm container imports before it is ready, on the real engine. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContainerStartError, Sandbox } from '../../lib/index.js';
import { labelledContainers, startSandbox } from '../helpers/engine.js';
import { withTestEngine } from '../helpers/engine-flavour.js';

test('preloaded modules are already imported when the program starts', async (t) => {
  const code = "import sys\nprint('decimal' in sys.modules, 'fractions' in sys.modules)";
  const plain = await startSandbox(t);
  const preloaded = await startSandbox(t, { preload: ['decimal', 'fractions'] });
  assert.equal((await plain.run(code)).stdout, 'False False\n');
  assert.equal((await preloaded.run(code)).stdout, 'True True\n');
});

test('a module the image lacks fails initialize with ContainerStartError naming it, and leaves no container', async (t) => {
  const sandbox = new Sandbox(withTestEngine({ preload: ['no_such_module_here'] }));
  t.after(() => sandbox.cleanup());
  await assert.rejects(sandbox.initialize(), (error: unknown) => {
    assert.ok(error instanceof ContainerStartError);
    assert.match(error.message, /preload: cannot import no_such_module_here \(ModuleNotFoundError/);
    return true;
  });
  assert.deepEqual(await labelledContainers(sandbox.id), []);
});

test('preload must be a list of module names', () => {
  assert.throws(() => new Sandbox({ preload: ['os; import evil'] }), /preload\.0: must be a module name/);
});
