/**
 * 8. The same engine (the local one) reached directly and over ssh://, side by side: an sshd of
 * the bench's own on 127.0.0.1 (scripts/shared/sshd.ts: own config, keys and port; ~/.ssh is not
 * touched) forwards to the engine's socket. Three rows, each interleaved (local, ssh, local, ...):
 * - the CLI's whole `run` (a new process: one ssh handshake, a pool of one, one run, cleanup);
 * - a warm run's p50, with both pools warm and quiet before each run;
 * - initialize() of a pool of 4.
 * Also counted: the ssh connections sshd accepted, one per Sandbox or CLI process when the
 * library keeps one connection per engine.
 */
import { stat } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Sandbox } from '../../../lib/index.js';
import { ScriptFailure } from '../../shared/script.js';
import { sshdMissing, startLocalSshd, type LocalSshd } from '../../shared/sshd.js';
import { median, ratio, round, summarize, timed, type Summary } from '../../shared/stats.js';
import type { BenchConfig } from '../config.js';
import { expectHello, HELLO } from '../hello.js';
import { closeSandbox, newSandbox, openSandbox, runOnLibrary } from '../library.js';
import { log, phaseProgress } from '../log.js';
import type { Target } from '../report.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const POOL_SIZE = 4;
/** Targets of the issue: the CLI's run and a pool's start within 2x of local, a warm run within +5 ms. */
const CLI_MAX_RATIO = 2;
const POOL_MAX_RATIO = 2;
const WARM_MAX_DELTA_MS = 5;
const QUICK_WARM_RUNS = 5;

const WHERE = ['local', 'ssh'] as const;
type Where = (typeof WHERE)[number];

export interface SshResult {
  /** How the CLI was started: the built dist/cli.js, or lib/cli.ts through tsx when dist is missing or older. */
  cliEntry: 'dist' | 'tsx';
  cliRunMs: Record<Where, number[]>;
  cliRatio: number | undefined;
  warm: Record<Where, { samples: number[]; summary: Summary }>;
  warmP50DeltaMs: number;
  poolReadyMs: Record<Where, number[]>;
  poolRatio: number | undefined;
  /** ssh connections sshd accepted, and how many Sandboxes (CLI runs included) used it. */
  sshConnections: number;
  sshSandboxes: number;
}

export async function measureSsh(config: BenchConfig): Promise<SshResult | undefined> {
  const missing = sshdMissing();
  if (missing !== undefined) {
    log(`ssh phase skipped: ${missing}`);
    return undefined;
  }
  const sshd = await startLocalSshd();
  // In-process Sandboxes start `ssh` from this PATH: the wrapper with the bench's client config.
  const path = process.env.PATH;
  process.env.PATH = sshd.env.PATH;
  try {
    const quick = config.mode === 'quick';
    const cli = await measureCliRuns(sshd, quick ? 1 : 5);
    const warm = await measureWarmRuns(sshd, config);
    const poolReadyMs = await measurePoolReady(sshd, config.poolReadyRepeats);
    const result: SshResult = {
      cliEntry: cli.entry,
      cliRunMs: cli.samples,
      cliRatio: ratio(median(cli.samples.ssh), median(cli.samples.local)),
      warm,
      warmP50DeltaMs: round(warm.ssh.summary.p50 - warm.local.summary.p50, 2),
      poolReadyMs,
      poolRatio: ratio(median(poolReadyMs.ssh), median(poolReadyMs.local)),
      sshConnections: sshd.acceptedConnections(),
      sshSandboxes: cli.samples.ssh.length + 1 + poolReadyMs.ssh.length,
    };
    if (result.sshConnections !== result.sshSandboxes) {
      throw new ScriptFailure(
        `sshd accepted ${result.sshConnections} connections for ${result.sshSandboxes} Sandboxes: expected one each\n${sshd.log().slice(-2_000)}`,
      );
    }
    return result;
  } finally {
    process.env.PATH = path;
    await sshd.stop();
  }
}

/** The whole CLI `run` of hello world, as a new process each time. */
async function measureCliRuns(sshd: LocalSshd, repeats: number): Promise<{ entry: 'dist' | 'tsx'; samples: Record<Where, number[]> }> {
  const entry = await cliEntry();
  const command = entry === 'dist' ? [join(ROOT, 'dist', 'cli.js')] : ['--import', 'tsx', join(ROOT, 'lib', 'cli.ts')];
  const samples: Record<Where, number[]> = { local: [], ssh: [] };
  const tick = phaseProgress(`ssh: CLI run (${entry}), local and ssh interleaved`, repeats);
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    for (const where of WHERE) {
      const args = [...command, 'run', ...(where === 'ssh' ? ['--docker-host', sshd.address()] : []), '-'];
      const { ms, value } = await timed(() =>
        execa(process.execPath, args, { input: HELLO, env: sshd.env, reject: false, cwd: ROOT, stripFinalNewline: false }),
      );
      if (value.exitCode !== 0) throw new ScriptFailure(`CLI run (${where}) exited ${String(value.exitCode)}: ${value.stderr.slice(0, 500)}`);
      expectHello(value.stdout, `CLI run (${where})`, value.stderr);
      samples[where].push(round(ms));
    }
    tick();
  }
  log(`ssh: CLI run local ${samples.local.join(', ')} ms; ssh ${samples.ssh.join(', ')} ms`);
  return { entry, samples };
}

