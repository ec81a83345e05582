/**
 * What the option and parameter schemas share: rule builders whose messages say what is expected,
 * the compile-time check that keeps a hand-written type and its schema alike, and the conversion
 * of zod's issues into ValidationIssues whose messages never print "undefined".
 */
import { inspect } from 'node:util';
import { z } from 'zod';
import { parseEngineAddress } from '../engine-address.js';
import type { ValidationIssue } from '../errors.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export function wholeNumber(min: number, max: number, unit = ''): z.ZodNumber {
  const rule = `must be a whole number from ${min} to ${max}${unit}`;
  return z.number({ error: rule }).int({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

export function nonEmptyString(what: string): z.ZodString {
  return z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });
}

/**
 * True when A and B are the same type, not merely assignable each way.
 * @internal
 */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * The keys that one of A and B lacks, or that differ in type, in being optional or in being
 * readonly; never when A and B are alike.
 * @internal
 */
export type DifferingKeys<A, B> = {
  [K in keyof A | keyof B]-?: K extends keyof A ? (K extends keyof B ? (Equals<Pick<A, K>, Pick<B, K>> extends true ? never : K) : K) : K;
}[keyof A | keyof B];

/**
 * Compiles only when given `never`: `NoDifference<DifferingKeys<Interface, z.input<typeof schema>>>`
 * fails the build with the differing keys in the message (`Type '"poolSize"' does not satisfy the
 * constraint 'never'`) when a hand-written interface and its schema drift apart.
 * @internal
 */
export type NoDifference<Keys extends never> = Keys;

/**
 * `known`: the top-level keys; `nestedKnown`: the keys of objects nested under a top-level key
 * (e.g. each of `engines`), for the message about a key that is not one of them.
 */
export function toIssues(
  error: z.ZodError,
  input: unknown,
  known: readonly string[],
  nestedKnown: Readonly<Record<string, readonly string[]>> = {},
): ValidationIssue[] {
  return error.issues.flatMap((issue): ValidationIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      if (issue.path.length === 0) return issue.keys.map((key) => ({ path: key, message: `is not a known option; known options are ${known.join(', ')}` }));
      const where = issue.path.map(String).join('.');
      const keys = nestedKnown[String(issue.path[0])] ?? [];
      return issue.keys.map((key) => ({ path: `${where}.${key}`, message: `is not a known key here; known keys are ${keys.join(', ')}` }));
    }
    const path = issue.path.map(String).join('.');
    return [{ path, message: `${issue.message} (${described(valueAt(input, issue.path))})` }];
  });
}

/** "got 5", or "not given" for a value the caller left out: a message never says "got undefined". */
export function described(value: unknown): string {
  return value === undefined ? 'not given' : `got ${show(value)}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined), input);
}

/** A password in a URL's user part (`ssh://me:secret@box`) is never printed back. */
const URL_PASSWORD = /(?<=^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*(?=@)/i;

function show(value: unknown): string {
  if (typeof value === 'string') value = value.replace(URL_PASSWORD, '***');
  // One line, and short: a long array is cut rather than printed in full on many lines.
  return inspect(value, { depth: 0, breakLength: Infinity, compact: true, maxStringLength: 40, maxArrayLength: 10 });
}

/** An engine address the library can use (unix://, tcp://, ssh://, npipe://): a bad one names what is wrong. */
export function engineAddress(): z.ZodString {
  const rule = 'must be an engine address such as "unix:///var/run/docker.sock", "ssh://user@host" or "tcp://host:2376"';
  return z
    .string({ error: rule })
    .min(1, { error: rule })
    .superRefine((value, context) => {
      const parsed = parseEngineAddress(value);
      if (parsed.kind === 'invalid') context.addIssue({ code: 'custom', message: `${rule}: ${parsed.reason}` });
    });
}
