/**
 * The bench's command line: `--quick` picks the small configuration, nothing else is accepted.
 */
import { parseArgs } from 'node:util';
import { withUsage } from '../shared/args.js';
import { FULL, QUICK, type BenchConfig } from './config.js';

const USAGE = 'npm run bench [-- --quick]';

export function parseBenchArgs(argv: string[]): BenchConfig {
  const { values } = withUsage(USAGE, () => parseArgs({ args: argv, options: { quick: { type: 'boolean' } } }));
  return values.quick === true ? QUICK : FULL;
}
