/**
 * The soak's programs: how many of each kind, in a seeded shuffled order, so that a failing
 * order can be replayed with --seed.
 */
import { readFile } from 'node:fs/promises';
import { ScriptFailure } from '../shared/script.js';
import type { SoakConfig } from './config.js';

export type Kind = 'normal' | 'syntax_error' | 'timeout' | 'memory_bomb' | 'output_flood' | 'fork_bomb';
export const KINDS: readonly Kind[] = ['normal', 'syntax_error', 'timeout', 'memory_bomb', 'output_flood', 'fork_bomb'];
/** Share of each kind; normal runs take what rounding leaves. Timeouts and fork bombs hold a container for 2 s each. */
const WEIGHTS: Record<Exclude<Kind, 'normal'>, number> = { syntax_error: 0.12, timeout: 0.12, memory_bomb: 0.12, output_flood: 0.12, fork_bomb: 0.12 };

export interface Task {
  index: number;
  kind: Kind;
  code: string;
  /** For a normal run: its exact stdout. */
  expected?: string;
}

const fixture = (name: string): Promise<string> => readFile(new URL(`../../spec/fixtures/hostile/${name}`, import.meta.url), 'utf8');

/** mulberry32: a small seeded PRNG. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export async function makeTasks(config: SoakConfig): Promise<Task[]> {
  const next = random(config.seed);
  const forkBomb = await fixture('fork_bomb.py');
  const memoryBomb = await fixture('memory_bomb.py');
  const counts = new Map<Kind, number>();
  for (const [kind, weight] of Object.entries(WEIGHTS) as [Kind, number][]) counts.set(kind, Math.max(1, Math.round(config.runs * weight)));
  const hostile = [...counts.values()].reduce((sum, n) => sum + n, 0);
  if (hostile >= config.runs) throw new ScriptFailure(`--runs ${config.runs} is too few for every kind (at least ${hostile + 1})`);
  counts.set('normal', config.runs - hostile);
  const kinds = KINDS.flatMap((kind) => Array<Kind>(counts.get(kind) ?? 0).fill(kind));
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds.map((kind, index) => {
    switch (kind) {
      case 'normal': {
        const n = 1 + Math.floor(next() * 100_000);
        const sum = (BigInt(n) * BigInt(n - 1) * BigInt(2 * n - 1)) / 6n; // sum of k*k for k < n
        return { index, kind, code: `n = ${n}\nprint(sum(k * k for k in range(n)), "run ${index}")`, expected: `${sum} run ${index}\n` };
      }
      case 'syntax_error':
        return { index, kind, code: `print("run ${index}"\n` };
      case 'timeout':
        return { index, kind, code: 'while True:\n    pass\n' };
      case 'memory_bomb':
        return { index, kind, code: memoryBomb };
      case 'output_flood':
        return { index, kind, code: 'import sys\nline = "y" * 4095 + "\\n"\nwhile True:\n    sys.stdout.write(line)\n' };
      case 'fork_bomb':
        return { index, kind, code: forkBomb };
    }
  });
}
