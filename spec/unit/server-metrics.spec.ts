/**
 * The service's Prometheus text (lib/server/metrics.ts): the exact exposition after a known
 * sequence of runs and requests, the zero state, engine states, label and HELP escaping, and bad
 * input.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EngineStats, SandboxStats } from '../../lib/sandbox.js';
import { escapeHelp, escapeLabelValue, METRICS_CONTENT_TYPE, ServiceMetrics } from '../../lib/server/metrics.js';

const engine = (name: string, state: EngineStats['state']): EngineStats => ({
  name,
  state,
  size: 2,
  ready: 0,
  busy: 0,
  starting: 0,
  consecutiveFailures: 0,
  lastError: null,
});
const stats = (fields: Partial<SandboxStats> = {}): SandboxStats => ({
  size: 4,
  ready: 0,
  busy: 0,
  starting: 0,
  queued: 0,
  failing: false,
  consecutiveFailures: 0,
  lastError: null,
  engines: [engine('default', 'up')],
  ...fields,
});
const fixedMemory = { residentMemoryBytes: () => 123_456_789 };

/** Every line is a comment (HELP/TYPE) or a sample `name{labels} value`; each family's TYPE comes before its samples. */
function assertWellFormed(text: string): void {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  const typed = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') typed.set(comment[2]!, comment[3]!);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${JSON.stringify(line)}`);
    const base = match[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(typed.has(match[1]!) || typed.get(base) === 'histogram', `sample before its TYPE: ${line}`);
  }
}

