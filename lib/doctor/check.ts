/**
 * One line of `docker-python-sandbox doctor`'s report: what was checked, whether it holds, what
 * was found, and on failure what to do about it. Each check is a small function returning one.
 */
export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** What was found (on failure too: the address, the number, what docker said). */
  detail: string;
  /** What to do about a failure; null when the check passed. */
  fix: string | null;
}

export function passed(name: string, detail: string): DoctorCheck {
  return { name, ok: true, detail, fix: null };
}

export function failed(name: string, detail: string, fix: string): DoctorCheck {
  return { name, ok: false, detail, fix };
}

/** The check names, in report order (the specs and the README refer to them). */
export const CHECK = {
  cli: 'docker CLI',
  engine: 'engine',
  cgroup: 'cgroup',
  image: 'image',
  scientificImage: 'image (scientific)',
  runtime: 'runtime',
  gvisor: 'gVisor',
  memory: 'memory limit',
  swap: 'no swap',
  pids: 'pids limit',
  cpu: 'CPU quota',
  tmpfs: 'tmpfs size',
  fileSize: 'file size limit',
  readOnlyRoot: 'read-only root',
  network: 'no network',
  user: 'non-root user',
  timing: 'timing',
  probes: 'probes',
} as const;
