/**
 * The soak's report as the text printed on stdout: a row per kind, then memory, leftovers and the verdict.
 */
import type { SoakReport } from './report.js';
import { KINDS } from './tasks.js';

/** At most this many failures are printed; the JSON has them all. */
const FAILURES_SHOWN = 30;

export function renderText(report: SoakReport): string {
  const out: string[] = [];
  const { config } = report;
  out.push(
    `Soak (${config.mode}): ${config.runs} runs, seed ${config.seed}, concurrency ${config.concurrency}, poolSize ${config.poolSize}, ` +
      `timeoutMs ${config.timeoutMs}, memory ${config.memoryLimitMb} MB; commit ${report.commit}${report.dirty ? ' (dirty)' : ''}, ` +
      `${report.host.cpus} cores, Docker ${report.host.dockerServer}`,
    '',
    `  ${'kind'.padEnd(14)} ${'runs'.padStart(5)} ${'failed'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'program p50/max ms'.padStart(19)}   ended as`,
  );
  for (const kind of KINDS) {
    const k = report.kinds[kind];
    const endings = Object.entries(k.statuses)
      .map(([status, n]) => `${status} ${n}`)
      .join(', ');
    out.push(
      `  ${kind.padEnd(14)} ${String(k.runs).padStart(5)} ${String(k.failures).padStart(7)} ${String(k.p50Ms).padStart(8)} ${String(k.p95Ms).padStart(8)} ${String(k.maxMs).padStart(8)} ${`${k.programP50Ms} / ${k.programMaxMs}`.padStart(19)}   ${endings}`,
    );
  }
  out.push('  (p50/p95/max: from run() to its result, including the wait for a container; program: result.durationMs)');
  const after = report.normalRunsAfterForkBombs;
  const left = report.leftovers;
  out.push(
    '',
    `  wall time ${report.wallS} s (running, without the pauses for RSS samples), ${report.runsPerSecond} runs/s`,
    `  normal runs right after a fork bomb: ${after.checked}, failed ${after.failed}`,
    `  host RSS after warm-up ${report.rss.afterWarmupMb} MB, at the end ${report.rss.endMb} MB, growth ${report.rss.growthMb} MB (limit ${report.rss.limitMb}), peak ${report.rss.peakMb} MB (gc ${report.rss.gc ? 'forced' : 'not available'})`,
    `  JS heap used after warm-up ${report.heapUsed.afterWarmupMb} MB, at the end ${report.heapUsed.endMb} MB, growth ${report.heapUsed.growthMb} MB (limit ${report.heapUsed.limitMb}); external ${report.memory.afterWarmup.external} -> ${report.memory.end.external} MB`,
    `  unhandled rejections ${report.unhandledRejections.length}, uncaught exceptions ${report.uncaughtExceptions.length}`,
    `  after cleanup(): containers of the Sandbox ${left.sandboxContainers.length}, new labelled containers of this process ${left.ownNewLabelledContainers.length}` +
      `${left.foreignNewLabelledContainers > 0 ? ` (and ${left.foreignNewLabelledContainers} of other processes, not counted)` : ''}, ` +
      `temp entries left ${left.tempEntries.length + left.tempDirsInSharedTmp.length}`,
  );
  if (report.failures.length > 0) {
    out.push('', `  failures (${report.failures.length}):`);
    for (const failure of report.failures.slice(0, FAILURES_SHOWN)) {
      out.push(`    run ${failure.index} ${failure.kind}: ${failure.problem}${failure.result ? ` ${JSON.stringify(failure.result).slice(0, 400)}` : ''}`);
    }
    if (report.failures.length > FAILURES_SHOWN) out.push(`    ... ${report.failures.length - FAILURES_SHOWN} more in the JSON`);
  }
  out.push('', report.passed ? 'PASS' : 'FAIL');
  return out.join('\n');
}
