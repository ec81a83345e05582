/**
 * The service's metrics for `GET /metrics`, in the Prometheus text exposition format 0.0.4: runs by
 * how they ended, run and queue durations as histograms, the pool and its engines (read from
 * `sandbox.stats()` at each scrape), and HTTP responses by route and status code. The format is
 * small enough to write by hand, so the service needs no metrics dependency. No HTTP here: the
 * server calls the record methods and answers the scrape with `render()`.
 */
import type { RunResult, RunStatus } from '../result.js';
import type { EngineStats, SandboxStats } from '../sandbox.js';

/** The `Content-Type` of a `render()` answer. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * How a run the service accepted ended: its program's status when it ran, `'rejected'` when it was
 * refused before it ran (queue full, no engine answers), `'aborted'` when its client went away or
 * it was stopped.
 */
export type RunOutcome = RunStatus | 'rejected' | 'aborted';

// Satisfies a Record over every outcome, so a new RunStatus fails compilation until it is listed here.
const OUTCOME_ORDER = { ok: 0, error: 1, timeout: 2, oom: 3, output_limit: 4, rejected: 5, aborted: 6 } satisfies Record<RunOutcome, number>;
/** Every outcome, each rendered from the start (at 0) so that rate() and increase() see a series from its first scrape. */
export const RUN_OUTCOMES = Object.keys(OUTCOME_ORDER) as RunOutcome[];
const PROGRAM_STATUSES = new Set<RunOutcome>(['ok', 'error', 'timeout', 'oom', 'output_limit']);

type EngineState = EngineStats['state'];
const ENGINE_STATE_ORDER = { up: 0, failing: 1, down: 2 } satisfies Record<EngineState, number>;
const ENGINE_STATES = Object.keys(ENGINE_STATE_ORDER) as EngineState[];

/** Upper bounds of the duration buckets, in milliseconds: 5 ms (a warm run of a tiny program) to 60 s (long time limits). */
export const DURATION_BUCKETS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000];

export interface ServiceMetricsOptions {
  /** Where `process_resident_memory_bytes` comes from; `process.memoryUsage.rss` unless given (specs pass a fixed value). */
  residentMemoryBytes?: () => number;
}

/**
 * Counters and histograms of one service process. Record with `recordRun` / `recordResult` and
 * `recordRequest`; `render(sandbox.stats())` answers a scrape.
 */
export class ServiceMetrics {
  readonly #runs = new Map<RunOutcome, number>(RUN_OUTCOMES.map((outcome) => [outcome, 0]));
  readonly #runDuration = new DurationHistogram();
  readonly #queueDuration = new DurationHistogram();
  /** By `JSON.stringify([route, code])`. */
  readonly #requests = new Map<string, { route: string; code: number; count: number }>();
  readonly #residentMemoryBytes: () => number;

  constructor(options: ServiceMetricsOptions = {}) {
    this.#residentMemoryBytes = options.residentMemoryBytes ?? (() => process.memoryUsage.rss());
  }

  /**
   * Counts a run by how it ended. Its durations go into the histograms only when its program ran
   * (a `RunStatus`): a rejected run never waited nor ran, and an aborted one would skew both with
   * partial times.
   */
  recordRun(status: RunOutcome, queuedMs = 0, runMs = 0): void {
    const count = this.#runs.get(status);
    if (count === undefined) throw new RangeError(`Unknown run status ${JSON.stringify(status)}: expected one of ${RUN_OUTCOMES.join(', ')}.`);
    checkDuration('queuedMs', queuedMs);
    checkDuration('runMs', runMs);
    this.#runs.set(status, count + 1);
    if (!PROGRAM_STATUSES.has(status)) return;
    this.#queueDuration.observe(queuedMs);
    this.#runDuration.observe(runMs);
  }

  /** `recordRun` with a result's status and timings. */
  recordResult(result: Pick<RunResult, 'status' | 'timings'>): void {
    this.recordRun(result.status, result.timings.queuedMs, result.timings.runMs);
  }

