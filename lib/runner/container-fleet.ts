/**
 * Everything a Sandbox asks of Docker, in its own terms: is the engine with the image there, make
 * a warm container, destroy used ones, follow their deaths and OOM kills, and sweep up what is left.
 */
import type { ContainerLimits } from '../docker/container-args.js';
import { createLabels, ROLE_LABEL, SANDBOX_LABEL } from '../docker/labels.js';
import { DockerEngine } from '../docker/engine.js';
import { EngineUnavailableError, ImageNotFoundError, SandboxError } from '../errors.js';
import { DEFAULT_ENGINE_NAME, type ResolvedEngineOptions, type ResolvedSandboxOptions } from '../options.js';
import type { PoolResourceFactory } from '../pool/pool.js';
import { ContainerEvents } from './container-events.js';
import { NetnsHolders } from './netns-holders.js';
import { reapOrphans } from './orphan-reaper.js';
import { WarmContainer, type ContainerSettings, type ExecuteOptions, type Execution } from './warm-container.js';
import { inputTmpfsSizeMb, InputTransferChoice, startWithInputTransfer } from './input-transfer.js';
import { swallowed } from '../debug.js';

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

/** How long a container whose program ended may take to exit and be removed by the engine. */
const SELF_REMOVAL_GRACE_MS = 5_000;

/**
 * The containers of one Sandbox on ONE engine (a Sandbox with several engines has a fleet for each).
 */
