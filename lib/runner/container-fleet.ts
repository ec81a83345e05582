/**
 * Everything a Sandbox asks of Docker, in its own terms: is the engine with the image there, make
 * a warm container, destroy used ones, follow their deaths and OOM kills, and sweep up what is left.
 */
import type { ContainerLimits } from '../docker/container-args.js';
import { createLabels, SANDBOX_LABEL } from '../docker/labels.js';
import { DockerEngine } from '../docker/engine.js';
import type { ResolvedSandboxOptions } from '../options.js';
import type { PoolResourceFactory } from '../pool/pool.js';
import { ContainerEvents } from './container-events.js';
import { WarmContainer, type ContainerSettings } from './warm-container.js';

/** The container limits a Sandbox's options ask for. */
export function limitsOf(options: ResolvedSandboxOptions): ContainerLimits {
  return {
    memoryLimitMb: options.memoryLimitMb,
    cpus: options.cpus,
    pidsLimit: options.pidsLimit,
    user: options.user,
    network: options.network,
    runtime: options.runtime,
    readOnlyRoot: options.readOnlyRoot,
    tmpSizeMb: options.tmpSizeMb,
    workdirSizeMb: options.workdirSizeMb,
    fileSizeLimitMb: options.fileSizeLimitMb,
    openFilesLimit: options.openFilesLimit,
  };
}

export class ContainerFleet implements PoolResourceFactory<WarmContainer> {
  readonly #engine: DockerEngine;
  readonly #settings: ContainerSettings;
  readonly #sandboxId: string;
  readonly #events: ContainerEvents;
  #sequence = 0;

  constructor(options: ResolvedSandboxOptions, sandboxId: string) {
    this.#engine = new DockerEngine({ binary: options.dockerPath, host: options.dockerHost });
    this.#sandboxId = sandboxId;
    this.#events = new ContainerEvents(this.#engine, `${SANDBOX_LABEL}=${sandboxId}`);
    this.#settings = {
      image: options.image,
      labels: createLabels(sandboxId),
      startTimeoutMs: options.startTimeoutMs,
      limits: limitsOf(options),
    };
  }

  /** Rejects with EngineUnavailableError, ImageNotFoundError or RuntimeNotFoundError when containers cannot be made. */
  async start(): Promise<void> {
    await this.#engine.checkImage(this.#settings.image);
    const runtime = this.#settings.limits.runtime;
    if (runtime !== undefined) await this.#engine.checkRuntime(runtime);
    this.#events.start();
  }

  async create(): Promise<WarmContainer> {
    this.#sequence += 1;
    const container = await WarmContainer.start(this.#engine, `dps-${this.#sandboxId}-${this.#sequence}`, this.#settings);
    this.#events.watch(container);
    return container;
  }

  async destroy(items: readonly WarmContainer[]): Promise<void> {
    for (const item of items) this.#events.unwatch(item);
    await this.#engine.removeContainers(items.map((item) => item.name)).catch(() => {});
    await Promise.all(items.map((item) => item.releaseHostResources()));
  }

  /** Stops following events and removes any container still labelled as this Sandbox's. */
  async stop(): Promise<void> {
    this.#events.stop();
    const names = await this.#engine.listContainers({ [SANDBOX_LABEL]: this.#sandboxId });
    await this.#engine.removeContainers(names);
  }
}
