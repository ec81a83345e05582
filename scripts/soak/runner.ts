/**
 * Runs the soak's tasks through one Sandbox at CONCURRENCY, checking every result and keeping,
 * per kind, latencies, program times and how the runs ended.
 */
import { performance } from 'node:perf_hooks';
import type { RunResult, Sandbox } from '../../lib/index.js';
import { runConcurrently } from '../shared/concurrency.js';
import { progress, type Log } from '../shared/log.js';
import { bytesToMb } from '../shared/process-usage.js';
import { problemsOf, summaryOf } from './checks.js';
import { CONCURRENCY } from './config.js';
import { KINDS, type Kind, type Task } from './tasks.js';

export interface KindStats {
  runs: number;
  failures: number;
  latencyMs: number[];
  /** The program's own time (result.durationMs). */
  durationMs: number[];
  /** How the runs ended, e.g. { timeout: 41, oom: 19 } for fork bombs. */
  statuses: Record<string, number>;
}

export interface Failure {
  index: number;
  kind: Kind;
  problem: string;
  result?: Record<string, unknown>;
}

export class TaskRunner {
  readonly stats = new Map<Kind, KindStats>(KINDS.map((kind) => [kind, { runs: 0, failures: 0, latencyMs: [], durationMs: [], statuses: {} }]));
  readonly failures: Failure[] = [];
  /** The normal runs that started first after a fork bomb ended, and how many of them failed. */
  readonly afterBombs = { checked: 0, failed: 0 };
  /** Fork bombs that have ended; the next normal run to start after each is checked as such. */
  private bombsEnded = 0;
  private bombsFollowed = 0;
  private readonly tick: () => void;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly maxOutputBytes: number,
    totalRuns: number,
    private readonly log: Log,
  ) {
    this.tick = progress(totalRuns, (done) =>
      log(`${done}/${totalRuns} runs, ${this.failures.length} failures, rss ${bytesToMb(process.memoryUsage().rss)} MB`),
    );
  }

  /** Runs the tasks in order, CONCURRENCY at a time. A run never rejects here: a rejection is a failure of its task. */
  async runBatch(batch: readonly Task[]): Promise<void> {
    await runConcurrently(batch.length, CONCURRENCY, (_worker, index) => this.runOne(batch[index]!));
  }

  private async runOne(task: Task): Promise<void> {
    const stat = this.stats.get(task.kind)!;
    const followsBomb = task.kind === 'normal' && this.bombsEnded > this.bombsFollowed;
    if (followsBomb) this.bombsFollowed = this.bombsEnded;
    const t0 = performance.now();
    let problems: string[];
    let result: RunResult | undefined;
    try {
      result = await this.sandbox.run(task.code);
      problems = problemsOf(task, result, this.maxOutputBytes);
    } catch (error) {
      problems = [`run rejected: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(0, 1_000)];
    }
    stat.runs += 1;
    stat.latencyMs.push(performance.now() - t0);
    const ending = result === undefined ? 'rejected' : result.status;
    stat.statuses[ending] = (stat.statuses[ending] ?? 0) + 1;
    if (result !== undefined) stat.durationMs.push(result.durationMs);
    if (task.kind === 'fork_bomb') this.bombsEnded += 1;
    if (followsBomb) {
      this.afterBombs.checked += 1;
      if (problems.length > 0) this.afterBombs.failed += 1;
    }
    if (problems.length > 0) {
      stat.failures += 1;
      this.failures.push({ index: task.index, kind: task.kind, problem: problems.join('; '), ...(result && { result: summaryOf(result) }) });
      this.log(`FAIL run ${task.index} (${task.kind}${followsBomb ? ', first normal run after a fork bomb' : ''}): ${problems.join('; ')}`);
    }
    this.tick();
  }
}
