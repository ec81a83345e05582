/**
 * Measures the smallest `pidsLimit` a gVisor (runsc) container of this library can start and work
 * under, on this machine. lib/options.ts enforces a minimum above it (with a margin: gVisor's own
 * Go threads count against the pids cgroup, and there are more of them on machines with more CPUs).
 *
 * For each candidate N it does what `new Sandbox({ runtime: 'runsc', pidsLimit: N, poolSize: 1 })`
 * does on initialize() and two run()s: it starts a warm container, runs `print(1)` in it, starts
 * another and runs a program that starts a subprocess, and removes them. It drives the Sandbox's own
 * container machinery (ContainerFleet, the same `docker run` arguments) rather than a Sandbox,
 * because a Sandbox now refuses the small limits this measures. It walks a coarse ladder down,
 * binary-searches between the highest failing and the lowest working value, repeats the boundary
 * and the value below it, and climbs until a value works every time. It also reads the
 * container's pids count (`docker stats`) once warm: how much of the limit gVisor itself takes.
 * Around 32 gVisor may hang half-started (`runsc start` never returns): the script then goes on,
 * and at the end names any container it could not remove.
 *
 * Usage: npx tsx scripts/measure-runsc-pids.ts [--repeats 5] [--low 8] [--high 256]
 *        npx tsx scripts/measure-runsc-pids.ts --values 64,66,68 [--repeats 10]
 * Raw results go to stdout as one JSON line per attempt, then a summary line. Only containers of
 * this script's own fleets (labelled docker-python-sandbox.sandbox=<its id>) are removed.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { execa } from 'execa';
import { SANDBOX_LABEL } from '../lib/docker/labels.js';
import { parseSandboxOptions } from '../lib/options.js';
import { ContainerFleet } from '../lib/runner/container-fleet.js';
import type { WarmContainer } from '../lib/runner/warm-container.js';
import { cleanUpOnInterrupt } from './interrupt.js';

const SUBPROCESS_CODE = "import subprocess; print(subprocess.run(['python3','-c','print(2)'],capture_output=True).stdout)";

interface Attempt {
  pidsLimit: number;
  works: boolean;
  /** Where it failed: 'initialize', 'print', 'subprocess'; null when it worked. */
  failedAt: string | null;
  detail: string;
  /** The container's pids count while warm and idle (gVisor's sandbox, gofer and the waiting Python), when it started. */
  pidsWhenWarm: number | null;
  ms: number;
  /** The containers could not be removed afterwards (see `leaked` below). */
  leaked?: string;
}

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(args[index + 1]);
};
const REPEATS = flag('repeats', 5);
const LOW = flag('low', 8);
const HIGH = flag('high', 256);
const valuesIndex = args.indexOf('--values');
const VALUES = valuesIndex === -1 ? undefined : (args[valuesIndex + 1] ?? '').split(',').map(Number);

let current: ContainerFleet | undefined;
/**
 * Fleets whose containers could not be removed. Around 32, gVisor can hang half-started: `runsc
 * start` never returns, the container stays "Created" and `docker rm` waits for it. The script
 * goes on, tries those removals again at the end, and names what is left.
 */
const leaked = new Set<string>();
const interruption = cleanUpOnInterrupt(
  async () => {
    await current?.stop();
  },
  (message) => process.stderr.write(`${message}\n`),
);

async function pidsOf(fleetId: string): Promise<number | null> {
  const ids = (await execa('docker', ['ps', '-q', '--filter', `label=${SANDBOX_LABEL}=${fleetId}`])).stdout.split('\n').filter(Boolean);
  if (ids.length !== 1) return null;
  const pids = (await execa('docker', ['stats', '--no-stream', '--format', '{{.PIDs}}', ids[0]!])).stdout.trim();
  return /^\d+$/.test(pids) ? Number(pids) : null;
}

