/**
 * How a script (bench, soak) runs its main function: cleanup after it whatever happens, also on
 * Ctrl-C, and a non-zero exit with one line saying why when it fails.
 */
import { cleanUpOnInterrupt } from '../interrupt.js';
import type { Log } from './log.js';

/** A failure whose message says all there is to say (wrong output, docker error, a bad flag): no stack trace. */
export class ScriptFailure extends Error {
  override name = 'ScriptFailure';
}

function describeFailure(error: unknown): string {
  if (error instanceof ScriptFailure) return error.message;
  // Anything else may be a bug here or in the library: where it came from matters.
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
}

/** Runs `main`, then `cleanUp` (also on SIGINT/SIGTERM); a failure sets exit code 1. */
export async function runScript(main: () => Promise<void>, cleanUp: () => Promise<void>, log: Log): Promise<void> {
  const interruption = cleanUpOnInterrupt(cleanUp, log);
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    // After a signal, runs fail because their Sandbox was cleaned up: that is no news.
    if (!interruption.interrupted) log(`FAILED: ${describeFailure(error)}`);
  } finally {
    await cleanUp();
  }
}
