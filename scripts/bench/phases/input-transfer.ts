/**
 * 7. What sending a run's inputs on the container's stdin costs against the mount path, on the
 * local engine: two Sandboxes side by side, one per `inputTransfer`, timed interleaved (mount,
 * stdin, mount, ...) with both pools warm and quiet before each run. Two programs: hello world
 * (the target: the stdin path within 2 ms of the mount path's p50), and one that reads 1 MiB of
 * stdin (what the payload itself costs).
 */
import type { Sandbox } from '../../../lib/index.js';
import { ScriptFailure } from '../../shared/script.js';
import { round, summarize, timed, type Summary } from '../../shared/stats.js';
import type { BenchConfig } from '../config.js';
import { HELLO } from '../hello.js';
import { closeSandbox, openSandbox, runOnLibrary } from '../library.js';
import { phaseProgress } from '../log.js';
import type { Target } from '../report.js';

const MODES = ['mount', 'stdin'] as const;
type Mode = (typeof MODES)[number];
const STDIN_BYTES = 1024 * 1024;
const READ_STDIN = 'import sys; print(len(sys.stdin.buffer.read()))';
/** The target: a warm run on the stdin path within this much of the mount path's p50. */
const TARGET_DELTA_MS = 2;

export interface InputTransferResult {
  runs: number;
  hello: Record<Mode, { samples: number[]; summary: Summary }>;
  stdin1MiB: Record<Mode, { samples: number[]; summary: Summary }>;
  /** stdin p50 - mount p50, hello world. */
  helloP50DeltaMs: number;
}

async function readStdin(sandbox: Sandbox, stdin: Buffer, who: string): Promise<void> {
  const result = await sandbox.run({ code: READ_STDIN, stdin });
  if (result.stdout !== `${STDIN_BYTES}\n`)
    throw new ScriptFailure(`${who}: expected ${STDIN_BYTES}, got ${JSON.stringify(result.stdout)}: ${result.stderr.slice(0, 300)}`);
}

export async function measureInputTransfer(config: BenchConfig): Promise<InputTransferResult> {
  const sandboxes = new Map<Mode, Sandbox>();
  try {
    for (const mode of MODES) sandboxes.set(mode, await openSandbox({ poolSize: 1, inputTransfer: mode }));
    const stdin = Buffer.alloc(STDIN_BYTES, 'x');
    const programs = {
      hello: async (sandbox: Sandbox, mode: Mode) => void (await runOnLibrary(sandbox, HELLO, `(a) library, inputTransfer ${mode}`)),
      stdin1MiB: (sandbox: Sandbox, mode: Mode) => readStdin(sandbox, stdin, `(a) library, inputTransfer ${mode}, 1 MiB stdin`),
    };
    const samples = { hello: { mount: [] as number[], stdin: [] as number[] }, stdin1MiB: { mount: [] as number[], stdin: [] as number[] } };
    const settle = (): Promise<unknown> => Promise.all([...sandboxes.values()].map((sandbox) => sandbox.whenWarm()));
    const tick = phaseProgress('input transfer (mount, stdin interleaved)', config.latencyRuns);
    // Negative iterations are untimed warm-up rounds.
    for (let iteration = -config.latencyWarmupRuns; iteration < config.latencyRuns; iteration += 1) {
      for (const program of ['hello', 'stdin1MiB'] as const) {
        for (const mode of MODES) {
          await settle();
          const { ms } = await timed(() => programs[program](sandboxes.get(mode)!, mode));
          if (iteration >= 0) samples[program][mode].push(ms);
        }
      }
      if (iteration >= 0) tick();
    }
    const pack = (list: number[]): { samples: number[]; summary: Summary } => ({ samples: list.map((ms) => round(ms, 3)), summary: summarize(list) });
    const hello = { mount: pack(samples.hello.mount), stdin: pack(samples.hello.stdin) };
    return {
      runs: config.latencyRuns,
      hello,
      stdin1MiB: { mount: pack(samples.stdin1MiB.mount), stdin: pack(samples.stdin1MiB.stdin) },
      helloP50DeltaMs: round(hello.stdin.summary.p50 - hello.mount.summary.p50, 2),
    };
  } finally {
    await Promise.allSettled([...sandboxes.values()].map((sandbox) => closeSandbox(sandbox)));
  }
}

/** The section of the text report. */
export function inputTransferSection(result: InputTransferResult | undefined): string[] {
  if (result === undefined) return [];
  const row = (name: string, mount: Summary, stdin: Summary): string =>
    `  ${name.padEnd(22)} ${mount.p50.toFixed(1).padStart(8)} ${stdin.p50.toFixed(1).padStart(8)} ${(stdin.p50 - mount.p50).toFixed(1).padStart(8)}   (p95 ${mount.p95.toFixed(1)} / ${stdin.p95.toFixed(1)})`;
  return [
    '',
    `7. Input transfer, warm p50 ms on the local engine (${result.runs} runs each, mount and stdin interleaved)`,
    `  ${'program'.padEnd(22)} ${'mount'.padStart(8)} ${'stdin'.padStart(8)} ${'delta'.padStart(8)}`,
    row('hello world', result.hello.mount.summary, result.hello.stdin.summary),
    row('1 MiB stdin', result.stdin1MiB.mount.summary, result.stdin1MiB.stdin.summary),
  ];
}

/** The target: the stdin path's warm p50 within 2 ms of the mount path's. */
export function inputTransferTarget(result: InputTransferResult | undefined): Target {
  const name = `stdin-path p50 <= mount p50 + ${TARGET_DELTA_MS} ms`;
  if (result === undefined) return { name, status: 'SKIP', measured: 'not measured' };
  return {
    name,
    status: result.helloP50DeltaMs <= TARGET_DELTA_MS ? 'PASS' : 'MISS',
    measured: `${result.helloP50DeltaMs >= 0 ? '+' : ''}${result.helloP50DeltaMs.toFixed(1)} ms`,
  };
}
