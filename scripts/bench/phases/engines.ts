/**
 * 6. Throughput of one Sandbox over two engines against one engine, with the same number of warm
 * containers in all (ENGINE_POOL each on two engines, twice that on one), at concurrency 8. The
 * second engine is a private dockerd on this machine (spec/helpers/private-engine.ts): the cores
 * are shared, so this shows what spreading costs or gains here, not what a second host would add.
 */
import { performance } from 'node:perf_hooks';
import type { TestContext } from 'node:test';
import type { Sandbox } from '../../../lib/index.js';
import { startPrivateEngine } from '../../../spec/helpers/private-engine.js';
import { runConcurrently } from '../../shared/concurrency.js';
import { round } from '../../shared/stats.js';
import type { BenchConfig } from '../config.js';
import { HELLO } from '../hello.js';
import { closeSandbox, openSandbox, runOnLibrary } from '../library.js';
import { log, phaseProgress } from '../log.js';

const CONCURRENCY = 8;
const ENGINE_POOL = 2;

export interface EnginesSubject {
  engines: number;
  poolSize: number;
  runs: number;
  wallMs: number;
  runsPerSecond: number;
  /** Runs per engine name. */
  byEngine: Record<string, number>;
}

export interface EnginesResult {
  concurrency: number;
  one: EnginesSubject;
  two: EnginesSubject;
}

async function timedRuns(name: string, sandbox: Sandbox, runs: number, engines: number): Promise<EnginesSubject> {
  await sandbox.whenWarm();
  const tick = phaseProgress(`engines ${name} c=${CONCURRENCY}`, runs);
  const byEngine: Record<string, number> = {};
  const start = performance.now();
  await runConcurrently(runs, CONCURRENCY, async () => {
    const result = await sandbox.run(HELLO);
    byEngine[result.engine] = (byEngine[result.engine] ?? 0) + 1;
    if (result.isError) await runOnLibrary(sandbox, HELLO, `(a) library, ${name}`); // fails the bench with the details
    tick();
  });
  const wallMs = performance.now() - start;
  return { engines, poolSize: sandbox.options.poolSize, runs, wallMs: round(wallMs), runsPerSecond: round((runs * 1000) / wallMs, 2), byEngine };
}

export async function measureEngines(config: BenchConfig): Promise<EnginesResult> {
  // The private-engine helper is written for specs: give it the two hooks it uses.
  const teardown: Array<() => unknown> = [];
  const context = { after: (work: () => unknown) => void teardown.push(work), diagnostic: (message: string) => log(message) } as unknown as TestContext;
  try {
    const second = await startPrivateEngine(context);
    const runs = config.throughputRuns;
    const one = await openSandbox({ poolSize: 2 * ENGINE_POOL });
    let oneResult: EnginesSubject;
    try {
      oneResult = await timedRuns('one engine', one, runs, 1);
    } finally {
      await closeSandbox(one);
    }
    const two = await openSandbox({
      engines: [
        { name: 'local', poolSize: ENGINE_POOL },
        { name: 'second', dockerHost: second.host, poolSize: ENGINE_POOL },
      ],
    });
    try {
      return { concurrency: CONCURRENCY, one: oneResult, two: await timedRuns('two engines', two, runs, 2) };
    } finally {
      await closeSandbox(two);
    }
  } finally {
    for (const work of teardown.reverse()) await work();
  }
}

export function enginesSection(result: EnginesResult | undefined): string[] {
  if (result === undefined) return [];
  const row = (subject: EnginesSubject): string =>
    `  ${`${subject.engines} engine${subject.engines > 1 ? 's' : ''}, ${subject.poolSize} containers`.padEnd(26)} ${subject.runsPerSecond.toFixed(2).padStart(8)}   ` +
    `(${subject.runs} runs in ${subject.wallMs.toFixed(0)} ms; ${Object.entries(subject.byEngine)
      .map(([name, runs]) => `${runs} on ${name}`)
      .join(', ')})`;
  return [
    '',
    `9. One Sandbox over two engines vs one (the second a private dockerd on this machine: the cores are shared), runs/s at c=${result.concurrency}`,
    row(result.one),
    row(result.two),
    `  two / one: ${(result.two.runsPerSecond / result.one.runsPerSecond).toFixed(2)}x (reported; one machine, so 2x is not expected)`,
  ];
}
