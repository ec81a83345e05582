/**
 * Typed operations on the Docker engine (or Podman: see engine-flavour.ts). Callers never see argv:
 * they ask for an image check, a container, an attached process or a removal, and get typed errors back.
 */
import { ContainerStartError, DockerCliError, EngineUnavailableError, ImageNotFoundError, RuntimeNotFoundError, SandboxOptionsError } from '../errors.js';
import { DockerCli, type AttachedProcess, type DockerCliConfig } from './cli.js';
import {
  buildAttachedRunArgs,
  buildDetachedRunArgs,
  buildEventsArgs,
  buildRemoveArgs,
  buildUpdateArgs,
  type ContainerEventName,
  type ContainerSpec,
} from './container-args.js';
import type { EngineFlavour } from './engine-flavour.js';

/** Docker's words for a missing image, and Podman's ("image not known"). */
const NO_SUCH_IMAGE = /No such image|Unable to find image|pull access denied|image not known/i;
/** Podman's `--init` needs catatonit (Debian's package of that name), which it does not depend on. */
const NO_INIT_BINARY = /container-init binary not found|catatonit/i;
/** The cgroup controllers that enforce --memory, --cpus and --pids-limit. */
const ENFORCED_CONTROLLERS = ['memory', 'cpu', 'pids'];
/** Podman's container states that are not running (it has no "dead"; `docker ps --filter status=dead` would be refused). */
const PODMAN_NOT_RUNNING = ['created', 'exited', 'stopped'];
/** What `docker rm -f` says of containers that are gone, or going, already. */
const ALREADY_GONE = /No such container|is already in progress/i;

export type EngineConfig = DockerCliConfig;

/** How long `ping` waits for an answer: a running engine answers in tens of milliseconds. */
const PING_TIMEOUT_MS = 5_000;

/** A container as `listLabelled` sees it. */
export interface LabelledContainer {
  /** Full id. */
  id: string;
  name: string;
  /** The asked-for labels' values; undefined when the container lacks one (or it is empty). */
  labels: Record<string, string | undefined>;
}

export class DockerEngine {
  readonly #cli: DockerCli;
  /** Podman only: whether it enforces limits, asked once (checkImage()). */
  #podmanLimits: Promise<void> | undefined;

  constructor(config: EngineConfig) {
    this.#cli = new DockerCli(config);
  }

  /**
   * Gets ready for many calls (idempotent): resolves a context's endpoint (EngineUnavailableError
   * naming a context that does not exist), warns once about a plain tcp:// engine, and opens the
   * one ssh connection an ssh:// engine's calls will share. Rejects with EngineUnavailableError
   * when that connection cannot be made. Without it every call still works, each ssh:// one
   * through a new ssh connection.
   */
  open(): Promise<void> {
    return this.#cli.open();
  }

  /** Closes what open() opened: the ssh connection and its temp dir. Idempotent. */
  close(): Promise<void> {
    return this.#cli.close();
  }

  /** How errors name this engine: its address or context, as given. */
  get address(): string {
    return this.#cli.engineAddress;
  }

  /** Docker or Podman: found at open(), guessed from the binary's name before. */
  get flavour(): EngineFlavour {
    return this.#cli.flavour;
  }

  /**
   * Why containers on this engine cannot share network namespaces (lib/runner/netns-holders.ts), or
   * undefined when they can. Podman records a container that joins another's namespace as depending
   * on it: the holder can then neither be removed nor expire (--rm) while that container exists,
   * and `rm --depend` would take the container with it.
   */
  get netnsReuseUnsupported(): string | undefined {
    return this.flavour.kind === 'podman' ? "Podman makes a container joining another's network namespace depend on it" : undefined;
  }

