/**
 * Command-line errors, for flags parsed with node:util parseArgs (strict by default: an unknown
 * flag, a stray argument or a flag without its value throws) turned into a ScriptFailure that
 * names the problem and the usage line.
 */
import { ScriptFailure } from './script.js';

/** What `parse` returns; what it throws becomes a ScriptFailure ending in `(usage: ...)`. */
export function withUsage<T>(usage: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    // parseArgs' first sentence names the problem; what follows suggests positional arguments,
    // which no script takes.
    const problem = (error instanceof Error ? error.message : String(error)).split(/\.\s/)[0];
    throw new ScriptFailure(`${problem} (usage: ${usage})`);
  }
}

/** A flag's value as a positive whole number. */
export function positiveInteger(flag: string, value: string | undefined): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new ScriptFailure(`--${flag} needs a positive whole number`);
  return parsed;
}
