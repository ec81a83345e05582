/**
 * Typed operations on the Docker engine. Callers never see argv: they ask for an image check, a
 * container, an attached process or a removal, and get typed errors back.
 */
import { DockerCliError, ImageNotFoundError } from '../errors.js';
import { DockerCli, type AttachedProcess, type DockerCliConfig } from './cli.js';
import {
  buildAttachedExecArgs,
  buildRemoveArgs,
  buildRunArgs,
  type ContainerSpec,
  type ExecSpec,
} from './container-args.js';

const NO_SUCH_IMAGE = /No such image|Unable to find image|pull access denied/i;
const NO_SUCH_CONTAINER = /No such container/i;

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

  /** Names of the containers (running or not) that carry every given label. */
  async listContainers(labels: Readonly<Record<string, string | undefined>>): Promise<string[]> {
    const filters = Object.entries(labels).flatMap(([key, value]) => [
      '--filter',
      value === undefined ? `label=${key}` : `label=${key}=${value}`,
    ]);
    const { stdout } = await this.#cli.run(['ps', '--all', '--no-trunc', '--format', '{{.Names}}', ...filters]);
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