  /**
   * Counts an HTTP response. `route` is the matched route's pattern (`'/v1/run'`), never the raw
   * URL: every distinct value is a series kept for the life of the process, so unknown paths
   * should share one name (say `'unmatched'`).
   */
  recordRequest(route: string, statusCode: number): void {
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599)
      throw new RangeError(`HTTP status code ${statusCode} is not an integer from 100 to 599.`);
    const key = JSON.stringify([route, statusCode]);
    const entry = this.#requests.get(key);
    if (entry === undefined) this.#requests.set(key, { route, code: statusCode, count: 1 });
    else entry.count += 1;
  }

  /** The text exposition of every metric, the pool's and engines' taken from `stats`. */
  render(stats: SandboxStats): string {
    const requests = [...this.#requests.values()].sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : a.code - b.code));
    const lines = [
      ...family(
        'dps_runs_total',
        'counter',
        'Runs by how they ended: ok, error, timeout, oom, output_limit (the program ran), rejected (refused before running: queue full or no engine), aborted (the client went away or the run was stopped).',
        RUN_OUTCOMES.map((status) => sample('dps_runs_total', { status }, this.#runs.get(status) ?? 0)),
      ),
      ...family(
        'dps_run_duration_seconds',
        'histogram',
        'Time of the program, from its start to its end or kill, in seconds (runs whose program ran).',
        this.#runDuration.samples('dps_run_duration_seconds'),
      ),
      ...family(
        'dps_queue_duration_seconds',
        'histogram',
        'Time a run waited for a ready container, in seconds (runs whose program ran).',
        this.#queueDuration.samples('dps_queue_duration_seconds'),
      ),
      ...family('dps_queue_depth', 'gauge', 'Runs waiting for a container now.', [sample('dps_queue_depth', {}, stats.queued)]),
      ...family('dps_pool_size', 'gauge', 'Containers the pool keeps warm (its configured size, over all engines).', [sample('dps_pool_size', {}, stats.size)]),
      ...family(
        'dps_containers',
        'gauge',
        'Containers of the pool by state: ready (warm, waiting for a run), busy (running a program), starting (being created).',
        [
          sample('dps_containers', { state: 'ready' }, stats.ready),
          sample('dps_containers', { state: 'busy' }, stats.busy),
          sample('dps_containers', { state: 'starting' }, stats.starting),
        ],
      ),
      ...family(
        'dps_engine_up',
        'gauge',
        "1 when the engine's containers serve runs (state up), 0 when it is failing or down.",
        stats.engines.map((engine) => sample('dps_engine_up', { engine: engine.name }, engine.state === 'up' ? 1 : 0)),
      ),
      ...family(
        'dps_engine_state',
        'gauge',
        "The engine's state, 1 for the current one: up (serves runs), failing (its containers cannot be made), down (it does not answer).",
        stats.engines.flatMap((engine) =>
          ENGINE_STATES.map((state) => sample('dps_engine_state', { engine: engine.name, state }, engine.state === state ? 1 : 0)),
        ),
      ),
      ...family(
        'dps_http_requests_total',
        'counter',
        'HTTP responses sent, by route and status code.',
        requests.map((entry) => sample('dps_http_requests_total', { route: entry.route, code: String(entry.code) }, entry.count)),
      ),
      ...family('process_resident_memory_bytes', 'gauge', 'Resident memory size of the service process, in bytes.', [
        sample('process_resident_memory_bytes', {}, this.#residentMemoryBytes()),
      ]),
    ];
    return lines.join('\n') + '\n';
  }
}

/** Bucket counts of durations kept in whole microseconds, so that sums stay exact (results carry 0.1 ms). */
class DurationHistogram {
  readonly #bucketCounts = DURATION_BUCKETS_MS.map(() => 0);
  #count = 0;
  #sumMicros = 0;

  observe(ms: number): void {
    const micros = Math.round(ms * 1000);
    const bucket = DURATION_BUCKETS_MS.findIndex((boundMs) => micros <= boundMs * 1000);
    if (bucket >= 0) this.#bucketCounts[bucket]! += 1;
    this.#count += 1;
    this.#sumMicros += micros;
  }

  /** `_bucket` lines (cumulative, ending with le="+Inf", which equals the count), then `_sum` and `_count`. */
  samples(name: string): string[] {
    let cumulative = 0;
    const buckets = DURATION_BUCKETS_MS.map((boundMs, index) => {
      cumulative += this.#bucketCounts[index]!;
      return sample(`${name}_bucket`, { le: formatNumber(boundMs / 1000) }, cumulative);
    });
    return [
      ...buckets,
      sample(`${name}_bucket`, { le: '+Inf' }, this.#count),
      sample(`${name}_sum`, {}, this.#sumMicros / 1_000_000),
      sample(`${name}_count`, {}, this.#count),
    ];
  }
}

function checkDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number of milliseconds, 0 or more; got ${ms}.`);
}

/** `# HELP` and `# TYPE`, then the samples (none is valid: the family is announced, e.g. before any request). */
function family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: string[]): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`, ...samples];
}

function sample(name: string, labels: Record<string, string>, value: number): string {
  const pairs = Object.entries(labels).map(([label, text]) => `${label}="${escapeLabelValue(text)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatNumber(value)}`;
}

/** In a label value, the format escapes backslash, double quote and line feed. */
export function escapeLabelValue(text: string): string {
  return text.replace(/[\\"\n]/g, (char) => (char === '\\' ? '\\\\' : char === '"' ? '\\"' : '\\n'));
}

/** In HELP text, the format escapes backslash and line feed (a double quote stays as it is). */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (char) => (char === '\\' ? '\\\\' : '\\n'));
}

/** Go's float spellings for the infinities and NaN; JavaScript's shortest round-trip form otherwise. */
function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