/** Warm runs on two pools of one (local, ssh), interleaved, both quiet before each run. */
async function measureWarmRuns(sshd: LocalSshd, config: BenchConfig): Promise<Record<Where, { samples: number[]; summary: Summary }>> {
  const sandboxes = new Map<Where, Sandbox>();
  try {
    sandboxes.set('local', await openSandbox({ poolSize: 1 }));
    sandboxes.set('ssh', await openSandbox({ poolSize: 1, dockerHost: sshd.address() }));
    const samples: Record<Where, number[]> = { local: [], ssh: [] };
    // The quick bench (CI) only checks that the rows work: a few runs.
    const runs = config.mode === 'quick' ? QUICK_WARM_RUNS : config.latencyRuns;
    const tick = phaseProgress('ssh: warm runs, local and ssh interleaved', runs);
    for (let iteration = -config.latencyWarmupRuns; iteration < runs; iteration += 1) {
      for (const where of WHERE) {
        const sandbox = sandboxes.get(where)!;
        await Promise.all([...sandboxes.values()].map((each) => each.whenWarm()));
        const { ms } = await timed(() => runOnLibrary(sandbox, HELLO, `(a) library, ${where}`));
        if (iteration >= 0) samples[where].push(ms);
      }
      if (iteration >= 0) tick();
    }
    const pack = (list: number[]): { samples: number[]; summary: Summary } => ({ samples: list.map((ms) => round(ms, 3)), summary: summarize(list) });
    return { local: pack(samples.local), ssh: pack(samples.ssh) };
  } finally {
    await Promise.allSettled([...sandboxes.values()].map((sandbox) => closeSandbox(sandbox)));
  }
}

/** initialize() of a pool of 4, local and over ssh, interleaved. */
async function measurePoolReady(sshd: LocalSshd, repeats: number): Promise<Record<Where, number[]>> {
  const samples: Record<Where, number[]> = { local: [], ssh: [] };
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    for (const where of WHERE) {
      const sandbox = newSandbox({ poolSize: POOL_SIZE, ...(where === 'ssh' && { dockerHost: sshd.address() }) });
      try {
        samples[where].push(round((await timed(() => sandbox.initialize())).ms));
      } finally {
        await closeSandbox(sandbox);
      }
    }
  }
  log(`ssh: pool of ${POOL_SIZE} ready: local ${samples.local.join(', ')} ms; ssh ${samples.ssh.join(', ')} ms`);
  return samples;
}

/** dist/cli.js when it is at least as new as every file under lib/, else lib/cli.ts through tsx. */
async function cliEntry(): Promise<'dist' | 'tsx'> {
  const built = await stat(join(ROOT, 'dist', 'cli.js')).catch(() => undefined);
  if (built === undefined) return 'tsx';
  const newest = async (dir: string): Promise<number> => {
    let latest = 0;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      latest = Math.max(latest, entry.isDirectory() ? await newest(path) : (await stat(path)).mtimeMs);
    }
    return latest;
  };
  return built.mtimeMs >= (await newest(join(ROOT, 'lib'))) ? 'dist' : 'tsx';
}

/** The section of the text report. */
export function sshSection(result: SshResult | undefined): string[] {
  if (result === undefined) return [];
  const row = (name: string, local: number, ssh: number, comparison: string): string =>
    `  ${name.padEnd(26)} ${local.toFixed(1).padStart(9)} ${ssh.toFixed(1).padStart(9)}   ${comparison}`;
  const times = (value: number | undefined): string => (value === undefined ? '-' : `${value.toFixed(2)}x`);
  return [
    '',
    `8. The local engine directly and over ssh:// (an sshd on 127.0.0.1), ms; ${result.sshConnections} ssh connections for ${result.sshSandboxes} Sandboxes`,
    `  ${''.padEnd(26)} ${'local'.padStart(9)} ${'ssh'.padStart(9)}`,
    row(`CLI run, median (${result.cliEntry})`, median(result.cliRunMs.local), median(result.cliRunMs.ssh), times(result.cliRatio)),
    row(
      'warm run p50',
      result.warm.local.summary.p50,
      result.warm.ssh.summary.p50,
      `${result.warmP50DeltaMs >= 0 ? '+' : ''}${result.warmP50DeltaMs.toFixed(1)} ms`,
    ),
    row(`pool of ${POOL_SIZE} ready, median`, median(result.poolReadyMs.local), median(result.poolReadyMs.ssh), times(result.poolRatio)),
  ];
}

export function sshTargets(result: SshResult | undefined): Target[] {
  const check = (name: string, value: number | undefined, ok: (value: number) => boolean, show: (value: number) => string): Target =>
    value === undefined ? { name, status: 'SKIP', measured: 'not measured' } : { name, status: ok(value) ? 'PASS' : 'MISS', measured: show(value) };
  const times = (value: number): string => `${value.toFixed(2)}x`;
  return [
    check(`CLI run over ssh <= ${CLI_MAX_RATIO}x local`, result?.cliRatio, (v) => v <= CLI_MAX_RATIO, times),
    check(
      `warm p50 over ssh <= local + ${WARM_MAX_DELTA_MS} ms`,
      result?.warmP50DeltaMs,
      (v) => v <= WARM_MAX_DELTA_MS,
      (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} ms`,
    ),
    check(`pool of ${POOL_SIZE} over ssh <= ${POOL_MAX_RATIO}x local`, result?.poolRatio, (v) => v <= POOL_MAX_RATIO, times),
  ];
}
