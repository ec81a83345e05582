/**
 * A Docker engine of a spec's own, for specs that stop or restart an engine, or remove every
 * container of the library: a second `dockerd` beside the shared one, on its own socket, data root,
 * exec root, pidfile, containerd (started by it, in its own namespaces) and cgroup parent, with
 * runc only. The shared engine is never touched.
 *
 *   const engine = await startPrivateEngine(t);               // up, images loaded, no leftover containers
 *   const sandbox = new Sandbox({ dockerHost: engine.host });
 *   await engine.stop();                                       // down, like a crash or restart: containers die
 *   await engine.start();                                      // same data root again
 *
 * Loading the 160 MB sandbox image into an empty engine takes about 7 s, so each engine lives in a
 * slot, /var/tmp/dps-pe/<n> (DPS_PRIVATE_ENGINE_ROOT overrides the parent), whose data root is kept
 * from run to run: an image is loaded only when its id differs from the shared engine's. A slot is
 * held through a lock file naming the process that holds it; a slot whose holder died is taken over,
 * and whatever that holder left running (a dockerd, its containerd and shims, container
 * processes, mounts) is killed or unmounted first. Each test still gets a clean engine: containers
 * labelled docker-python-sandbox left on the private engine are removed when it starts.
 *
 * Options: `isolatedTmp: true` starts the daemon in a mount namespace of its own with a private
 * tmpfs on /tmp, so that, like an engine on another machine, it cannot see this host's /tmp (where
 * the library's temp dirs are); it still sees the slot under /var/tmp (a slot root under /tmp is
 * refused). `extraArgs` go to dockerd after the helper's own flags, e.g. `--tlsverify ... -H
 * tcp://127.0.0.1:PORT` (dockerd listens on every --host given: the helper's unix socket stays).
 * engine.freeze() stops the daemon with SIGSTOP, as a hung engine: its socket still accepts, nothing
 * answers; engine.thaw() lets it go on (SIGCONT).
 *
 * When the test ends (t.after) the work given to engine.onTeardown() runs, a frozen daemon is
 * thawed, the engine's labelled containers are removed, the daemon is stopped, and the helper
 * checks that no dockerd, containerd or shim of the slot is left. t.after hooks run in registration order, so this one runs before
 * those registered after startPrivateEngine(t): clean up Sandboxes of the private engine in the
 * test, or through engine.onTeardown(), not through a later t.after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { access, mkdir, readFile, readdir, rmdir, unlink, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { execa } from 'execa';
import { LABEL } from '../../lib/docker/labels.js';
import { DEFAULT_IMAGE } from '../../lib/options.js';

export interface PrivateEngine {
  /** The engine's address, for DOCKER_HOST or the Sandbox's `dockerHost` option: unix:///.../docker.sock. */
  readonly host: string;
  /** The slot directory: data root, exec root, socket, pidfile and log (dockerd.log) are in it. */
  readonly dir: string;
  /** The daemon's log file; its tail is part of every error of this helper. */
  readonly logFile: string;
  /** Whether this helper's dockerd process is running. */
  readonly running: boolean;
  /**
   * Takes the engine down, as a crash or a restart would: SIGTERM, and SIGKILL if the daemon has
   * not exited within 5 s. Resolves once the daemon has exited and every container process is dead
   * (after a SIGKILL, what it left is killed). No-op when it is not running.
   */
  stop(): Promise<void>;
  /** Starts the daemon again on the same data root; resolves when it answers. No-op when running. */
  start(): Promise<void>;
  /**
   * Stops the dockerd process (only it: containerd, shims and containers go on) with SIGSTOP, as a
   * hung engine: its socket accepts connections but nothing answers. No-op when not running.
   */
  freeze(): Promise<void>;
  /** Lets a frozen dockerd go on (SIGCONT); resolves when it answers again. No-op when not frozen. */
  thaw(): Promise<void>;
  /** Whether the daemon is frozen (freeze() without thaw() since). */
  readonly frozen: boolean;
  /** Runs the docker CLI against this engine (killed after timeoutMs, default 120 s); never rejects (look at exitCode). */
  docker(args: readonly string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /**
   * Work to do at teardown while the engine still answers, last registered first, e.g.
   * `engine.onTeardown(() => sandbox.cleanup())`. Needed because t.after hooks run in the order
   * they were registered: a Sandbox's t.after(cleanup), registered after startPrivateEngine(t),
   * would run once the engine is gone, and fail.
   */
  onTeardown(work: () => unknown): void;
}

