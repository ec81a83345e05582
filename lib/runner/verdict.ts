/**
 * How a run ended, decided from what was observed: the loader's in-band report, why the host's
 * reading of the streams ended, the docker CLI's exit code, the engine's OOM event, and whether
 * the engine still answers. A pure function, so each case is a unit spec (spec/unit/verdict.spec.ts);
 * WarmContainer gathers the observations (waiting, bounded, for those that may trail a death).
 */
import type { EngineUnavailableError } from '../errors.js';
import type { EndReason } from './execution.js';
import type { ExitReport } from './loader.js';

const SIGKILL = 9;

/** What was seen of a run's end. */
export interface EndObservations {
  reason: EndReason;
  /** The loader's report; undefined when the host stopped the run or the loader died first. */
  report: ExitReport | undefined;
  /** The docker CLI's exit code, when it ended without a report (128 + N: killed by signal N). */
  cliExitCode: number | undefined;
  /** The engine reported an OOM kill in the container. */
  oomEvent: boolean;
  /** The engine did not answer when asked (only asked when needsEngineCheck() said so). */
  engineDown: EngineUnavailableError | undefined;
  /** Removing the container (at a timeout or the output cap) failed because the engine was down. */
  killFailedEngineDown: EngineUnavailableError | undefined;
}

export type Verdict =
  /** The container was gone before the program started: nothing ran, the run may go elsewhere. */
  | { outcome: 'lost' }
  /** The engine went away under the run: no program's result. */
  | { outcome: 'engine-down'; error: EngineUnavailableError }
  | {
      outcome: 'ended';
      /** The program's exit status (128 + N when signal N ended it); null when the host stopped it. */
      exitCode: number | null;
      signal: number | null;
      oomKilled: boolean;
      usage: { cpuMs: number; peakMemoryBytes: number } | null;
      /** The loader reported: the container exits by itself, with its collected files sent. */
      reported: boolean;
    };

/** Whether the verdict depends on the engine still answering (a death nothing else explains). */
export function needsEngineCheck(observed: Pick<EndObservations, 'reason' | 'report' | 'oomEvent'>): boolean {
  if (observed.reason === 'lost') return true;
  if (observed.reason === 'unanswered') return false; // the run ended because the engine did not answer: already known
  return observed.report === undefined && (observed.reason === 'exit' || observed.reason === 'died') && !observed.oomEvent;
}

/** Whether the observations may still change: an OOM event trailing a death without a report. */
export function awaitsDeathEvents(observed: Pick<EndObservations, 'reason' | 'report'>): boolean {
  return observed.report === undefined && (observed.reason === 'exit' || observed.reason === 'died');
}

export function decideVerdict(observed: EndObservations): Verdict {
  const { reason, report } = observed;
  if (reason === 'lost') return observed.engineDown !== undefined ? { outcome: 'engine-down', error: observed.engineDown } : { outcome: 'lost' };
  // The go line went unacknowledged and the engine did not answer: the program may have started, so
  // it is never run again; the run fails as the engine's.
  if (reason === 'unanswered' && observed.engineDown !== undefined) return { outcome: 'engine-down', error: observed.engineDown };
  if ((reason === 'timeout' || reason === 'output_limit') && observed.killFailedEngineDown !== undefined) {
    return { outcome: 'engine-down', error: observed.killFailedEngineDown };
  }
  if (report !== undefined) {
    return {
      outcome: 'ended',
      exitCode: report.exitCode,
      signal: report.signal || null,
      // An OOM kill somewhere in the container counts when the program itself died of SIGKILL.
      oomKilled: report.oomKills > 0 && report.signal === SIGKILL,
      usage: { cpuMs: report.cpuMs, peakMemoryBytes: report.peakMemoryBytes },
      reported: true,
    };
  }
  if (reason === 'exit' || reason === 'died') {
    // The loader died without a report: its container was killed (gVisor ends a whole sandbox at
    // its memory limit). The engine's events say whether the OOM killer did it; if not, the engine
    // itself may have gone away, taking the container with it.
    if (observed.oomEvent) return { outcome: 'ended', exitCode: 128 + SIGKILL, signal: SIGKILL, oomKilled: true, usage: null, reported: false };
    if (observed.engineDown !== undefined) return { outcome: 'engine-down', error: observed.engineDown };
    const exitCode = observed.cliExitCode ?? null;
    return { outcome: 'ended', exitCode, signal: exitCode !== null && exitCode > 128 ? exitCode - 128 : null, oomKilled: false, usage: null, reported: false };
  }
  // The host stopped it: a timeout, the output cap, an abort.
  return { outcome: 'ended', exitCode: null, signal: null, oomKilled: false, usage: null, reported: false };
}
