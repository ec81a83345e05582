/**
 * The two ways to run a program without this library, under the library's default limits:
 *
 *   (b) one-shot  `docker run --rm -i <limits> IMAGE python3 -`, code on stdin
 *   (c) naive     a pre-started container per program, the code written in, `docker exec python3`
 *
 * Every baseline container carries the library's label and the bench's own with this run's id, so
 * that the bench sweeps up exactly its own.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTAINER_LABEL } from '../../lib/index.js';
import { buildLimitArgs } from '../../lib/docker/container-args.js';
import { limitsOf } from '../../lib/runner/container-fleet.js';
import { DEFAULT_IMAGE, parseSandboxOptions } from '../../lib/options.js';
import { containersLabelled, docker, removeContainers } from '../shared/docker.js';
import { expectHello } from './hello.js';

export const IMAGE = DEFAULT_IMAGE;
export const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
const BENCH_LABEL = `${CONTAINER_LABEL}.bench`;

/** The library's default limits as docker flags: the baselines run under exactly these. */
export const LIMIT_ARGS = buildLimitArgs(limitsOf(parseSandboxOptions({})));
const BASELINE_ARGS = ['--pull', 'never', '--label', CONTAINER_LABEL, '--label', `${BENCH_LABEL}=${RUN_ID}`, ...LIMIT_ARGS];

/** (b): one `docker run --rm -i` per program, code on stdin. The CLI returns once the container is removed. */
export async function runOneShot(code: string): Promise<string> {
  const { stdout, stderr } = await docker(['run', '--rm', '-i', ...BASELINE_ARGS, IMAGE, 'python3', '-'], code);
  expectHello(stdout, '(b) docker run --rm', stderr);
  return stdout;
}

/**
 * (c): a pre-started container that runs one program through `docker exec`.
 *
 * `docker cp` into the container does not work under the library's limits: the root filesystem
 * is read-only and the engine refuses the copy ("container rootfs is marked read-only") even when
 * the target is the /tmp tmpfs. So, like the library, each container gets its own host temp dir
 * bind-mounted read-only at /sandbox-in, and "copying the code in" is a file write on the host.
 */
export class NaiveContainer {
  private constructor(
    readonly id: string,
    private readonly dir: string,
  ) {}

  static async start(): Promise<NaiveContainer> {
    const dir = await mkdtemp(join(tmpdir(), 'dps-bench-'));
    try {
      await chmod(dir, 0o711); // the container user (uid 1000) must reach the file
      const { stdout } = await docker(['run', '-d', ...BASELINE_ARGS, '--volume', `${dir}:/sandbox-in:ro`, IMAGE, 'sleep', 'infinity']);
      return new NaiveContainer(stdout.trim(), dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async run(code: string): Promise<string> {
    await writeFile(join(this.dir, 'main.py'), code, { mode: 0o644 });
    const { stdout, stderr } = await docker(['exec', this.id, 'python3', '/sandbox-in/main.py']);
    expectHello(stdout, '(c) docker exec', stderr);
    return stdout;
  }

  async remove(): Promise<void> {
    await removeContainers([this.id]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Removes whatever baseline containers of this run are left; returns how many there were. */
export async function sweepBaselineContainers(): Promise<number> {
  const ids = await containersLabelled(`${BENCH_LABEL}=${RUN_ID}`);
  await removeContainers(ids);
  return ids.length;
}
