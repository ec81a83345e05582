/**
 * Whether a version satisfies a semver range, as node-semver's `satisfies(version, range)` decides
 * for release versions: Piston picks a runtime with it (`"version": "3.x"`, `"3.12"`, `"*"`,
 * `">=3.10"`, `"^3"`). Written here rather than taken from the `semver` package, which would be a
 * dependency for one function. Build metadata is ignored, as semver says; ranges with prerelease tags are not supported and
 * match nothing (as an invalid range does in node-semver).
 */

type Triple = readonly [number, number, number];
/** A version as written in a range: trailing parts may be missing or wildcards (x, X, *). */
type Partial = readonly number[];

const PART = String.raw`(?:0|[1-9]\d*|[xX*])`;
const PARTIAL = new RegExp(String.raw`^v?(${PART})(?:\.(${PART}))?(?:\.(${PART}))?(?:\+[0-9A-Za-z.-]+)?$`);
const COMPARATOR = /^(<=|>=|<|>|=|~>|~|\^)?(.*)$/;

/** True when `version` (major.minor.patch, anything after ignored) satisfies `range`. */
export function satisfiesRange(version: string, range: string): boolean {
  const release = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  if (release === null) return false;
  const triple: Triple = [Number(release[1]), Number(release[2]), Number(release[3] ?? 0)];
  return range.split('||').some((alternative) => {
    const tests = comparatorSet(alternative);
    return tests !== undefined && tests.every((test) => test(triple));
  });
}

type Test = (version: Triple) => boolean;

/** The tests of one `||` alternative, all of which must pass; undefined when it does not parse. */
function comparatorSet(alternative: string): Test[] | undefined {
  // node-semver allows spaces between an operator and its version: ">= 3.10".
  const text = alternative.trim().replace(/(<=|>=|<|>|=|~>|~|\^)\s+/g, '$1');
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (hyphen !== null) {
    const low = partial(hyphen[1]!);
    const high = partial(hyphen[2]!);
    if (low === undefined || high === undefined) return undefined;
    if (high.length === 0) return [atLeast(floor(low))];
    return [atLeast(floor(low)), high.length === 3 ? atMost(high as Triple) : below(ceiling(high))];
  }
  if (text === '') return [];
  const tests: Test[] = [];
  for (const word of text.split(/\s+/)) {
    const test = comparator(word);
    if (test === undefined) return undefined;
    tests.push(...test);
  }
  return tests;
}

function comparator(word: string): Test[] | undefined {
  const [, operator = '=', rest = ''] = COMPARATOR.exec(word) ?? [];
  const version = partial(rest);
  if (version === undefined) return undefined;
  if (version.length === 0) return operator === '>' || operator === '<' ? [() => false] : [];
  const full = version.length === 3;
  switch (operator) {
    case '=':
      return full ? [(v) => compare(v, version as Triple) === 0] : [atLeast(floor(version)), below(ceiling(version))];
    case '>':
      return full ? [(v) => compare(v, version as Triple) > 0] : [atLeast(ceiling(version))];
    case '>=':
      return [atLeast(floor(version))];
    case '<':
      return [below(floor(version))];
    case '<=':
      return full ? [atMost(version as Triple)] : [below(ceiling(version))];
    case '~':
    case '~>':
      return [atLeast(floor(version)), below(version.length === 1 ? [version[0]! + 1, 0, 0] : [version[0]!, version[1]! + 1, 0])];
    default:
      return [atLeast(floor(version)), below(caretCeiling(version))];
  }
}

/** The numbers given before the first wildcard; undefined when the text is no version. */
function partial(text: string): Partial | undefined {
  const match = PARTIAL.exec(text === '' ? '*' : text);
  if (match === null) return undefined;
  const parts: number[] = [];
  for (const part of match.slice(1, 4)) {
    if (part === undefined || /^[xX*]$/.test(part)) break;
    parts.push(Number(part));
  }
  return parts;
}

/** The lowest version a partial covers: its missing parts as 0. */
function floor(version: Partial): Triple {
  return [version[0] ?? 0, version[1] ?? 0, version[2] ?? 0];
}

/** The first version past what a partial covers: "3.12" -> 3.13.0, "3" -> 4.0.0. */
function ceiling(version: Partial): Triple {
  if (version.length === 1) return [version[0]! + 1, 0, 0];
  if (version.length === 2) return [version[0]!, version[1]! + 1, 0];
  return [version[0]!, version[1]!, version[2]! + 1];
}

/** ^ allows changes that do not modify the left-most non-zero part. */
function caretCeiling(version: Partial): Triple {
  const [major = 0, minor, patch] = version;
  if (major > 0 || minor === undefined) return [major + 1, 0, 0];
  if (minor > 0 || patch === undefined) return [0, minor + 1, 0];
  return [0, 0, patch + 1];
}

function compare(a: Triple, b: Triple): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

const atLeast =
  (low: Triple): Test =>
  (v) =>
    compare(v, low) >= 0;
const atMost =
  (high: Triple): Test =>
  (v) =>
    compare(v, high) <= 0;
const below =
  (high: Triple): Test =>
  (v) =>
    compare(v, high) < 0;
