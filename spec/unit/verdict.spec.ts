/** How a run ended, case by case, from what was observed (lib/runner/verdict.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineUnavailableError } from '../../lib/errors.js';
import type { ExitReport } from '../../lib/runner/loader.js';
import { awaitsDeathEvents, decideVerdict, needsEngineCheck, type EndObservations } from '../../lib/runner/verdict.js';

const down = new EngineUnavailableError('No Docker engine answers at unix:///x.sock.', { command: 'docker version', stderr: '' });
const report = (fields: Partial<ExitReport> = {}): ExitReport => ({
  exitCode: 0,
  signal: 0,
  oomKills: 0,
  cpuMs: 12,
  peakMemoryBytes: 9_000_000,
  collectedBytes: 0,
  ...fields,
});
const observed = (fields: Partial<EndObservations>): EndObservations => ({
  reason: 'exit',
  report: undefined,
  cliExitCode: undefined,
  oomEvent: false,
  engineDown: undefined,
  killFailedEngineDown: undefined,
  ...fields,
});

test("a reported exit is the program's: status, signal, usage; the container removes itself", () => {
  assert.deepEqual(decideVerdict(observed({ report: report({ exitCode: 3 }) })), {
    outcome: 'ended',
    exitCode: 3,
    signal: null,
    oomKilled: false,
    usage: { cpuMs: 12, peakMemoryBytes: 9_000_000 },
    reported: true,
  });
  const killed = decideVerdict(observed({ report: report({ exitCode: 143, signal: 15 }) }));
  assert.equal(killed.outcome === 'ended' && killed.signal, 15);
});

test('an OOM kill counts when the cgroup saw one and the program died of SIGKILL, not otherwise', () => {
  const oom = decideVerdict(observed({ report: report({ exitCode: 137, signal: 9, oomKills: 1 }) }));
  assert.equal(oom.outcome === 'ended' && oom.oomKilled, true);
  const selfKill = decideVerdict(observed({ report: report({ exitCode: 137, signal: 9, oomKills: 0 }) }));
  assert.equal(selfKill.outcome === 'ended' && selfKill.oomKilled, false, 'a program that SIGKILLs itself is not OOM-killed');
  const childOom = decideVerdict(observed({ report: report({ exitCode: 1, signal: 0, oomKills: 1 }) }));
  assert.equal(childOom.outcome === 'ended' && childOom.oomKilled, false, 'a child killed while the program lived on');
});

test("a death without a report: the engine's OOM event says OOM (gVisor); else the CLI's exit code; an engine that went away says so", () => {
  for (const reason of ['exit', 'died'] as const) {
    assert.deepEqual(decideVerdict(observed({ reason, oomEvent: true, cliExitCode: 1 })), {
      outcome: 'ended',
      exitCode: 137,
      signal: 9,
      oomKilled: true,
      usage: null,
      reported: false,
    });
    assert.deepEqual(decideVerdict(observed({ reason, cliExitCode: 137 })), {
      outcome: 'ended',
      exitCode: 137,
      signal: 9,
      oomKilled: false,
      usage: null,
      reported: false,
    });
    assert.deepEqual(decideVerdict(observed({ reason, cliExitCode: 1 })), {
      outcome: 'ended',
      exitCode: 1,
      signal: null,
      oomKilled: false,
      usage: null,
      reported: false,
    });
    assert.deepEqual(decideVerdict(observed({ reason })), { outcome: 'ended', exitCode: null, signal: null, oomKilled: false, usage: null, reported: false });
    assert.deepEqual(decideVerdict(observed({ reason, cliExitCode: 137, engineDown: down })), { outcome: 'engine-down', error: down });
    assert.equal(decideVerdict(observed({ reason, oomEvent: true, engineDown: down })).outcome, 'ended', 'an OOM event outranks a later outage');
  }
});

test('a container gone before its acknowledgement ran nothing: lost, or the engine is down', () => {
  assert.deepEqual(decideVerdict(observed({ reason: 'lost', cliExitCode: 125 })), { outcome: 'lost' });
  assert.deepEqual(decideVerdict(observed({ reason: 'lost', engineDown: down })), { outcome: 'engine-down', error: down });
});

test("runs the host stopped have no exit status; a kill the engine could not carry out is the engine's failure", () => {
  for (const reason of ['timeout', 'output_limit', 'aborted'] as const) {
    assert.deepEqual(decideVerdict(observed({ reason, cliExitCode: 137 })), {
      outcome: 'ended',
      exitCode: null,
      signal: null,
      oomKilled: false,
      usage: null,
      reported: false,
    });
  }
  assert.deepEqual(decideVerdict(observed({ reason: 'timeout', killFailedEngineDown: down })), { outcome: 'engine-down', error: down });
  assert.deepEqual(decideVerdict(observed({ reason: 'output_limit', killFailedEngineDown: down })), { outcome: 'engine-down', error: down });
  assert.equal(decideVerdict(observed({ reason: 'aborted', killFailedEngineDown: down })).outcome, 'ended');
});

test('the engine is asked only when the verdict depends on it; death events are awaited only after a death without a report', () => {
  assert.equal(needsEngineCheck(observed({ reason: 'lost' })), true);
  assert.equal(needsEngineCheck(observed({ reason: 'died' })), true);
  assert.equal(needsEngineCheck(observed({ reason: 'died', oomEvent: true })), false);
  assert.equal(needsEngineCheck(observed({ reason: 'exit', report: report() })), false);
  assert.equal(needsEngineCheck(observed({ reason: 'timeout' })), false);
  assert.equal(awaitsDeathEvents(observed({ reason: 'exit' })), true);
  assert.equal(awaitsDeathEvents(observed({ reason: 'exit', report: report() })), false);
  assert.equal(awaitsDeathEvents(observed({ reason: 'lost' })), false);
  assert.equal(awaitsDeathEvents(observed({ reason: 'timeout' })), false);
});

test('a go line the loader never acknowledged while the engine did not answer is the engine failing, decided without asking again', () => {
  assert.equal(needsEngineCheck(observed({ reason: 'unanswered' })), false);
  assert.equal(awaitsDeathEvents(observed({ reason: 'unanswered' })), false);
  assert.deepEqual(decideVerdict(observed({ reason: 'unanswered', engineDown: down })), { outcome: 'engine-down', error: down });
});
