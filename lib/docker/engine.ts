/**
 * Typed operations on the Docker engine. Callers never see argv: they ask for an image check, a
 * container, an attached process or a removal, and get typed errors back.
 */
import { ContainerStartError, DockerCliError, EngineUnavailableError, ImageNotFoundError, RuntimeNotFoundError } from '../errors.js';
import { DockerCli, type AttachedProcess, type DockerCliConfig } from './cli.js';
import { buildAttachedRunArgs, buildDetachedRunArgs, buildEventsArgs, buildRemoveArgs, buildUpdateArgs, type ContainerSpec } from './container-args.js';

const NO_SUCH_IMAGE = /No such image|Unable to find image|pull access denied/i;
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

  /** Resolves when the engine answers and has the image; rejects with a typed error otherwise. */
  async checkImage(image: string): Promise<void> {
    try {
      await this.#cli.run(['image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 30_000 });
    } catch (error) {
      throw asImageError(error, image);
    }
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

  /** Rejects with RuntimeNotFoundError unless the engine has the runtime. */
  async checkRuntime(runtime: string): Promise<void> {
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
    return this.#cli.spawn(buildAttachedRunArgs(spec));
  }

  /** Creates and starts a container that runs in the background (`docker run -d`). */
  async runDetached(spec: ContainerSpec): Promise<void> {
    try {
      await this.#cli.run(buildDetachedRunArgs(spec));
    } catch (error) {
      throw asImageError(error, spec.image);
    }
  }

  /** The typed error for an attached container that never started: engine down, image gone, or other. */
  startFailure(image: string, command: string, exitCode: number | undefined, stderr: string): Error {
    const error = asImageError(this.#cli.failure(command, exitCode, stderr), image) as Error;
    if (!(error instanceof DockerCliError)) return error;
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
      await this.#cli.run(buildRemoveArgs(containers));
    } catch (error) {
      if (error instanceof DockerCliError && onlyMissingContainers(error.stderr)) return;
      throw error;
    }
  }

  /** A stream of container events (one JSON object per line) for containers with the label. */
  watchEvents(label: string, events: readonly string[]): AttachedProcess {
    return this.#cli.spawn(buildEventsArgs(label, events));
  }

  /** Names of the containers (running or not; with `notRunning`, only those not running) that carry every given label. */
  listContainers(labels: Readonly<Record<string, string | undefined>>, { notRunning = false } = {}): Promise<string[]> {
    return this.#list(labels, '{{.Names}}', notRunning ? ['created', 'exited', 'dead'] : []);
  }

  /** Full ids of the containers (running or not) that carry every given label. */
  containerIds(labels: Readonly<Record<string, string | undefined>>): Promise<string[]> {
    return this.#list(labels, '{{.ID}}');
  }

  /**
   * Every container (running or not) that carries `label`, with the values of the labels named in
   * `keys`. One `docker ps` call; each line is a JSON object built by the format template.
   */
  async listLabelled(label: string, keys: readonly string[]): Promise<LabelledContainer[]> {
    const fields = keys.map((key) => `${JSON.stringify(key)}:{{json (.Label ${JSON.stringify(key)})}}`).join(',');
    const format = `{"id":{{json .ID}},"name":{{json .Names}},"labels":{${fields}}}`;
    const args = ['ps', '--all', '--no-trunc', '--filter', `label=${label}`, '--format', format];
    const { stdout } = await this.#cli.run(args, { timeoutMs: 30_000 });
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const row = JSON.parse(line) as { id: string; name: string; labels: Record<string, string> };
        const values = Object.fromEntries(keys.map((key) => [key, row.labels[key] === '' ? undefined : row.labels[key]]));
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

function asImageError(error: unknown, image: string): unknown {
  if (error instanceof DockerCliError && NO_SUCH_IMAGE.test(error.stderr)) {
    return new ImageNotFoundError(image, { command: error.command ?? '', cause: error });
  }
  return error;
}

function onlyMissingContainers(stderr: string): boolean {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.length > 0 && lines.every((line) => ALREADY_GONE.test(line));
}
