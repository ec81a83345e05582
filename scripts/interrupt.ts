/**
 * Ctrl-C or a CI timeout during a script (bench, soak): remove what it started, then exit with the
 * signal's status. Scripts own their process, so they may install signal handlers; the library never does.
 */
import { constants } from 'node:os';

export interface Interruption {
  /** True once a signal arrived: the script's own failure report is then beside the point. */
  readonly interrupted: boolean;
}

export function cleanUpOnInterrupt(cleanUp: () => Promise<void>, log: (message: string) => void): Interruption {
  const state = { interrupted: false };
  const onSignal = (signal: NodeJS.Signals): void => {
    state.interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(128 + (constants.signals[signal] ?? 2)));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return state;
}
