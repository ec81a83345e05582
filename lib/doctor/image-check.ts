/**
 * doctor's image checks: the image is on the engine and, when it is one this package builds,
 * carries the content hash of this version's image/ dir and build script (see image-hash.ts).
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_IMAGE } from '../options.js';
import { CHECK, failed, passed, type DoctorCheck } from './check.js';
import { expectedImageHash, IMAGE_HASH_LABEL, type ImageFlavour } from './image-hash.js';

export const SCIENTIFIC_IMAGE = 'docker-python-sandbox:scientific';

/** The package's root: lib/doctor/ under tsx and dist/doctor/ once built both sit two levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Environment = Readonly<Record<string, string | undefined>>;

/** The flavour build-image.sh builds under this name (DPS_IMAGE / DPS_SCIENTIFIC_IMAGE rename them), or undefined for another image. */
export function flavourOf(image: string, env: Environment): ImageFlavour | undefined {
  if (image === DEFAULT_IMAGE || image === env.DPS_IMAGE) return 'latest';
  if (image === SCIENTIFIC_IMAGE || image === env.DPS_SCIENTIFIC_IMAGE) return 'scientific';
  return undefined;
}

export interface ImageFacts {
  image: string;
  /** The image's labels; undefined when the engine does not have it. */
  labels: Record<string, string> | undefined;
  /** The hashes this package builds, by flavour. */
  expected: Record<ImageFlavour, string>;
  /** Where the engine is, for the failure's detail. */
  address: string;
  /** The CLI binary (`docker`, `podman`), for the fix. */
  binary: string;
}

/** Pure: the verdict on one image. `optional`: a missing image passes (the scientific flavour). */
export function imageVerdict(
  facts: ImageFacts,
  env: Environment,
  { name = CHECK.image, optional = false }: { name?: string; optional?: boolean } = {},
): DoctorCheck {
  const { image, labels, expected } = facts;
  const flavour = flavourOf(image, env);
  const podman = /(^|\/)podman$/.test(facts.binary);
  const setup = podman ? "`npm run setup:podman` puts it in Podman's store" : '`npm run setup` (scripts/build-image.sh) builds it';
  if (labels === undefined) {
    if (optional) return passed(name, `${image} is not built (optional: for numpy, pandas and matplotlib; ${setup})`);
    return failed(
      name,
      `${image} is not on the engine at ${facts.address}`,
      flavour !== undefined
        ? `${setup}, then run doctor again.`
        : `Build or pull it (e.g. \`${podman ? 'podman' : 'docker'} pull ${image}\`), or name an image the engine has with --image.`,
    );
  }
  const hash = labels[IMAGE_HASH_LABEL];
  const wanted = flavour === undefined ? Object.values(expected) : [expected[flavour]];
  if (hash !== undefined && wanted.includes(hash)) return passed(name, `${image} is there, built from this version's image/ (content hash ${hash})`);
  if (hash === undefined || hash === '') {
    if (flavour === undefined) return passed(name, `${image} is there (not built by this package's scripts: its contents are not checked)`);
    return failed(name, `${image} is there but was not built by scripts/build-image.sh (no ${IMAGE_HASH_LABEL} label)`, `Rebuild it: ${setup}.`);
  }
  return failed(
    name,
    `${image} was built from another version of image/ (content hash ${hash}; this version builds ${wanted.join(' or ')})`,
    `Rebuild it: ${setup}.`,
  );
}

export async function expectedHashes(env: Environment): Promise<Record<ImageFlavour, string>> {
  const [latest, scientific] = await Promise.all([expectedImageHash(PACKAGE_ROOT, 'latest', env), expectedImageHash(PACKAGE_ROOT, 'scientific', env)]);
  return { latest, scientific };
}
