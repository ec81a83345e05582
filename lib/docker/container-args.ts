/**
 * Pure builders of `docker run` and `docker exec` argv for sandbox containers. Every flag that
 * shapes a container's isolation is set here, in one audited place, and unit-tested as exact argv.
 */

/** Where the per-container host directory with the code file appears inside the container. */
export const INPUT_DIR = '/sandbox-in';

export interface ContainerSpec {
  name: string;
  image: string;
  labels: Readonly<Record<string, string>>;
  memoryLimitMb: number;
  /** Host directory bind-mounted read-only at INPUT_DIR: the only host path the container sees. */
  inputDir: string;
}

export function buildRunArgs(spec: ContainerSpec): string[] {
  const memory = `${spec.memoryLimitMb}m`;
  const labels = Object.entries(spec.labels).flatMap(([key, value]) => ['--label', value === '' ? key : `${key}=${value}`]);
  return [
    'run',
    '--detach',
    '--pull', 'never',
    '--name', spec.name,
    ...labels,
    '--network', 'none',
    '--memory', memory,
    '--memory-swap', memory, // equal to --memory: no swap on top of the limit
    '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges',
    '--init', // PID 1 reaps zombies and forwards signals
    '--log-driver', 'none', // exec output never goes through the engine's logs
    '--volume', `${spec.inputDir}:${INPUT_DIR}:ro`,
    spec.image,
    'sleep', 'infinity',
  ];
}

export interface ExecSpec {
  container: string;
  argv: readonly string[];
  env?: Readonly<Record<string, string>>;
}

/** `docker exec -i` with stdin held open, so a loader can wait for its go line. */
export function buildAttachedExecArgs(spec: ExecSpec): string[] {
  const env = Object.entries(spec.env ?? {}).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
  return ['exec', '--interactive', ...env, spec.container, ...spec.argv];
}

export function buildRemoveArgs(containers: readonly string[]): string[] {
  return ['rm', '--force', '--volumes', ...containers];
}