test('the content type is the text format 0.0.4', () => {
  assert.equal(METRICS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
});

test('a known sequence renders exactly: counters by status, cumulative buckets (bounds inclusive), sums and counts, gauges, requests sorted', () => {
  const metrics = new ServiceMetrics(fixedMemory);
  metrics.recordRun('ok', 2, 3);
  metrics.recordResult({ status: 'ok', timings: { queuedMs: 0.4, runMs: 12.3 } });
  metrics.recordRun('error', 7.5, 250); // on the 0.25 s bound: counted there
  metrics.recordRun('timeout', 30, 60_000); // on the last bound
  metrics.recordRun('output_limit', 0, 61_000.5); // over every bound: only in +Inf
  metrics.recordRun('rejected'); // counted, no durations
  metrics.recordRun('aborted', 100, 50); // counted, durations left out
  metrics.recordRequest('/v1/run', 200);
  metrics.recordRequest('unmatched', 404);
  metrics.recordRequest('/v1/run', 503);
  metrics.recordRequest('/metrics', 200);
  metrics.recordRequest('/v1/run', 200);
  const text = metrics.render(stats({ ready: 1, busy: 2, starting: 1, queued: 3, engines: [engine('default', 'up'), engine('remote', 'down')] }));
  assert.equal(
    text,
    `# HELP dps_runs_total Runs by how they ended: ok, error, timeout, oom, output_limit (the program ran), rejected (refused before running: queue full or no engine), aborted (the client went away or the run was stopped).
# TYPE dps_runs_total counter
dps_runs_total{status="ok"} 2
dps_runs_total{status="error"} 1
dps_runs_total{status="timeout"} 1
dps_runs_total{status="oom"} 0
dps_runs_total{status="output_limit"} 1
dps_runs_total{status="rejected"} 1
dps_runs_total{status="aborted"} 1
# HELP dps_run_duration_seconds Time of the program, from its start to its end or kill, in seconds (runs whose program ran).
# TYPE dps_run_duration_seconds histogram
dps_run_duration_seconds_bucket{le="0.005"} 1
dps_run_duration_seconds_bucket{le="0.01"} 1
dps_run_duration_seconds_bucket{le="0.025"} 2
dps_run_duration_seconds_bucket{le="0.05"} 2
dps_run_duration_seconds_bucket{le="0.1"} 2
dps_run_duration_seconds_bucket{le="0.25"} 3
dps_run_duration_seconds_bucket{le="0.5"} 3
dps_run_duration_seconds_bucket{le="1"} 3
dps_run_duration_seconds_bucket{le="2.5"} 3
dps_run_duration_seconds_bucket{le="5"} 3
dps_run_duration_seconds_bucket{le="10"} 3
dps_run_duration_seconds_bucket{le="30"} 3
dps_run_duration_seconds_bucket{le="60"} 4
dps_run_duration_seconds_bucket{le="+Inf"} 5
dps_run_duration_seconds_sum 121.2658
dps_run_duration_seconds_count 5
# HELP dps_queue_duration_seconds Time a run waited for a ready container, in seconds (runs whose program ran).
# TYPE dps_queue_duration_seconds histogram
dps_queue_duration_seconds_bucket{le="0.005"} 3
dps_queue_duration_seconds_bucket{le="0.01"} 4
dps_queue_duration_seconds_bucket{le="0.025"} 4
dps_queue_duration_seconds_bucket{le="0.05"} 5
dps_queue_duration_seconds_bucket{le="0.1"} 5
dps_queue_duration_seconds_bucket{le="0.25"} 5
dps_queue_duration_seconds_bucket{le="0.5"} 5
dps_queue_duration_seconds_bucket{le="1"} 5
dps_queue_duration_seconds_bucket{le="2.5"} 5
dps_queue_duration_seconds_bucket{le="5"} 5
dps_queue_duration_seconds_bucket{le="10"} 5
dps_queue_duration_seconds_bucket{le="30"} 5
dps_queue_duration_seconds_bucket{le="60"} 5
dps_queue_duration_seconds_bucket{le="+Inf"} 5
dps_queue_duration_seconds_sum 0.0399
dps_queue_duration_seconds_count 5
# HELP dps_queue_depth Runs waiting for a container now.
# TYPE dps_queue_depth gauge
dps_queue_depth 3
# HELP dps_pool_size Containers the pool keeps warm (its configured size, over all engines).
# TYPE dps_pool_size gauge
dps_pool_size 4
# HELP dps_containers Containers of the pool by state: ready (warm, waiting for a run), busy (running a program), starting (being created).
# TYPE dps_containers gauge
dps_containers{state="ready"} 1
dps_containers{state="busy"} 2
dps_containers{state="starting"} 1
# HELP dps_engine_up 1 when the engine's containers serve runs (state up), 0 when it is failing or down.
# TYPE dps_engine_up gauge
dps_engine_up{engine="default"} 1
dps_engine_up{engine="remote"} 0
# HELP dps_engine_state The engine's state, 1 for the current one: up (serves runs), failing (its containers cannot be made), down (it does not answer).
# TYPE dps_engine_state gauge
dps_engine_state{engine="default",state="up"} 1
dps_engine_state{engine="default",state="failing"} 0
dps_engine_state{engine="default",state="down"} 0
dps_engine_state{engine="remote",state="up"} 0
dps_engine_state{engine="remote",state="failing"} 0
dps_engine_state{engine="remote",state="down"} 1
# HELP dps_http_requests_total HTTP responses sent, by route and status code.
# TYPE dps_http_requests_total counter
dps_http_requests_total{route="/metrics",code="200"} 1
dps_http_requests_total{route="/v1/run",code="200"} 2
dps_http_requests_total{route="/v1/run",code="503"} 1
dps_http_requests_total{route="unmatched",code="404"} 1
# HELP process_resident_memory_bytes Resident memory size of the service process, in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 123456789
`,
  );
  assertWellFormed(text);
});

test('the zero state has every status at 0, empty histograms, and the requests family announced without samples', () => {
  const text = new ServiceMetrics(fixedMemory).render(stats());
  assertWellFormed(text);
  const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  assert.deepEqual(
    samples.filter((line) => line.startsWith('dps_runs_total')),
    ['ok', 'error', 'timeout', 'oom', 'output_limit', 'rejected', 'aborted'].map((status) => `dps_runs_total{status="${status}"} 0`),
  );
  for (const name of ['dps_run_duration_seconds', 'dps_queue_duration_seconds']) {
    const lines = samples.filter((line) => line.startsWith(`${name}_`));
    assert.equal(lines.length, 13 + 1 + 2, `${name}: 13 bounds, +Inf, _sum and _count`);
    assert.ok(
      lines.every((line) => line.endsWith(' 0')),
      lines.join('\n'),
    );
    assert.ok(lines.includes(`${name}_bucket{le="+Inf"} 0`));
  }
  assert.ok(text.includes('# HELP dps_http_requests_total HTTP responses sent, by route and status code.\n# TYPE dps_http_requests_total counter\n# HELP'));
  assert.ok(!samples.some((line) => line.startsWith('dps_http_requests_total')));
  assert.ok(samples.includes('dps_containers{state="ready"} 0'));
  assert.ok(samples.includes('dps_queue_depth 0'));
});

test('engine states: up is 1 only for up; exactly one state series is 1 per engine', () => {
  const metrics = new ServiceMetrics(fixedMemory);
  const text = metrics.render(stats({ engines: [engine('local', 'failing'), engine('tls', 'up'), engine('ssh', 'down')] }));
  const samples = text.split('\n').filter((line) => line.startsWith('dps_engine'));
  assert.deepEqual(samples, [
    'dps_engine_up{engine="local"} 0',
    'dps_engine_up{engine="tls"} 1',
    'dps_engine_up{engine="ssh"} 0',
    'dps_engine_state{engine="local",state="up"} 0',
    'dps_engine_state{engine="local",state="failing"} 1',
    'dps_engine_state{engine="local",state="down"} 0',
    'dps_engine_state{engine="tls",state="up"} 1',
    'dps_engine_state{engine="tls",state="failing"} 0',
    'dps_engine_state{engine="tls",state="down"} 0',
    'dps_engine_state{engine="ssh",state="up"} 0',
    'dps_engine_state{engine="ssh",state="failing"} 0',
    'dps_engine_state{engine="ssh",state="down"} 1',
  ]);
  // The same instance follows the stats it is given at each scrape.
  const later = metrics.render(stats({ engines: [engine('local', 'up')] }));
  assert.ok(later.includes('dps_engine_up{engine="local"} 1\n'));
  assert.ok(!later.includes('engine="tls"'));
});

test('label values escape backslash, double quote and line feed; HELP escapes backslash and line feed only', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue('plain/route é'), 'plain/route é');
  assert.equal(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
  const metrics = new ServiceMetrics(fixedMemory);
  metrics.recordRequest('/x\\y"z\nw', 400);
  const text = metrics.render(stats({ engines: [engine('my "engine"\\1', 'up')] }));
  assert.ok(text.includes('dps_http_requests_total{route="/x\\\\y\\"z\\nw",code="400"} 1\n'), text);
  assert.ok(text.includes('dps_engine_up{engine="my \\"engine\\"\\\\1"} 1\n'), text);
  assertWellFormed(text);
});

