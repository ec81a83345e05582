/**
 * Pure builders of the `docker` argv for sandbox containers (run, update, events, rm). Every flag that
 * shapes a container's isolation is set here, in one audited place, and unit-tested as exact argv.
 * Podman takes the same argv with its own tmpfs ownership option (ownedBy()) and a few flags more
 * (podmanRunArgs()); Docker's is unchanged.
 */
import { DOCKER_FLAVOUR, type EngineFlavour } from './engine-flavour.js';

/** Where a run's code and inputs appear inside the container (see InputDirSpec). */
export const INPUT_DIR = '/sandbox-in';

/** Where the program runs and may write: a size-capped tmpfs owned by the sandbox user. */
export const WORK_DIR = '/sandbox';

/** Every limit of a sandbox container; all of them are options of the Sandbox. */
export interface ContainerLimits {
  memoryLimitMb: number;
  cpus: number;
  pidsLimit: number;
  user: string;
  network: string;
  runtime: string | undefined;
  readOnlyRoot: boolean;
  tmpSizeMb: number;
  workdirSizeMb: number;
  fileSizeLimitMb: number;
  openFilesLimit: number;
}

export interface ContainerSpec {
  name: string;
  image: string;
  labels: Readonly<Record<string, string>>;
  limits: ContainerLimits;
  /** What is at INPUT_DIR: a host directory (the only host path the container sees), or a tmpfs. */
  input?: InputDirSpec;
  /** The container's main process. */
  command: readonly string[];
}

/** How a run's inputs reach INPUT_DIR (lib/runner/input-transfer.ts chooses). */
export type InputDirSpec =
  /**
   * A host directory bind-mounted read-only. `--mount` fails at once where the engine does not
   * see the directory; `-v` would make an empty one on the engine's side instead.
   */
  | { kind: 'mount'; hostDir: string }
  /** A tmpfs of the container user's, which the loader fills from the payload on its stdin. */
  | { kind: 'tmpfs'; sizeMb: number };

const MIB = 1024 * 1024;

function inputDirArgs(input: InputDirSpec | undefined, user: string, flavour: EngineFlavour): string[] {
  if (input === undefined) return [];
  if (input.kind === 'mount') return ['--mount', ['type=bind', `source=${input.hostDir}`, `target=${INPUT_DIR}`, 'readonly'].map(csvField).join(',')];
  // Its pages count against the memory limit like the other tmpfs mounts; noexec: it holds data only.
  return ['--tmpfs', tmpfs(`${INPUT_DIR}:rw,nosuid,nodev,noexec,size=${input.sizeMb}m,${ownedBy(user, flavour)},mode=0700`, flavour)];
}

/**
 * The tmpfs options that make a mount the container user's. Podman refuses `uid=`/`gid=` ("unknown
 * mount option") and has `U` instead: owned by the user the container runs as (`--user`).
 */
function ownedBy(user: string, flavour: EngineFlavour): string {
  if (flavour.kind === 'podman') return 'U';
  const [uid = '1000', gid = uid] = user.split(':');
  return `uid=${uid},gid=${gid}`;
}

/** A `--tmpfs` value; on Podman without copying the image's files at that path into it (`tmpcopyup`, its default), as Docker does not. */
function tmpfs(spec: string, flavour: EngineFlavour): string {
  return flavour.kind === 'podman' ? `${spec},notmpcopyup` : spec;
}

