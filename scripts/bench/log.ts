/**
 * The bench's progress lines on stderr.
 */
import { logger, progress } from '../shared/log.js';

export const log = logger('bench');

/** A tick per finished run that logs `phase: done/total` every tenth of the way and at the end. */
export function phaseProgress(phase: string, total: number): () => void {
  return progress(total, (done) => log(`${phase}: ${done}/${total}`));
}
