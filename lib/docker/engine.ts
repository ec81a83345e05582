/**
 * Typed operations on the Docker engine. Callers never see argv: they ask for an image check, a
 * container, an attached process or a removal, and get typed errors back.
 */
import { DockerCliError, ImageNotFoundError, RuntimeNotFoundError } from '../errors.js';
import { DockerCli, type AttachedProcess, type DockerCliConfig } from './cli.js';
import {
  buildAttachedExecArgs,
  buildEventsArgs,
  buildExecArgs,
  buildInspectOomArgs,
  buildRemoveArgs,
  buildRunArgs,
  type ContainerSpec,
  type ExecSpec,
} from './container-args.js';

const NO_SUCH_IMAGE = /No such image|Unable to find image|pull access denied/i;
const NO_SUCH_CONTAINER = /No such container/i;
/** The memory cgroup's counters, cgroup v1 then v2; either may be absent. */
const OOM_COUNTERS = 'cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null; true';

export type EngineConfig = DockerCliConfig;

export class DockerEngine {
  readonly #cli: DockerCli;

  constructor(config: EngineConfig) {
    this.#cli = new DockerCli(config);
  }

  /** Resolves when the engine answers and has the image; rejects with a typed error otherwise. */
  async checkImage(image: string): Promise<void> {
    try {
      await this.#cli.run(['image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 30_000 });
    } catch (error) {
      throw asImageError(error, image);
    }
  }

  /** Rejects with RuntimeNotFoundError unless the engine has the runtime. */
  async checkRuntime(runtime: string): Promise<void> {
    const args = ['info', '--format', '{{json .Runtimes}}'];
    const { stdout } = await this.#cli.run(args, { timeoutMs: 30_000 });
    const available = Object.keys(JSON.parse(stdout || '{}') as Record<string, unknown>);
    if (!available.includes(runtime)) throw new RuntimeNotFoundError(runtime, available, { command: `docker ${args.join(' ')}` });
  }

  /** Creates and starts a container; resolves with its id. */
  async startContainer(spec: ContainerSpec): Promise<string> {
    try {
      const { stdout } = await this.#cli.run(buildRunArgs(spec));
      return stdout.trim();
    } catch (error) {
      throw asImageError(error, spec.image);
    }
  }

  /** Starts `docker exec -i` in a container and hands back its streams. */
  attach(spec: ExecSpec): AttachedProcess {
    return this.#cli.spawn(buildAttachedExecArgs(spec));
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

  /**
   * How many times the kernel's OOM killer struck in a running container, from its memory
   * cgroup's oom_kill counter (State.OOMKilled stays false for processes started by docker exec).
   * Undefined when there is no such view: the container is not running, or runs under gVisor.
   */
  async oomKillCount(container: string): Promise<number | undefined> {
    try {
      const { stdout } = await this.#cli.run(buildExecArgs(container, ['sh', '-c', OOM_COUNTERS]), { timeoutMs: 10_000 });
      const kills = /^oom_kill (\d+)$/m.exec(stdout);
      return kills === null ? undefined : Number(kills[1]);
    } catch {
      return undefined;
    }
  }

  /** The engine's own verdict, State.OOMKilled: set when the whole container was killed at its limit. */
  async inspectOomKilled(container: string): Promise<boolean> {
    try {
      const { stdout } = await this.#cli.run(buildInspectOomArgs(container), { timeoutMs: 10_000 });
      return stdout.trim() === 'true';
    } catch {
      return false;
    }
  }

  /** A stream of container events (one JSON object per line) for containers with the label. */
  watchEvents(label: string, events: readonly string[]): AttachedProcess {
    return this.#cli.spawn(buildEventsArgs(label, events));
  }

  /** Names of the containers (running or not) that carry every given label. */
  listContainers(labels: Readonly<Record<string, string | undefined>>): Promise<string[]> {
    return this.#list(labels, '{{.Names}}');
  }

  /** Full ids of the containers (running or not) that carry every given label. */
  containerIds(labels: Readonly<Record<string, string | undefined>>): Promise<string[]> {
    return this.#list(labels, '{{.ID}}');
  }

  async #list(labels: Readonly<Record<string, string | undefined>>, format: string): Promise<string[]> {
    const filters = Object.entries(labels).flatMap(([key, value]) => [
      '--filter',
      value === undefined ? `label=${key}` : `label=${key}=${value}`,
    ]);
    const { stdout } = await this.#cli.run(['ps', '--all', '--no-trunc', '--format', format, ...filters]);
    return stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  }
}

function asImageError(error: unknown, image: string): unknown {
  if (error instanceof DockerCliError && NO_SUCH_IMAGE.test(error.stderr)) {
    return new ImageNotFoundError(image, { command: error.command ?? '', cause: error });
  }
  return error;
}

function onlyMissingContainers(stderr: string): boolean {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.length > 0 && lines.every((line) => NO_SUCH_CONTAINER.test(line));
}