export class ContainerFleet implements PoolResourceFactory<WarmContainer> {
  /** The engine's name in `options.engines`. */
  readonly name: string;
  /** Whether errors name the engine in their message (the Sandbox lists `engines`). */
  readonly #namedInErrors: boolean;
  readonly #engine: DockerEngine;
  /** The names of this fleet's containers that are not destroyed yet. */
  readonly #live = new Set<string>();
  /**
   * The engine stopped answering: containers are not removed one by one (the calls would fail or
   * hang), and the next creation first checks the engine and removes what this Sandbox left on it.
   */
  #suspect = false;
  /** The settings of this fleet's containers but their transfer mode, which #inputTransfer gives. */
  readonly #settings: Omit<ContainerSettings, 'transfer'>;
  readonly #inputTransferOption: ResolvedSandboxOptions['inputTransfer'];
  /** How runs' inputs reach this engine's containers: decided anew at each start(). */
  #inputTransfer: InputTransferChoice;
  readonly #sandboxId: string;
  readonly #events: ContainerEvents;
  /** Reusable empty network namespaces; only for runc with no network (gVisor has its own netstack). */
  readonly #holders: NetnsHolders | undefined;
  readonly #holderOf = new Map<WarmContainer, string>();
  #sequence = 0;
  /** Reaping of dead owners' leftovers: at start, then every intervalMs (0: never). */
  readonly #reaping: { atStart: boolean; intervalMs: number };
  #reapTimer: NodeJS.Timeout | undefined;
  #reapRound: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ResolvedSandboxOptions, sandboxId: string, engine: ResolvedEngineOptions) {
    this.name = engine.name;
    this.#namedInErrors = options.engines.length > 1 || engine.name !== DEFAULT_ENGINE_NAME;
    this.#engine = new DockerEngine({ binary: options.dockerPath, host: engine.dockerHost, context: engine.context });
    this.#sandboxId = sandboxId;
    this.#reaping = { atStart: options.reapOrphans, intervalMs: options.reapOrphans ? options.reapIntervalMs : 0 };
    this.#events = new ContainerEvents(this.#engine, `${SANDBOX_LABEL}=${sandboxId}`);
    this.#settings = {
      image: options.image,
      labels: createLabels(sandboxId, 'runner'),
      startTimeoutMs: options.startTimeoutMs,
      limits: limitsOf(options),
      preload: options.preload,
      inputTmpfsSizeMb: inputTmpfsSizeMb(options.maxFilesBytes),
    };
    this.#inputTransferOption = options.inputTransfer;
    this.#inputTransfer = new InputTransferChoice(options.inputTransfer);
    if (options.network === 'none' && options.runtime === undefined) {
      this.#holders = new NetnsHolders(
        this.#engine,
        { image: options.image, labels: createLabels(sandboxId, 'netns'), limits: this.#settings.limits, namePrefix: `dps-${sandboxId}-netns-` },
        2 * engine.poolSize, // one in use and one coming back, per slot
        this.#events,
      );
    }
  }

  /** Rejects with EngineUnavailableError, ImageNotFoundError or RuntimeNotFoundError when containers cannot be made. */
  async start(): Promise<void> {
    // Meanwhile, reap what killed processes left on this engine (and their temp dirs): never the
    // containers of a live owner, this process's other Sandboxes included. A failure here is not
    // the start's: an engine that cannot answer fails the checks below.
    this.#stopped = false;
    // 'auto' is decided by the first containers: no docker call of its own (input-transfer.ts).
    this.#inputTransfer = new InputTransferChoice(this.#inputTransferOption);
    // First of all: a context's endpoint, and an ssh:// engine's one connection for every call below.
    await this.#engine.open().catch((error: unknown) => {
      throw this.#named(error);
    });
    const reaping = this.#reaping.atStart ? reapOrphans(this.#engine).catch(swallowed('reaping orphans at start')) : undefined;
    try {
      await this.#engine.checkImage(this.#settings.image);
      const runtime = this.#settings.limits.runtime;
      if (runtime !== undefined) await this.#engine.checkRuntime(runtime);
    } catch (error) {
      throw this.#named(error);
    } finally {
      await reaping;
    }
    this.#events.start();
    this.#scheduleReaping();
  }

  /**
   * Reaps again from time to time, for owners that die while this Sandbox lives (one `docker ps`
   * and a look at this host's /proc and temp dir per round).
   */
  #scheduleReaping(): void {
    if (this.#reaping.intervalMs === 0 || this.#stopped) return;
    // Background work nobody awaits: it must not keep the process alive by itself.
    this.#reapTimer = setTimeout(() => {
      this.#reapRound = reapOrphans(this.#engine)
        .then(
          () => undefined,
          swallowed('a periodic reaping round'), // the engine may be down for a while: the pool reports that
        )
        .finally(() => {
          this.#reapRound = undefined;
          this.#scheduleReaping();
        });
    }, this.#reaping.intervalMs).unref();
  }

  async create(recovering: boolean): Promise<WarmContainer> {
    try {
      if (recovering || this.#suspect) await this.#recover();
      return await this.#create();
    } catch (error) {
      if (error instanceof EngineUnavailableError) this.#suspect = true;
      throw this.#named(error);
    }
  }

  /**
   * The engine stopped answering (or containers could not be made): before making more, check that
   * it answers (bounded: a hung engine fails here within seconds) and, after an outage, remove what
   * this Sandbox left on it (containers of runs lost with the engine).
   */
  async #recover(): Promise<void> {
    await this.#engine.ping();
    if (!this.#suspect) return;
    // Runners no run holds any more, and whatever of this Sandbox stopped with the engine (holders too).
    const [runners, stopped] = await Promise.all([
      this.#engine.listContainers({ [SANDBOX_LABEL]: this.#sandboxId, [ROLE_LABEL]: 'runner' }),
      this.#engine.listContainers({ [SANDBOX_LABEL]: this.#sandboxId }, { notRunning: true }),
    ]);
    await this.#engine.removeContainers([...new Set([...runners.filter((name) => !this.#live.has(name)), ...stopped])]);
    this.#suspect = false;
  }

  /**
   * Told when a container's CLI process ends, whatever the reason: after its run, or while it
   * waited ready (its idle limit passed, or it was removed from outside), so the pool replaces it.
   */
  onGone: ((container: WarmContainer) => void) | undefined;

  /** A run on this engine found it not answering. */
  noteUnavailable(): void {
    this.#suspect = true;
  }

  /** Adds the engine's name to a typed error. */
  #named(error: unknown): unknown {
    return error instanceof SandboxError ? error.fromEngine(this.name, this.#namedInErrors) : error;
  }

  async #create(): Promise<WarmContainer> {
    const holder = this.#holders?.take();
    if (holder === undefined) return this.#start(this.#settings);
    const settings = { ...this.#settings, limits: { ...this.#settings.limits, network: `container:${holder}` } };
    let container: WarmContainer;
    try {
      container = await this.#start(settings);
    } catch (error) {
      // The holder may be gone (removed from outside before its die event arrived): never join it
      // again, and start this container with a namespace of its own instead.
      this.#holders?.discard(holder);
      if (error instanceof EngineUnavailableError || error instanceof ImageNotFoundError) throw error;
      return this.#start(this.#settings);
    }
    this.#holderOf.set(container, holder);
    return container;
  }

  async #start(settings: Omit<ContainerSettings, 'transfer'>): Promise<WarmContainer> {
    this.#sequence += 1;
    const name = `dps-${this.#sandboxId}-${this.#sequence}`;
    this.#live.add(name);
    try {
      const container = await startWithInputTransfer(this.#inputTransfer, this.#engine.address, (transfer) =>
        WarmContainer.start(this.#engine, name, { ...settings, transfer }),
      );
      this.#events.watch(container);
      void container.gone.then(() => this.onGone?.(container));
      return container;
    } catch (error) {
      this.#live.delete(name);
      throw error;
    }
  }

  /**
   * Whether a warm container's memory and CPU limits can be changed for one run (`docker update`).
   * gVisor cannot change a running sandbox's limits.
   */
  get canUpdateLimits(): boolean {
    return this.#settings.limits.runtime !== 'runsc';
  }

  /**
   * Runs one program in a container started for it with its own memory and CPU limits (a cold
   * start), for runs whose limits a warm container cannot take; removes it afterwards.
   */
  async executeDedicated(code: string, options: ExecuteOptions): Promise<Execution> {
    const limits = {
      ...this.#settings.limits,
      memoryLimitMb: options.memoryLimitMb ?? this.#settings.limits.memoryLimitMb,
      cpus: options.cpus ?? this.#settings.limits.cpus,
    };
    const container = await this.#start({ ...this.#settings, limits });
    try {
      return await container.execute(code, options);
    } finally {
      await this.destroy([container]);
    }
  }

  /** The first pool is ready: from now on, replacements may reuse network namespaces. */
  enableNamespaceReuse(): void {
    this.#holders?.enable();
  }

  /** Resolves once the network-namespace holders being made or removed in the background are. */
  async whenHoldersSettled(): Promise<void> {
    await this.#holders?.whenSettled();
  }

  async destroy(items: readonly WarmContainer[]): Promise<void> {
    for (const item of items) this.#events.unwatch(item);
    // Containers whose program ended are exiting and removed by the engine (--rm): wait for that.
    // The others (killed, unused, stuck) are force-removed together in one CLI call.
    const exiting = items.filter((item) => item.reported);
    const settled = await Promise.all(exiting.map((item) => item.exited(SELF_REMOVAL_GRACE_MS)));
    const stuck = exiting.filter((_, index) => !settled[index]);
    const force = [...items.filter((item) => !item.reported), ...stuck];
    // On an engine that does not answer, removal would fail or hang: recovery removes them later.
    if (!this.#suspect) await this.#engine.removeContainers(force.map((item) => item.name)).catch(swallowed('removing used containers'));
    for (const item of items) this.#live.delete(item.name);
    await Promise.all(items.map((item) => item.releaseHostResources()));
    // Every process of these containers is gone now: their namespaces may serve again.
    for (const item of items) {
      const holder = this.#holderOf.get(item);
      this.#holderOf.delete(item);
      if (holder !== undefined) this.#holders?.give(holder);
    }
  }

  /** Stops following events and removes any container still labelled as this Sandbox's. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reapTimer);
    await this.#reapRound;
    this.#events.stop();
    try {
      try {
        // A hung engine would hold each call below for a minute: find out within seconds.
        if (this.#suspect) await this.#engine.ping();
      } catch (error) {
        throw this.#named(error);
      }
      await this.#holders?.stop();
      const names = await this.#engine.listContainers({ [SANDBOX_LABEL]: this.#sandboxId });
      await this.#engine.removeContainers(names);
    } finally {
      await this.#engine.close(); // the ssh connection of an ssh:// engine, and its temp dir
    }
  }
}