  /**
   * Resolves when the engine answers and has the image; rejects with a typed error otherwise. On
   * Podman (once per engine, at the same time) also that it enforces limits (checkPodmanLimits()).
   */
  async checkImage(image: string): Promise<void> {
    const inspect = this.#cli.run(['image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 30_000 }).then(
      () => undefined,
      (error: unknown) => {
        throw asImageError(error, image, this.flavour);
      },
    );
    if (this.flavour.kind === 'podman' && !rootfulHere(this.flavour)) this.#podmanLimits ??= this.#checkPodmanLimits();
    await Promise.all([inspect, this.flavour.kind === 'podman' ? this.#podmanLimits : undefined]);
  }

  /**
   * Rootless Podman on cgroup v1, or on v2 without the controllers delegated to the user, ignores
   * --memory, --cpus and --pids-limit with no more than a warning: a sandbox there would have no
   * limits. Refused, with what to do instead. Not asked of a local Podman run by root (rootful: it
   * has every controller of the host, as Docker does), since `podman info` takes ~0.4 s.
   */
  async #checkPodmanLimits(): Promise<void> {
    const args = ['info', '--format', '{{json .Host.CgroupControllers}} {{.Host.Security.Rootless}} {{.Host.CgroupsVersion}}'];
    const { stdout } = await this.#cli.run(args, { timeoutMs: 30_000 }).catch((error: unknown) => {
      this.#podmanLimits = undefined; // asked again next time
      throw error;
    });
    const [controllers = '[]', rootless = '', version = ''] = stdout.trim().split(' ');
    const available = (JSON.parse(controllers) as string[] | null) ?? [];
    const missing = ENFORCED_CONTROLLERS.filter((controller) => !available.includes(controller));
    if (missing.length === 0) return;
    const why =
      rootless === 'true' ? `rootless Podman on cgroup ${version} has no ${missing.join(', ')} controller` : `Podman lists no ${missing.join(', ')} controller`;
    throw new EngineUnavailableError(
      `Podman cannot enforce the sandbox's limits here (${why}): it would ignore --memory, --cpus or --pids-limit. Run Podman as root, or ` +
        'rootless on cgroup v2 with the memory, cpu and pids controllers delegated to the user (systemd: Delegate=memory pids cpu).',
      { command: `${this.#cli.binary} ${args.join(' ')}`, stderr: '' },
    );
  }

  /** Resolves when the engine answers; rejects with EngineUnavailableError (within a few seconds) when it does not. */
  async ping(): Promise<void> {
    try {
      await this.#cli.run(['version', '--format', '{{.Server.Version}}'], { timeoutMs: PING_TIMEOUT_MS });
    } catch (error) {
      // An engine that accepts connections but never answers (hung, or its daemon stopped) is down too.
      if (error instanceof DockerCliError && error.timedOut) {
        throw new EngineUnavailableError(`The Docker engine at ${this.#cli.engineAddress} did not answer within ${PING_TIMEOUT_MS} ms; is it hung?`, {
          command: error.command ?? 'docker version',
          stderr: error.stderr,
          cause: error,
        });
      }
      throw error;
    }
  }

  /** The EngineUnavailableError to report when the engine does not answer now, else undefined. Never rejects. */
  async whyUnavailable(): Promise<EngineUnavailableError | undefined> {
    try {
      await this.ping();
      return undefined;
    } catch (error) {
      return error instanceof EngineUnavailableError ? error : undefined;
    }
  }

  /**
   * Rejects with RuntimeNotFoundError unless the engine has the runtime. On Podman, gVisor is refused
   * (SandboxOptionsError); other runtimes are Podman's to find when the first container starts, as
   * Podman lists only its default runtime.
   */
  async checkRuntime(runtime: string): Promise<void> {
    if (this.flavour.kind === 'podman') return checkPodmanRuntime(runtime);
    const args = ['info', '--format', '{{json .Runtimes}}'];
    const { stdout } = await this.#cli.run(args, { timeoutMs: 30_000 });
    const available = Object.keys(JSON.parse(stdout || '{}') as Record<string, unknown>);
    if (!available.includes(runtime)) throw new RuntimeNotFoundError(runtime, available, { command: `docker ${args.join(' ')}` });
  }

  /**
   * Creates and starts a container whose main process is attached to the returned streams
   * (`docker run -i --rm`). If the CLI exits before the caller hears from the process, pass its
   * stderr to startFailure() for the error to report.
   */
  runAttached(spec: ContainerSpec): AttachedProcess {
    return this.#cli.spawn(buildAttachedRunArgs(spec, this.flavour));
  }

  /** Creates and starts a container that runs in the background (`docker run -d`). */
  async runDetached(spec: ContainerSpec): Promise<void> {
    try {
      await this.#cli.run(buildDetachedRunArgs(spec, this.flavour));
    } catch (error) {
      throw asImageError(error, spec.image, this.flavour);
    }
  }

  /** The typed error for an attached container that never started: engine down, image gone, or other. */
  startFailure(image: string, command: string, exitCode: number | undefined, stderr: string): Error {
    const error = asImageError(this.#cli.failure(command, exitCode, stderr), image, this.flavour) as Error;
    if (!(error instanceof DockerCliError)) return error;
    if (this.flavour.kind === 'podman' && NO_INIT_BINARY.test(stderr)) {
      return new ContainerStartError(
        `Podman cannot start the container's init process (--init): install catatonit (as root on Debian: \`npm run setup:podman\`). podman said: ${stderr.trim().slice(0, 1_000)}`,
        { command, cause: error },
      );
    }
    return new ContainerStartError(`The sandbox container exited before it was ready: ${stderr.trim().slice(0, 2_000)}`, {
      command,
      cause: error,
    });
  }

  /** Changes a running container's memory (no swap on top) and CPU limits. */
  async updateLimits(container: string, limits: { memoryLimitMb: number; cpus: number }): Promise<void> {
    await this.#cli.run(buildUpdateArgs(container, limits), { timeoutMs: 30_000 });
  }

  /** Force-removes containers in one CLI call; containers already gone are not an error. */
  async removeContainers(containers: readonly string[]): Promise<void> {
    if (containers.length === 0) return;
    try {
      await this.#cli.run(buildRemoveArgs(containers, this.flavour));
    } catch (error) {
      if (error instanceof DockerCliError && onlyMissingContainers(error.stderr)) return;
      throw error;
    }
  }

  /**
   * A stream of container events (one JSON object per line) for containers with the label. Docker
   * and Podman name fields and events differ: container-events.ts reads both.
   */
  watchEvents(label: string, events: readonly ContainerEventName[]): AttachedProcess {
    return this.#cli.spawn(buildEventsArgs(label, events, this.flavour));
  }

  /** Names of the containers (running or not; with `notRunning`, only those not running) that carry every given label. */
  listContainers(labels: Readonly<Record<string, string | undefined>>, { notRunning = false } = {}): Promise<string[]> {
    const stopped = this.flavour.kind === 'podman' ? PODMAN_NOT_RUNNING : ['created', 'exited', 'dead'];
    return this.#list(labels, '{{.Names}}', notRunning ? stopped : []);
  }

  /** Full ids of the containers (running or not) that carry every given label. */
  containerIds(labels: Readonly<Record<string, string | undefined>>): Promise<string[]> {
    return this.#list(labels, '{{.ID}}');
  }

  /**
   * Every container (running or not) that carries `label`, with the values of the labels named in
   * `keys`. One `docker ps` call; each line is a JSON object built by the format template. Podman's
   * `ps` has no `.Label` function: its `.Labels` is a map, printed whole as JSON.
   */
  async listLabelled(label: string, keys: readonly string[]): Promise<LabelledContainer[]> {
    const fields = keys.map((key) => `${JSON.stringify(key)}:{{json (.Label ${JSON.stringify(key)})}}`).join(',');
    const labels = this.flavour.kind === 'podman' ? '{{json .Labels}}' : `{${fields}}`;
    const format = `{"id":{{json .ID}},"name":{{json .Names}},"labels":${labels}}`;
    const args = ['ps', '--all', '--no-trunc', '--filter', `label=${label}`, '--format', format];
    const { stdout } = await this.#cli.run(args, { timeoutMs: 30_000 });
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const row = JSON.parse(line) as { id: string; name: string; labels: Record<string, string | undefined> | null };
        const values = Object.fromEntries(keys.map((key) => [key, row.labels?.[key] === '' ? undefined : row.labels?.[key]]));
        return { id: row.id, name: row.name, labels: values };
      });
  }

  async #list(labels: Readonly<Record<string, string | undefined>>, format: string, statuses: readonly string[] = []): Promise<string[]> {
    const filters = Object.entries(labels).flatMap(([key, value]) => ['--filter', value === undefined ? `label=${key}` : `label=${key}=${value}`]);
    filters.push(...statuses.flatMap((status) => ['--filter', `status=${status}`])); // several statuses: any of them
    const { stdout } = await this.#cli.run(['ps', '--all', '--no-trunc', '--format', format, ...filters]);
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
  }
}

