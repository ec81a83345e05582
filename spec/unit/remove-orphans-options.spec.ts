/**
 * removeOrphans() options: `context` is checked like the Sandbox's, and never given with `dockerHost`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SandboxOptionsError } from '../../lib/errors.js';
import { parseRemoveOrphansOptions } from '../../lib/options.js';

test('removeOrphans options: a context, or a dockerHost, but not both; a context must look like a context name', () => {
  assert.deepEqual(parseRemoveOrphansOptions({ context: 'build-2' }), { dockerPath: 'docker', context: 'build-2' });
  assert.deepEqual(parseRemoveOrphansOptions({ dockerHost: 'ssh://sandbox@build-2' }), { dockerPath: 'docker', dockerHost: 'ssh://sandbox@build-2' });
  assert.throws(
    () => parseRemoveOrphansOptions({ dockerHost: 'unix:///var/run/docker.sock', context: 'build-2' }),
    (error: unknown) => error instanceof SandboxOptionsError && /context: must not be given with dockerHost; give one of them/.test(error.message),
  );
  assert.throws(
    () => parseRemoveOrphansOptions({ context: 'two words' }),
    (error: unknown) =>
      error instanceof SandboxOptionsError && /context: must be a Docker context name \(see `docker context ls`\) \(got 'two words'\)/.test(error.message),
  );
});
