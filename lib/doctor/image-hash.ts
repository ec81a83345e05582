/**
 * The content hash scripts/build-image.sh labels each image it builds with
 * (`docker-python-sandbox.image-hash`), computed here the same way from the package's own image/
 * dir and script, so that doctor can tell an image built from this version of the package from a
 * stale one. The script's recipe, which this mirrors:
 *
 *   hash=$( { hash_inputs; sha256sum scripts/build-image.sh; } | sha256sum | cut -c1-16)
 *
 * where hash_inputs prints `sha256sum` lines (`<hex>  ./path`) of the flavour's files, found from
 * inside image/ and sorted bytewise (LC_ALL=C sort -z), then one line naming the base:
 * - latest: every file under image/ but image/scientific/, then "$DPS_BASE" (python:3.12-slim);
 * - scientific: image/Dockerfile and the files under image/scientific/, then
 *   "docker-python-sandbox-base:bookworm-scientific $DPS_DEBIAN_SUITE <extra packages>".
 * spec/unit/doctor-image-hash.spec.ts checks this against the shell pipeline itself.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const IMAGE_HASH_LABEL = 'docker-python-sandbox.image-hash';

export type ImageFlavour = 'latest' | 'scientific';

/** What the script appends for the scientific flavour (its fallback base and extra_packages). */
const SCIENTIFIC_BASE = 'docker-python-sandbox-base:bookworm-scientific';
const SCIENTIFIC_PACKAGES = 'python3-munkres python3-pil.imagetk python3-numpy python3-pandas python3-matplotlib';

/** The regular files under dir, as `find -type f` lists them (not symbolic links), each as prefix/relative path. */
async function filesUnder(dir: string, prefix: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = `${prefix}/${entry.name}`;
      if (entry.isDirectory()) return filesUnder(join(dir, entry.name), path);
      return entry.isFile() ? [path] : [];
    }),
  );
  return nested.flat();
}

/** Bytewise order, as `LC_ALL=C sort`. */
function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function sha256sumLine(file: string, shownAs: string): Promise<string> {
  return `${createHash('sha256')
    .update(await readFile(file))
    .digest('hex')}  ${shownAs}\n`;
}

/** The files of a flavour, as find prints them from inside image/ (`./Dockerfile`). */
async function flavourFiles(imageDir: string, flavour: ImageFlavour): Promise<string[]> {
  if (flavour === 'latest') return (await filesUnder(imageDir, '.')).filter((path) => !path.startsWith('./scientific/'));
  const top = (await readdir(imageDir, { withFileTypes: true })).some((entry) => entry.isFile() && entry.name === 'Dockerfile') ? ['./Dockerfile'] : [];
  return [...top, ...(await filesUnder(join(imageDir, 'scientific'), './scientific'))];
}

/**
 * The hash build-image.sh would label the flavour's image with, for the package at packageRoot
 * (its image/ dir and scripts/build-image.sh), under the environment's DPS_BASE / DPS_DEBIAN_SUITE
 * (empty counts as unset, as the script's ${VAR:-default} has it).
 */
export async function expectedImageHash(packageRoot: string, flavour: ImageFlavour, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const imageDir = join(packageRoot, 'image');
  const files = (await flavourFiles(imageDir, flavour)).sort(bytewise);
  const lines = await Promise.all(files.map((path) => sha256sumLine(join(imageDir, path), path)));
  const base = flavour === 'latest' ? env.DPS_BASE || 'python:3.12-slim' : `${SCIENTIFIC_BASE} ${env.DPS_DEBIAN_SUITE || 'bookworm'} ${SCIENTIFIC_PACKAGES}`;
  const script = await sha256sumLine(join(packageRoot, 'scripts', 'build-image.sh'), 'scripts/build-image.sh');
  const all = `${lines.join('')}${base}\n${script}`;
  return createHash('sha256').update(all).digest('hex').slice(0, 16);
}