export interface PrivateEngineOptions {
  /** Images to copy from the shared engine (default: the sandbox image). */
  images?: readonly string[];
  /**
   * Run the daemon in a mount namespace of its own with a private, empty tmpfs on /tmp: it does
   * not see this host's /tmp (nor anything mounted there later), as an engine on another machine
   * would not. The slot (under /var/tmp) stays visible to it.
   */
  isolatedTmp?: boolean;
  /**
   * More dockerd flags, after the helper's own, e.g. `['--tlsverify', '--tlscacert', ca, ...,
   * '-H', 'tcp://127.0.0.1:2376']`. Extra `-H`/`--host` listeners are added beside the helper's
   * unix socket, which `host` and docker() keep using. Files they name must be visible to the
   * daemon (not under /tmp with isolatedTmp).
   */
  extraArgs?: readonly string[];
}

const DEFAULT_ROOT = '/var/tmp/dps-pe';
const ROOT = process.env.DPS_PRIVATE_ENGINE_ROOT ?? DEFAULT_ROOT;
/** Names the slots of another root apart (cgroups, containerd namespaces): dps-pe-0, or dps-pe-1a2b3c4d-0. */
const ROOT_TAG = ROOT === DEFAULT_ROOT ? 'dps-pe' : `dps-pe-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}`;
/** How many private engines may run at once on this machine (one per slot). */
const SLOTS = 4;
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const KILL_WAIT_MS = 5_000;
/** A unix socket path must fit in sun_path (108 bytes); containerd's ttrpc socket is the longest. */
const MAX_SOCKET_PATH = 100;

interface Slot {
  index: number;
  dir: string;
  lockFile: string;
  socket: string;
  dataRoot: string;
  execRoot: string;
  pidFile: string;
  logFile: string;
  configFile: string;
  /** The slot's name for containerd namespaces. */
  name: string;
  /** Containers of this engine live in this cgroup (not under /docker, the shared engine's). */
  cgroupParent: string;
}

function slotAt(index: number): Slot {
  const dir = join(ROOT, String(index));
  return {
    index,
    dir,
    lockFile: join(dir, 'lock'),
    socket: join(dir, 'docker.sock'),
    dataRoot: join(dir, 'data'),
    execRoot: join(dir, 'exec'),
    pidFile: join(dir, 'dockerd.pid'),
    logFile: join(dir, 'dockerd.log'),
    configFile: join(dir, 'daemon.json'),
    name: `${ROOT_TAG}-${index}`,
    cgroupParent: `/${ROOT_TAG}-${index}`,
  };
}

/** Slots held by this process (the lock file alone cannot tell two engines of one process apart). */
const heldHere = new Set<number>();

/** A running private engine on a free slot, torn down when the test ends. */
export async function startPrivateEngine(t: TestContext, options: PrivateEngineOptions = {}): Promise<PrivateEngine> {
  const images = options.images ?? [DEFAULT_IMAGE];
  const dockerd = await findDockerd();
  if (options.isolatedTmp === true) await checkIsolationPossible();
  const slot = await acquireSlot();
  const engine = new Engine(slot, dockerd, { isolatedTmp: options.isolatedTmp ?? false, extraArgs: options.extraArgs ?? [] });
  t.after(() => engine.teardown());
  const started = performance.now();
  await removeLeftovers(slot);
  await mkdir(slot.dataRoot, { recursive: true });
  await mkdir(slot.execRoot, { recursive: true });
  // Its own (empty) config: never /etc/docker/daemon.json, whose runtimes are the shared engine's.
  await writeFile(slot.configFile, '{}\n');
  await writeFile(slot.logFile, '');
  await engine.start();
  const up = performance.now() - started;
  await engine.removeLabelledContainers();
  const loaded: string[] = [];
  const loadStarted = performance.now();
  for (const image of images) if (await engine.loadImage(image)) loaded.push(image);
  const load = performance.now() - loadStarted;
  t.diagnostic(
    `private engine ${slot.dir}: up in ${up.toFixed(0)} ms; images ${loaded.length > 0 ? `loaded (${loaded.join(', ')})` : 'already there'} in ${load.toFixed(0)} ms`,
  );
  return engine;
}

