/**
 * Debug logging through node:util's debuglog: silent unless NODE_DEBUG names the section
 * (`NODE_DEBUG=docker-python-sandbox node app.js`), and then printed to stderr by Node. Each docker
 * command is logged with its duration and exit code, and so is every failure the library swallows
 * in the background (a removal that failed, a reaping round the engine did not answer), which
 * would otherwise leave no trace. Untrusted output (what programs print) is never logged.
 */
import { debuglog } from 'node:util';

export const SECTION = 'docker-python-sandbox';

const log = debuglog(SECTION);

/** Logs a line when debugging is on (printf-style arguments, as console.log). */
export function debug(message: string, ...args: unknown[]): void {
  log(message, ...args);
}

/** Whether NODE_DEBUG turned the section on: costly details are built only then. */
export function debugEnabled(): boolean {
  return log.enabled;
}

/**
 * A rejection handler for background work nobody awaits: the failure is logged (with what was
 * being done) and dropped. Use it instead of `.catch(() => {})`.
 */
export function swallowed(what: string): (error: unknown) => undefined {
  return (error: unknown) => {
    log('swallowed: %s failed: %s', what, error instanceof Error ? error.message : String(error));
    return undefined;
  };
}