/** `--mount` reads its value as CSV: a field with a comma or a quote is quoted. */
function csvField(field: string): string {
  return /[",]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/**
 * `docker run -i --rm`: the container's main process (the loader) is attached to the CLI's pipes,
 * and the engine removes the container by itself once it exits.
 */
export function buildAttachedRunArgs(spec: ContainerSpec, flavour: EngineFlavour = DOCKER_FLAVOUR): string[] {
  const labels = Object.entries(spec.labels).flatMap(([key, value]) => ['--label', value === '' ? key : `${key}=${value}`]);
  // A flag and its value stay on one line, for review.
  // prettier-ignore
  return [
    'run',
    '--interactive',
    '--rm',
    '--pull', 'never',
    '--name', spec.name,
    ...labels,
    ...buildLimitArgs(spec.limits, flavour),
    ...inputDirArgs(spec.input, spec.limits.user, flavour),
    spec.image,
    ...spec.command,
  ];
}

/**
 * `docker run -d --rm`: a container that just sits there (a network-namespace holder) until its
 * command ends, and is then removed by the engine.
 */
export function buildDetachedRunArgs(spec: ContainerSpec, flavour: EngineFlavour = DOCKER_FLAVOUR): string[] {
  const labels = Object.entries(spec.labels).flatMap(([key, value]) => ['--label', value === '' ? key : `${key}=${value}`]);
  // prettier-ignore
  return ['run', '--detach', '--rm', '--pull', 'never', '--name', spec.name, ...labels, ...buildLimitArgs(spec.limits, flavour), spec.image, ...spec.command];
}

/**
 * The isolation and resource flags of a sandbox container, shared by the pool and by the
 * benchmark's one-shot baseline so that both run under exactly the same limits.
 */
export function buildLimitArgs(limits: ContainerLimits, flavour: EngineFlavour = DOCKER_FLAVOUR): string[] {
  const memory = `${limits.memoryLimitMb}m`;
  // A flag and its value stay on one line, for review.
  // prettier-ignore
  return [
    ...(limits.runtime === undefined ? [] : ['--runtime', limits.runtime]),
    '--network', limits.network,
    '--user', limits.user,
    '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges',
    '--memory', memory,
    '--memory-swap', memory, // equal to --memory: no swap on top of the limit
    '--cpus', String(limits.cpus),
    '--pids-limit', String(limits.pidsLimit),
    '--ulimit', `nofile=${limits.openFilesLimit}:${limits.openFilesLimit}`,
    '--ulimit', `fsize=${limits.fileSizeLimitMb * MIB}:${limits.fileSizeLimitMb * MIB}`,
    '--ipc', 'none',
    ...(limits.readOnlyRoot ? ['--read-only'] : []),
    // overlay2 has no per-container disk quota here: writable places are size-capped tmpfs mounts,
    // whose pages count against the memory limit, so nothing a program writes reaches the host disk.
    '--tmpfs', tmpfs(`/tmp:rw,nosuid,nodev,size=${limits.tmpSizeMb}m,mode=1777`, flavour),
    '--tmpfs', tmpfs(`${WORK_DIR}:rw,nosuid,nodev,size=${limits.workdirSizeMb}m,${ownedBy(limits.user, flavour)},mode=0700`, flavour),
    '--workdir', WORK_DIR,
    '--env', `HOME=${WORK_DIR}`,
    '--init', // PID 1 reaps zombies and forwards signals
    '--log-driver', 'none', // nothing a program prints can fill the host disk through the engine's logs
    ...(flavour.kind === 'podman' ? podmanRunArgs(limits, flavour) : []),
  ];
}

/**
 * What Podman needs on top of Docker's flags for the same container (README "Podman"):
 * - RLIMIT_NPROC given explicitly: rootful Podman's default (1048576) is above the hard limit where
 *   root lacks CAP_SYS_RESOURCE, and runc then fails with "error setting rlimits". (RLIMIT_NOFILE
 *   has the same default, and is always given.)
 * - no writable tmpfs of Podman's own on /run and /var/tmp under a read-only root
 *   (--read-only-tmpfs defaults to true): the writable places stay the capped ones above;
 * - no `container=podman` and `TERM=xterm` variables: a program sees the same environment as under Docker.
 */
function podmanRunArgs(limits: ContainerLimits, flavour: EngineFlavour): string[] {
  const nproc = flavour.nproc;
  // prettier-ignore
  return [
    ...(nproc === undefined ? [] : ['--ulimit', `nproc=${nproc.soft}:${nproc.hard}`]),
    ...(limits.readOnlyRoot ? ['--read-only-tmpfs=false'] : []),
    '--unsetenv', 'container', '--unsetenv', 'TERM',
  ];
}

/** New memory and CPU limits for a running container, e.g. a warm one just before a run that asks for its own. */
export function buildUpdateArgs(container: string, limits: { memoryLimitMb: number; cpus: number }): string[] {
  const memory = `${limits.memoryLimitMb}m`;
  return ['update', '--memory', memory, '--memory-swap', memory, '--cpus', String(limits.cpus), container];
}

/** Container events the library follows, by Docker's names. */
export type ContainerEventName = 'oom' | 'die';

/**
 * Podman's names for them: a container's end is `died`. Podman 4.3 has no OOM event at all: under
 * runc the loader reads the OOM count from the container's cgroup instead (gVisor, which needs the
 * event, is refused on Podman: see engine.ts).
 */
const PODMAN_EVENTS: Readonly<Record<ContainerEventName, string | undefined>> = { oom: undefined, die: 'died' };

/** A stream of the engine's container events for containers with a label, one JSON object per line. */
export function buildEventsArgs(label: string, events: readonly ContainerEventName[], flavour: EngineFlavour = DOCKER_FLAVOUR): string[] {
  const names = flavour.kind === 'podman' ? events.flatMap((event) => PODMAN_EVENTS[event] ?? []) : events;
  // prettier-ignore
  return ['events', '--format', '{{json .}}', '--filter', 'type=container', '--filter', `label=${label}`, ...names.flatMap((event) => ['--filter', `event=${event}`])];
}

/**
 * Force-removes containers. On Podman 4.3, `rm --force` first sends the stop signal and waits up to
 * 10 s for the container to exit (`--time 0` kills at once, as Docker's does), and when one of the
 * names is gone already it removes none of the others and still exits 0 (`--ignore` removes them).
 */
export function buildRemoveArgs(containers: readonly string[], flavour: EngineFlavour = DOCKER_FLAVOUR): string[] {
  return ['rm', '--force', ...(flavour.kind === 'podman' ? ['--time', '0', '--ignore'] : []), '--volumes', ...containers];
}