class Engine implements PrivateEngine {
  readonly host: string;
  readonly dir: string;
  readonly logFile: string;
  readonly #slot: Slot;
  readonly #dockerd: string;
  readonly #launch: LaunchOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #frozen = false;
  #tornDown = false;
  readonly #teardownWork: (() => unknown)[] = [];
  /** If the process exits without the teardown (it should not), the daemon still goes down with it. */
  readonly #onExit = (): void => {
    this.#child?.kill('SIGTERM');
    if (this.#frozen) this.#child?.kill('SIGCONT'); // a stopped process acts on SIGTERM once continued
  };

  constructor(slot: Slot, dockerd: string, launch: LaunchOptions) {
    this.#slot = slot;
    this.#dockerd = dockerd;
    this.#launch = launch;
    this.host = `unix://${slot.socket}`;
    this.dir = slot.dir;
    this.logFile = slot.logFile;
    process.on('exit', this.#onExit);
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async start(): Promise<void> {
    if (this.#tornDown) throw new Error(`the private engine in ${this.dir} was torn down`);
    if (this.#child !== undefined) return;
    const slot = this.#slot;
    // A flag and its value stay on one line.
    // prettier-ignore
    const args = [
      '--host', this.host,
      '--data-root', slot.dataRoot,
      '--exec-root', slot.execRoot,
      '--pidfile', slot.pidFile,
      '--config-file', slot.configFile,
      // As the shared engine (scripts/ensure-docker.sh): the default bridge cannot be made here.
      '--bridge', 'none',
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      // Its own containerd (dockerd starts one under the exec root), in namespaces of its own.
      '--containerd-namespace', slot.name,
      '--containerd-plugins-namespace', `${slot.name}-plugins`,
      '--exec-opt', 'native.cgroupdriver=cgroupfs',
      '--cgroup-parent', slot.cgroupParent,
      '--shutdown-timeout', '2',
      // No --live-restore: containers die with the daemon, as they do with the shared one.
      ...this.#launch.extraArgs,
    ];
    const [command, argv] = this.#launch.isolatedTmp ? isolatedTmpCommand(this.#dockerd, args) : [this.#dockerd, args];
    const log = openSync(slot.logFile, 'a');
    let child: ChildProcess;
    try {
      writeSync(log, `\n=== ${new Date().toISOString()} private engine: ${command} ${argv.join(' ')}\n`);
      // Not detached: a Ctrl-C in the terminal reaches it too, and it shuts down cleanly.
      child = spawn(command, argv, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    this.#frozen = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        spawnError = error;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    this.#child = child;
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawnError !== undefined) throw await this.#failure(`dockerd could not be started: ${spawnError.message}`);
      if (exit !== undefined) throw await this.#failure(`dockerd exited (code ${String(exit.code)}, signal ${String(exit.signal)}) before it answered`);
      const version = await this.docker(['version', '--format', '{{.Server.Version}}'], 5_000);
      if (version.exitCode === 0) return;
      if (performance.now() > deadline) {
        await this.stop();
        throw await this.#failure(`dockerd did not answer within ${READY_TIMEOUT_MS} ms (last: ${version.stderr.trim().slice(0, 300)})`);
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    // A stopped process keeps SIGTERM pending until it is continued (SIGKILL needs no SIGCONT).
    if (this.#frozen) child.kill('SIGCONT');
    this.#frozen = false;
    if (!(await within(this.#exited, STOP_GRACE_MS))) {
      child.kill('SIGKILL');
      if (!(await within(this.#exited, KILL_WAIT_MS))) throw await this.#failure(`dockerd (pid ${String(child.pid)}) survived SIGKILL`);
    }
    // A clean shutdown stops every container and containerd; after a SIGKILL they live on: kill
    // them, as a crash of the whole engine would (dockerd cleans up the rest when it starts again).
    await this.#killLeftovers();
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  freeze(): Promise<void> {
    const child = this.#child;
    if (child === undefined || this.#frozen) return Promise.resolve();
    // The child is dockerd itself (with isolatedTmp, unshare and sh exec into it): nothing else stops.
    child.kill('SIGSTOP');
    this.#frozen = true;
    return Promise.resolve();
  }

  async thaw(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.#frozen) return;
    child.kill('SIGCONT');
    this.#frozen = false;
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      const version = await this.docker(['version', '--format', '{{.Server.Version}}'], 5_000);
      if (version.exitCode === 0) return;
      if (performance.now() > deadline)
        throw await this.#failure(`dockerd did not answer within ${READY_TIMEOUT_MS} ms of SIGCONT: ${version.stderr.trim().slice(0, 300)}`);
      await sleep(100);
    }
  }

  async docker(args: readonly string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const result = await execa('docker', ['--host', this.host, ...args], { reject: false, stdin: 'ignore', timeout: timeoutMs });
    return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), exitCode: result.exitCode ?? -1 };
  }

  onTeardown(work: () => unknown): void {
    this.#teardownWork.push(work);
  }

  /** Removes every container labelled docker-python-sandbox on THIS engine. */
  async removeLabelledContainers(): Promise<void> {
    // Right after a start the engine may itself be removing the --rm containers of its last run
    // ("removal ... is already in progress"): ask again until none is left.
    const deadline = performance.now() + 30_000;
    for (;;) {
      const ids = (await this.#must(['ps', '--all', '--quiet', '--filter', `label=${LABEL}`])).split('\n').filter(Boolean);
      if (ids.length === 0) return;
      const removal = await this.docker(['rm', '--force', '--volumes', ...ids]);
      const unexpected = removal.stderr.split('\n').filter((line) => line.trim() && !/No such container|is already in progress/.test(line));
      if (removal.exitCode !== 0 && unexpected.length > 0) {
        throw await this.#failure(`docker --host ${this.host} rm --force ${ids.join(' ')} exited ${removal.exitCode}: ${removal.stderr.trim()}`);
      }
      if (performance.now() > deadline) throw await this.#failure(`containers labelled ${LABEL} are still there after 30 s: ${ids.join(' ')}`);
      if (removal.exitCode !== 0) await sleep(200);
    }
  }

  /** Copies an image from the shared engine unless this one has the same id; true when it loaded it. */
  async loadImage(image: string): Promise<boolean> {
    const shared = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { reject: false, stdin: 'ignore' });
    if (shared.exitCode !== 0) throw new Error(`the shared engine has no image ${image} to copy (npm run setup builds it): ${shared.stderr.trim()}`);
    const mine = await this.docker(['image', 'inspect', '--format', '{{.Id}}', image]);
    if (mine.exitCode === 0 && mine.stdout.trim() === shared.stdout.trim()) return false;
    try {
      await execa('docker', ['save', image], { stdin: 'ignore', buffer: false }).pipe('docker', ['--host', this.host, 'load', '--quiet'], { buffer: true });
    } catch (error) {
      throw await this.#failure(`docker save ${image} | docker --host ${this.host} load failed: ${(error as Error).message.slice(0, 1_000)}`);
    }
    const loaded = await this.#must(['image', 'inspect', '--format', '{{.Id}}', image]);
    if (loaded.trim() !== shared.stdout.trim()) throw await this.#failure(`${image} loaded as ${loaded.trim()}, not ${shared.stdout.trim()}`);
    // Older copies of the image, now untagged, would only fill the disk.
    await this.docker(['image', 'prune', '--force']);
    return true;
  }

  /** t.after: nothing of the slot may be left running, and the slot is free again. */
  async teardown(): Promise<void> {
    if (this.#tornDown) return;
    this.#tornDown = true;
    const problems: string[] = [];
    try {
      // A frozen engine would make every step below wait for its timeout.
      await this.thaw().catch((error: unknown) => problems.push(`thawing: ${(error as Error).message}`));
      // With the engine down (the test stopped it and failed), that work may fail: no news then.
      const up = this.#child !== undefined;
      for (const work of this.#teardownWork.reverse()) {
        try {
          await work();
        } catch (error) {
          if (up) problems.push(`onTeardown work failed: ${(error as Error).message}`);
        }
      }
      if (this.#child !== undefined) {
        await this.removeLabelledContainers().catch((error: unknown) => problems.push(`removing labelled containers: ${(error as Error).message}`));
        await this.stop().catch((error: unknown) => problems.push(`stopping: ${(error as Error).message}`));
      }
      await this.#killLeftovers();
      await unmountUnder(this.#slot.dir);
      const left = await slotProcesses(this.#slot);
      if (left.length > 0) problems.push(`still running after teardown: ${left.map((p) => `${p.comm} (pid ${p.pid})`).join(', ')}`);
    } finally {
      process.off('exit', this.#onExit);
      await releaseSlot(this.#slot);
    }
    if (problems.length > 0) throw await this.#failure(`private engine teardown: ${problems.join('; ')}`);
  }

  /** Kills what a daemon of this slot left behind (none after a clean shutdown). */
  async #killLeftovers(): Promise<void> {
    if (this.#child !== undefined) return;
    await removeLeftovers(this.#slot, false);
  }

  async #must(args: readonly string[]): Promise<string> {
    const result = await this.docker(args);
    if (result.exitCode !== 0) throw await this.#failure(`docker --host ${this.host} ${args.join(' ')} exited ${result.exitCode}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  async #failure(message: string): Promise<Error> {
    return new Error(`${message}\n--- last lines of ${this.logFile} ---\n${await logTail(this.logFile)}`);
  }
}

interface LaunchOptions {
  isolatedTmp: boolean;
  extraArgs: readonly string[];
}

/** Size of the isolated engine's own /tmp: it holds nothing of ours, only what dockerd puts there. */
const ISOLATED_TMP_SIZE = '64m';

/**
 * dockerd in a new mount namespace whose mounts are all private (nothing mounted there reaches
 * this host, nothing mounted on this host later reaches it), with an empty tmpfs over /tmp. unshare
 * and sh exec into dockerd, so the child's pid is dockerd's: signals and the slot's process lookup
 * see the daemon itself.
 */
function isolatedTmpCommand(dockerd: string, args: readonly string[]): [string, string[]] {
  const script = `mount -t tmpfs -o mode=1777,size=${ISOLATED_TMP_SIZE} dps-isolated-tmp /tmp && exec "$@"`;
  return ['unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', dockerd, ...args]];
}

/** An isolated engine hides /tmp: the slot must not be there, and unshare must exist. */
async function checkIsolationPossible(): Promise<void> {
  if (ROOT === '/tmp' || ROOT.startsWith('/tmp/')) {
    throw new Error(`isolatedTmp: the private engine root ${ROOT} is under /tmp, which the isolated engine cannot see; set DPS_PRIVATE_ENGINE_ROOT elsewhere`);
  }
  const found = await execa('unshare', ['--version'], { reject: false, stdin: 'ignore' });
  if (found.exitCode !== 0) throw new Error(`isolatedTmp needs unshare (util-linux): ${String(found.stderr ?? found.message)}`);
}

// ---------------------------------------------------------------------------------------------
// Slots and what a dead holder left behind
// ---------------------------------------------------------------------------------------------

async function acquireSlot(): Promise<Slot> {
  const holders: string[] = [];
  for (let index = 0; index < SLOTS; index++) {
    if (heldHere.has(index)) continue;
    heldHere.add(index); // before any await: two engines of this process never race for a slot
    const slot = slotAt(index);
    try {
      const longest = join(slot.execRoot, 'containerd', 'containerd.sock.ttrpc');
      if (longest.length > MAX_SOCKET_PATH) throw new Error(`${longest} is too long for a unix socket: set DPS_PRIVATE_ENGINE_ROOT to a shorter path`);
      await mkdir(slot.dir, { recursive: true });
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await writeFile(slot.lockFile, `${process.pid}\n`, { flag: 'wx' });
          return slot;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const holder = Number((await readFile(slot.lockFile, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
          holders.push(`${slot.dir} (pid ${holder})`);
          break;
        }
        await unlink(slot.lockFile).catch(() => {}); // its holder is gone
      }
    } catch (error) {
      heldHere.delete(index);
      throw error;
    }
    heldHere.delete(index);
  }
  throw new Error(`no free private-engine slot under ${ROOT}; held by: ${holders.join(', ') || 'this process'}`);
}

async function releaseSlot(slot: Slot): Promise<void> {
  heldHere.delete(slot.index);
  const holder = (await readFile(slot.lockFile, 'utf8').catch(() => '')).trim();
  if (holder === String(process.pid)) await unlink(slot.lockFile).catch(() => {});
}

/**
 * Kills every process of the slot's engine (dockerd, its containerd and shims, and the processes
 * of its containers, found through its cgroup parent), then, when `unmount`, unmounts what is
 * mounted under the slot. Only ever things whose command line or cgroup names this slot.
 */
async function removeLeftovers(slot: Slot, unmount = true): Promise<void> {
  const daemons = await slotProcesses(slot);
  // dockerd first, so it does not restart what is killed next; then the containers, then the rest.
  const order = [daemons.filter((p) => p.comm === 'dockerd'), await cgroupProcesses(slot), daemons.filter((p) => p.comm !== 'dockerd')];
  for (const group of order) {
    for (const { pid } of group) killQuietly(pid, 'SIGKILL');
    const deadline = performance.now() + KILL_WAIT_MS;
    while (group.some(({ pid }) => isAlive(pid)) && performance.now() < deadline) await sleep(50);
  }
  await removeCgroupDirs(slot);
  // dockerd refuses to start while the pid in its pidfile exists, and waits for the containerd
  // named in containerd's; a killed process whose parent died may stay a zombie for a while (and
  // kill(pid, 0) succeeds on a zombie).
  for (const pidFile of [slot.pidFile, join(slot.execRoot, 'containerd', 'containerd.pid')]) {
    const stalePid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (stalePid > 0 && !isAlive(stalePid)) await unlink(pidFile).catch(() => {});
  }
  if (unmount) await unmountUnder(slot.dir);
}

interface SlotProcess {
  pid: number;
  comm: string;
}

/** dockerd, containerd and containerd-shim processes whose command line names the slot's directory. */
async function slotProcesses(slot: Slot): Promise<SlotProcess[]> {
  const found: SlotProcess[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      if (!/^(dockerd|containerd|containerd-shim.*)$/.test(comm)) continue;
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (args.some((arg) => arg === slot.dir || arg.startsWith(`${slot.dir}/`) || arg.includes(`//${slot.dir}/`))) found.push({ pid, comm });
    } catch {
      // it exited while we looked
    }
  }
  return found;
}

/** Where the slot's containers' cgroups are: cgroup v1 (one hierarchy is enough) or v2. */
function cgroupRoots(slot: Slot): string[] {
  return ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'].map((base) => join(base, slot.cgroupParent));
}

async function cgroupProcesses(slot: Slot): Promise<SlotProcess[]> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const line of procs.split('\n')) if (line.trim()) pids.add(Number(line));
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name));
  };
  for (const root of cgroupRoots(slot)) await walk(root);
  return [...pids].map((pid) => ({ pid, comm: 'container process' }));
}

/** Removes the slot's empty cgroup directories in every hierarchy (children first; busy ones stay). */
async function removeCgroupDirs(slot: Slot): Promise<void> {
  const prune = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await prune(join(dir, entry.name));
    await rmdir(dir).catch(() => {});
  };
  const hierarchies = await readdir('/sys/fs/cgroup').catch(() => []);
  for (const name of hierarchies) await prune(join('/sys/fs/cgroup', name, slot.cgroupParent));
  await prune(join('/sys/fs/cgroup', slot.cgroupParent));
}

/** Unmounts whatever is mounted under dir (the data root's bind mount, overlays, netns files), deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point !== undefined && point.startsWith(`${dir}/`));
  for (const point of [...new Set(points)].sort((a, b) => b.length - a.length)) {
    const plain = await execa('umount', [point], { reject: false, stdin: 'ignore' });
    if (plain.exitCode !== 0) await execa('umount', ['--lazy', point], { reject: false, stdin: 'ignore' });
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

async function findDockerd(): Promise<string> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, 'dockerd');
    if (
      await access(candidate).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new Error('dockerd is not installed: run `npm run setup` (as root on Debian it installs docker.io)');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie is dead already: a killed container process stays one until its shim reaps it.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether the promise settles within ms. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return settled;
}

async function logTail(file: string, lines = 25): Promise<string> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => `(cannot read the log: ${(error as Error).message})`);
  return text
    .trimEnd()
    .split('\n')
    .filter((line) => !/\[core\]|level=info msg="(skip loading plugin|loading plugin)/.test(line)) // grpc and plugin chatter
    .slice(-lines)
    .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
    .join('\n');
}
