/**
 * Everything a Sandbox asks of Docker, in its own terms: is the engine with the image there, make
 * a warm container, destroy used ones, and sweep up whatever of this Sandbox is left.
 */
import { createLabels, SANDBOX_LABEL } from '../docker/labels.js';
import { DockerEngine } from '../docker/engine.js';
import type { ResolvedSandboxOptions } from '../options.js';
import type { PoolResourceFactory } from '../pool/pool.js';
import { WarmContainer, type ContainerSettings } from './warm-container.js';

export class ContainerFleet implements PoolResourceFactory<WarmContainer> {
  readonly #engine: DockerEngine;
  readonly #settings: ContainerSettings;
  readonly #sandboxId: string;
  #sequence = 0;

  constructor(options: ResolvedSandboxOptions, sandboxId: string) {
    this.#engine = new DockerEngine({ binary: options.dockerPath, host: options.dockerHost });
    this.#sandboxId = sandboxId;
    this.#settings = {
      image: options.image,
      memoryLimitMb: options.memoryLimitMb,
      labels: createLabels(sandboxId),
      startTimeoutMs: options.startTimeoutMs,
    };
  }

  /** Rejects with EngineUnavailableError or ImageNotFoundError when containers cannot be made. */
  checkPrerequisites(): Promise<void> {
    return this.#engine.checkImage(this.#settings.image);
  }

  create(): Promise<WarmContainer> {
    this.#sequence += 1;
    return WarmContainer.start(this.#engine, `dps-${this.#sandboxId}-${this.#sequence}`, this.#settings);
  }

  async destroy(items: readonly WarmContainer[]): Promise<void> {
    await this.#engine.removeContainers(items.map((item) => item.name)).catch(() => {});
    await Promise.all(items.map((item) => item.releaseHostResources()));
  }

  /** Removes any container still labelled as this Sandbox's (a last sweep at cleanup). */
  async removeLeftovers(): Promise<void> {
    const names = await this.#engine.listContainers({ [SANDBOX_LABEL]: this.#sandboxId });
    await this.#engine.removeContainers(names);
  }
}
