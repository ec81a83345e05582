/**
 * 1. Hello-world latency: sequential runs of each subject, interleaved (a, b, c, a, b, c, ...),
 * with everything quiet before each timed run (no pool refilling, no container being removed).
 */
import type { Sandbox } from '../../../lib/index.js';
import { round, summarize, timed, type Summary } from '../../shared/stats.js';
import { NaiveContainer, runOneShot } from '../baselines.js';
import type { BenchConfig } from '../config.js';
import { HELLO } from '../hello.js';
import { closeSandbox, openSandbox, runOnLibrary } from '../library.js';
import { phaseProgress } from '../log.js';

/** a: the library (aRunsc: under gVisor), b: one-shot docker run, c: docker exec. */
export type LatencyKey = 'a' | 'aRunsc' | 'b' | 'c';

export type LatencyResults = Partial<Record<LatencyKey, { samples: number[]; summary: Summary }>>;

interface LatencySubject {
  key: LatencyKey;
  /** Untimed: back to the ready state (pool warm, a fresh container started, old one removed). */
  settle(): Promise<void>;
  /** Timed: one hello-world program, output checked. */
  run(): Promise<void>;
  close(): Promise<void>;
}

function librarySubject(key: LatencyKey, sandbox: Sandbox, who: string): LatencySubject {
  return {
    key,
    settle: () => sandbox.whenWarm(),
    run: async () => void (await runOnLibrary(sandbox, HELLO, who)),
    close: () => closeSandbox(sandbox),
  };
}

function oneShotSubject(): LatencySubject {
  return { key: 'b', settle: async () => {}, run: async () => void (await runOneShot(HELLO)), close: async () => {} };
}

/** (c) for latency: the container's removal and replacement happen in settle(), outside the timing. */
function naiveSubject(): LatencySubject {
  let container: NaiveContainer | undefined;
  let used = false;
  return {
    key: 'c',
    settle: async () => {
      if (container !== undefined && !used) return;
      await container?.remove();
      container = undefined; // if the start below fails, close() has nothing to remove
      container = await NaiveContainer.start();
      used = false;
    },
    run: async () => {
      if (container === undefined || used) throw new Error('internal error: (c) run without a fresh container');
      used = true;
      await container.run(HELLO);
    },
    close: async () => {
      await container?.remove();
      container = undefined;
    },
  };
}

export async function measureLatency(config: BenchConfig, withRunsc: boolean): Promise<LatencyResults> {
  const subjects: LatencySubject[] = [];
  try {
    subjects.push(librarySubject('a', await openSandbox({ poolSize: 1 }), '(a) library'));
    if (withRunsc) subjects.push(librarySubject('aRunsc', await openSandbox({ poolSize: 1, runtime: 'runsc' }), '(a) library runsc'));
    subjects.push(oneShotSubject(), naiveSubject());

    const settleAll = async (): Promise<void> => {
      await Promise.all(subjects.map((subject) => subject.settle()));
    };
    const samples = new Map<LatencyKey, number[]>(subjects.map((subject) => [subject.key, []]));
    const tick = phaseProgress(`latency (${subjects.map((s) => s.key).join(', ')} interleaved)`, config.latencyRuns);
    // Negative iterations are untimed warm-up rounds.
    for (let iteration = -config.latencyWarmupRuns; iteration < config.latencyRuns; iteration += 1) {
      for (const subject of subjects) {
        // Nothing in the background (a pool refilling, a container being removed) during a timed run.
        await settleAll();
        const { ms } = await timed(() => subject.run());
        if (iteration >= 0) samples.get(subject.key)?.push(ms);
      }
      if (iteration >= 0) tick();
    }
    const results: LatencyResults = {};
    for (const [key, list] of samples) results[key] = { samples: list.map((ms) => round(ms, 3)), summary: summarize(list) };
    return results;
  } finally {
    // allSettled: a failing close must not hide the error that got us here (the final sweep catches leftovers).
    await Promise.allSettled(subjects.map((subject) => subject.close()));
  }
}