test('resident memory is read at each render (process RSS by default)', () => {
  let rss = 1000;
  const metrics = new ServiceMetrics({ residentMemoryBytes: () => rss });
  assert.ok(metrics.render(stats()).endsWith('process_resident_memory_bytes 1000\n'));
  rss = 2048;
  assert.ok(metrics.render(stats()).endsWith('process_resident_memory_bytes 2048\n'));
  const real = /process_resident_memory_bytes (\d+)\n$/.exec(new ServiceMetrics().render(stats()));
  assert.ok(real && Number(real[1]) > 1_000_000, `a Node process has more than 1 MB resident: ${real?.[1]}`);
});

test('bad input is a RangeError and records nothing', () => {
  const metrics = new ServiceMetrics(fixedMemory);
  const before = metrics.render(stats());
  assert.throws(() => metrics.recordRun('crashed' as never, 1, 1), { name: 'RangeError', message: /Unknown run status "crashed"/ });
  assert.throws(() => metrics.recordRun('ok', -1, 1), { name: 'RangeError', message: /queuedMs/ });
  assert.throws(() => metrics.recordRun('ok', 1, Number.NaN), { name: 'RangeError', message: /runMs/ });
  assert.throws(() => metrics.recordRun('ok', 1, Infinity), { name: 'RangeError', message: /runMs/ });
  assert.throws(() => metrics.recordRequest('/v1/run', 99), { name: 'RangeError', message: /99/ });
  assert.throws(() => metrics.recordRequest('/v1/run', 200.5), { name: 'RangeError' });
  assert.equal(metrics.render(stats()), before);
});