/** Whether Podman runs as root: a local one, started by a root process. */
function rootfulHere(flavour: EngineFlavour): boolean {
  return !flavour.remote && process.getuid?.() === 0;
}

/** Podman and gVisor: refused, since a gVisor sandbox's death at its memory limit is reported only by the engine's OOM event. */
function checkPodmanRuntime(runtime: string): void {
  if (runtime !== 'runsc') return;
  throw new SandboxOptionsError([
    {
      path: 'runtime',
      message:
        '"runsc" (gVisor) is not supported with Podman: Podman 4.3 reports no OOM events, and under gVisor they are the only way to tell a ' +
        'program killed at its memory limit from one killed otherwise. Use Docker with gVisor (`npm run setup`), or leave runtime unset',
    },
  ]);
}

function asImageError(error: unknown, image: string, flavour: EngineFlavour): unknown {
  if (!(error instanceof DockerCliError && NO_SUCH_IMAGE.test(error.stderr))) return error;
  const missing = new ImageNotFoundError(image, { command: error.command ?? '', cause: error });
  // Podman's store is its own: an image built for Docker is not in it until loaded there.
  if (flavour.kind === 'podman') missing.message = podmanImageMissing(image);
  return missing;
}

function podmanImageMissing(image: string): string {
  const how = image.startsWith('docker-python-sandbox:') // this package's images (latest, scientific)
    ? 'Put it there with `npm run setup:podman` (as root: it copies the images Docker has with `docker save | podman load`).'
    : `Pull or load it into Podman (e.g. \`docker save ${image} | podman load\`), or leave the \`image\` option at its default.`;
  return `The image "${image}" is not in Podman's store, which is separate from Docker's. ${how}`;
}

function onlyMissingContainers(stderr: string): boolean {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.length > 0 && lines.every((line) => ALREADY_GONE.test(line));
}