async function attempt(pidsLimit: number): Promise<Attempt> {
  const started = Date.now();
  // What a Sandbox resolves for { runtime: 'runsc', poolSize: 1 }, with the pids limit under test
  // put in after validation.
  const options = { ...parseSandboxOptions({ runtime: 'runsc', poolSize: 1, startTimeoutMs: 30_000 }), pidsLimit };
  const fleetId = randomBytes(6).toString('hex');
  const fleet = new ContainerFleet(options, fleetId, options.engines[0]!);
  current = fleet;
  const result = (works: boolean, failedAt: string | null, detail: string, pidsWhenWarm: number | null): Attempt => ({
    pidsLimit,
    works,
    failedAt,
    detail: detail.replace(/\s+/g, ' ').slice(0, 300),
    pidsWhenWarm,
    ms: Date.now() - started,
  });
  // One program in one fresh container, as a Sandbox runs it; `pids` is read while it is warm and idle.
  const runOne = async (code: string, expected: string): Promise<{ problem?: string; stage: 'initialize' | 'run'; pids: number | null }> => {
    let container: WarmContainer;
    try {
      container = await fleet.create(false);
    } catch (error) {
      return { problem: String(error), stage: 'initialize', pids: null };
    }
    const pids = await pidsOf(fleetId).catch(() => null);
    try {
      const execution = await container.execute(code, { timeoutMs: 20_000, maxOutputBytes: options.maxOutputBytes });
      if (execution.stdout === expected && execution.exitCode === 0) return { stage: 'run', pids };
      return { problem: JSON.stringify([execution.reason, execution.exitCode, execution.stdout, execution.stderr]), stage: 'run', pids };
    } catch (error) {
      return { problem: String(error), stage: 'run', pids };
    } finally {
      await fleet.destroy([container]);
    }
  };
  try {
    await fleet.start();
    const first = await runOne('print(1)', '1\n');
    if (first.problem !== undefined) return result(false, first.stage === 'initialize' ? 'initialize' : 'print', first.problem, first.pids);
    const second = await runOne(SUBPROCESS_CODE, "b'2\\n'\n");
    if (second.problem !== undefined)
      return result(false, second.stage === 'initialize' ? 'initialize' : 'subprocess', second.problem, second.pids ?? first.pids);
    return result(true, null, 'ok', first.pids);
  } finally {
    await fleet.stop().catch((error: unknown) => {
      leaked.add(fleetId);
      process.stderr.write(`pidsLimit ${pidsLimit}: could not remove the containers of fleet ${fleetId}: ${String(error)}\n`);
    });
    current = undefined;
  }
}

const attempts: Attempt[] = [];
async function tryLimit(pidsLimit: number): Promise<boolean> {
  const leakedBefore = leaked.size;
  const outcome = await attempt(pidsLimit);
  if (leaked.size > leakedBefore) outcome.leaked = 'its containers could not be removed (gVisor hung while starting)';
  attempts.push(outcome);
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
  return outcome.works;
}

async function main(): Promise<void> {
  const runsc = await execa('runsc', ['--version']).then(
    (r) => r.stdout.split('\n')[0] ?? 'unknown',
    () => 'unknown',
  );
  process.stderr.write(`runsc: ${runsc}; CPUs: ${availableParallelism()}\n`);
  if (VALUES !== undefined) {
    for (let round = 0; round < REPEATS; round++) for (const n of VALUES) await tryLimit(n);
    summarize(runsc, undefined);
    return;
  }
  if (!(await tryLimit(HIGH))) throw new Error(`pidsLimit ${HIGH} does not work under runsc here: nothing to measure`);

  // Coarse ladder down from HIGH, then bisect between the last failure and the first success.
  let works = HIGH;
  let fails = LOW - 1;
  for (let n = Math.floor(HIGH / 2); n >= LOW; n = Math.floor(n / 2)) {
    if (await tryLimit(n)) works = n;
    else {
      fails = n;
      break;
    }
  }
  while (works - fails > 1) {
    const middle = Math.floor((works + fails) / 2);
    if (await tryLimit(middle)) works = middle;
    else fails = middle;
  }

  // Repeat the boundary: the smallest value that works every time, and the one below it.
  const boundary = [fails, works].filter((n) => n >= LOW);
  for (let round = 1; round < REPEATS; round++) for (const n of boundary) await tryLimit(n);
  let reliable = works;
  while (attempts.some((a) => a.pidsLimit === reliable && !a.works)) {
    reliable++;
    for (let round = 0; round < REPEATS; round++) await tryLimit(reliable);
  }

  summarize(runsc, reliable);
}

function summarize(runsc: string, smallestReliable: number | undefined): void {
  const table = Object.fromEntries(
    [...new Set(attempts.map((a) => a.pidsLimit))]
      .sort((a, b) => a - b)
      .map((n) => {
        const of = attempts.filter((a) => a.pidsLimit === n);
        return [n, `${of.filter((a) => a.works).length}/${of.length} work`];
      }),
  );
  const warm = attempts.map((a) => a.pidsWhenWarm).filter((n): n is number => n !== null);
  process.stdout.write(
    `${JSON.stringify({ summary: { runsc, cpus: availableParallelism(), smallestReliable, table, pidsWhenWarm: { min: Math.min(...warm), max: Math.max(...warm) } } })}\n`,
  );
}

/** Tries the removals that failed once more (only this script's fleets), and names what is still there. */
async function sweepLeaked(): Promise<void> {
  for (const fleetId of leaked) {
    const names = (await execa('docker', ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=${SANDBOX_LABEL}=${fleetId}`])).stdout
      .split('\n')
      .filter(Boolean);
    if (names.length === 0) continue;
    const removal = await execa('docker', ['rm', '--force', '--volumes', ...names], { reject: false, timeout: 60_000 });
    if (removal.exitCode !== 0) {
      process.stderr.write(`still there: ${names.join(' ')} (a hung runsc holds them; they go once its runsc-sandbox process ends)\n`);
      process.exitCode = 1;
    }
  }
}

main()
  .finally(sweepLeaked)
  .catch((error: unknown) => {
    if (interruption.interrupted) return;
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
