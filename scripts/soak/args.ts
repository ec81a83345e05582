/**
 * The soak's command line: `--quick` (QUICK_RUNS runs) or `--runs N`, and `--seed N`.
 */
import { parseArgs } from 'node:util';
import { positiveInteger, withUsage } from '../shared/args.js';
import { CONCURRENCY, DEFAULT_SEED, FULL_RUNS, QUICK_RUNS, type SoakConfig } from './config.js';

const USAGE = 'npm run soak [-- --quick | --runs N] [--seed N]';

export function parseSoakArgs(argv: string[]): SoakConfig {
  const options = { quick: { type: 'boolean' }, runs: { type: 'string' }, seed: { type: 'string' } } as const;
  const { tokens } = withUsage(USAGE, () => parseArgs({ args: argv, options, tokens: true }));
  let mode: SoakConfig['mode'] = 'full';
  let runs = FULL_RUNS;
  let seed = DEFAULT_SEED;
  // In command-line order: of --quick and --runs, the later one decides.
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (token.name === 'quick') {
      mode = 'quick';
      runs = QUICK_RUNS;
    } else if (token.name === 'runs') {
      mode = 'custom';
      runs = positiveInteger('runs', token.value);
    } else if (token.name === 'seed') {
      seed = positiveInteger('seed', token.value);
    }
  }
  // Big enough to hold a few runs of every kind: RSS reaches its working size (output floods set it) first.
  return { mode, runs, seed, warmupRuns: Math.min(runs, Math.max(3 * CONCURRENCY, Math.round(runs / 10))) };
}
