/**
 * doctor computes the image content hash that scripts/build-image.sh labels images with. This spec
 * runs the script's own recipe (its hash_inputs functions, extra_packages and hash= line, cut out of
 * the script text, so a change there is a change here) in bash, and compares: on this repository,
 * and on a made-up package whose names sort differently bytewise than by locale.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { expectedImageHash, type ImageFlavour } from '../../lib/doctor/image-hash.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = await readFile(join(REPO, 'scripts/build-image.sh'), 'utf8');

/** The script's hash recipe for a flavour, as a bash program that prints the hash for the package at `root`. */
function scriptRecipe(flavour: ImageFlavour, root: string, env: { DPS_BASE?: string; DPS_DEBIAN_SUITE?: string } = {}): string {
  const [latest, scientific] = [...SCRIPT.matchAll(/hash_inputs\(\) \{[\s\S]*?; \}\n/g)].map((match) => match[0]);
  const packages = /^\s*extra_packages="[^"]*"$/m.exec(SCRIPT)?.[0];
  const hashLine = /^hash=\$\(.*\)$/m.exec(SCRIPT)?.[0];
  assert.ok(
    latest !== undefined && scientific !== undefined && packages !== undefined && hashLine !== undefined,
    'the recipe is found in scripts/build-image.sh',
  );
  return [
    'set -euo pipefail',
    `cd ${JSON.stringify(root)}`,
    `base=${JSON.stringify(env.DPS_BASE ?? 'python:3.12-slim')}`,
    `fallback_base=docker-python-sandbox-base:bookworm-scientific`,
    `suite=${JSON.stringify(env.DPS_DEBIAN_SUITE ?? 'bookworm')}`,
    flavour === 'latest' ? 'extra_packages=' : packages.trim(),
    flavour === 'latest' ? latest : scientific,
    hashLine,
    'echo "$hash"',
  ].join('\n');
}

async function scriptHash(flavour: ImageFlavour, root: string, env: { DPS_BASE?: string; DPS_DEBIAN_SUITE?: string } = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['-c', scriptRecipe(flavour, root, env)], { env: { ...process.env, LC_ALL: 'C' } });
  return stdout.trim();
}

test("this package's image/ dir: doctor's hash is the script's, for both flavours", async () => {
  for (const flavour of ['latest', 'scientific'] as const) {
    const expected = await scriptHash(flavour, REPO);
    assert.match(expected, /^[0-9a-f]{16}$/);
    assert.equal(await expectedImageHash(REPO, flavour, {}), expected, flavour);
  }
});

test('a package with hidden files, spaces, nested dirs and mixed case; DPS_BASE and DPS_DEBIAN_SUITE count', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'dps-image-hash-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'image/Dockerfile': 'FROM scratch\n',
    'image/.dockerignore': '*.pyc\n',
    'image/a b/c.txt': 'spaced\n',
    'image/Zeta': 'upper case sorts first bytewise\n',
    'image/alpha/beta/gamma.py': 'print(1)\n',
    'image/scientific/Dockerfile': 'FROM base\n',
    'image/scientific/warmup.py': 'pass\n',
    'image/scientific/fonts/x.cache': 'cache\n',
    'scripts/build-image.sh': SCRIPT,
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  for (const flavour of ['latest', 'scientific'] as const) {
    assert.equal(await expectedImageHash(root, flavour, {}), await scriptHash(flavour, root), flavour);
  }
  const env = { DPS_BASE: 'debian:bookworm', DPS_DEBIAN_SUITE: 'trixie' };
  assert.equal(await expectedImageHash(root, 'latest', env), await scriptHash('latest', root, env));
  assert.equal(await expectedImageHash(root, 'scientific', env), await scriptHash('scientific', root, env));
  assert.notEqual(await expectedImageHash(root, 'latest', env), await expectedImageHash(root, 'latest', {}));
});
