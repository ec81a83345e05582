/**
 * What each kind of run must give, and the part of a wrong result worth keeping in the report.
 */
import type { RunResult } from '../../lib/index.js';
import { SETTLE_SLACK_MS, TIMEOUT_MS } from './config.js';
import type { Task } from './tasks.js';

/** What is wrong with a result for its kind (empty when it is right). */
export function problemsOf(task: Task, result: RunResult, maxOutputBytes: number): string[] {
  const problems: string[] = [];
  const expect = (condition: boolean, what: string): void => {
    if (!condition) problems.push(what);
  };
  const settledInTime = result.durationMs < TIMEOUT_MS + SETTLE_SLACK_MS;
  switch (task.kind) {
    case 'normal':
      expect(result.stdout === task.expected, `stdout ${JSON.stringify(result.stdout.slice(0, 200))}, expected ${JSON.stringify(task.expected)}`);
      expect(result.stderr === '', 'stderr not empty');
      expect(result.exitCode === 0, `exitCode ${result.exitCode}`);
      expect(result.status === 'ok' && !result.isError, `status ${result.status}, isError ${result.isError}`);
      break;
    case 'syntax_error':
      expect(result.status === 'error' && result.isError, `status ${result.status}, isError ${result.isError}`);
      expect(result.exitCode === 1, `exitCode ${result.exitCode}`);
      expect(/SyntaxError/.test(result.stderr), 'no SyntaxError in stderr');
      expect(!result.timedOut, 'timedOut');
      break;
    case 'timeout':
      expect(result.status === 'timeout' && result.timedOut && result.isError, `status ${result.status}, timedOut ${result.timedOut}`);
      expect(result.exitCode === null, `exitCode ${result.exitCode}`);
      expect(settledInTime, `durationMs ${result.durationMs} (limit ${TIMEOUT_MS} + ${SETTLE_SLACK_MS})`);
      break;
    case 'memory_bomb':
      expect(result.status === 'oom' && result.oomKilled && result.isError, `status ${result.status}, oomKilled ${result.oomKilled}`);
      expect(result.exitCode === 137, `exitCode ${result.exitCode}`);
      expect(!result.timedOut, 'timedOut');
      break;
    case 'output_flood':
      expect(result.status === 'output_limit' && result.truncated && result.isError, `status ${result.status}, truncated ${result.truncated}`);
      expect(Buffer.byteLength(result.stdout) === maxOutputBytes, `stdout is ${Buffer.byteLength(result.stdout)} bytes, the cap ${maxOutputBytes}`);
      expect(result.stderr === '', 'stderr not empty');
      expect(/^(y{4095}\n)*y*$/.test(result.stdout), 'stdout is not whole lines up to the cut');
      expect(!result.timedOut && settledInTime, `timedOut ${result.timedOut}, durationMs ${result.durationMs}`);
      break;
    case 'fork_bomb':
      // As spec/integration/security.spec.ts: contained, ended by time or memory, on time.
      expect(result.isError, 'isError false');
      expect(result.timedOut || result.oomKilled, `status ${result.status}: neither timed out nor OOM-killed`);
      expect(settledInTime, `durationMs ${result.durationMs} (limit ${TIMEOUT_MS} + ${SETTLE_SLACK_MS})`);
      break;
  }
  return problems;
}

/** A result cut down to what explains a failure. */
export function summaryOf(result: RunResult): Record<string, unknown> {
  return {
    status: result.status,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    oomKilled: result.oomKilled,
    truncated: result.truncated,
    durationMs: result.durationMs,
    stdoutBytes: Buffer.byteLength(result.stdout),
    stdout: result.stdout.slice(0, 200),
    stderr: result.stderr.slice(-400),
  };
}
