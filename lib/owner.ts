/**
 * Who owns a container or a host temp dir, and whether that owner is still alive. An owner is a
 * process named by its host, its pid and its start time, so that a pid the kernel has given to a
 * new process since is not mistaken for the owner. Used to reap what a killed process left behind.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface Owner {
  /** hostname() of the owner's machine. */
  host: string;
  pid: number;
  /**
   * When the process started: field 22 of /proc/<pid>/stat (clock ticks since boot), as a decimal
   * string; undefined where /proc is absent (liveness is then told by the pid alone).
   */
  start: string | undefined;
  /**
   * The owner's pid namespace (inode of /proc/self/ns/pid), where known. Processes in containers
   * may share a hostname (host network) but not their pids: an owner in another pid namespace is
   * treated like one on another host.
   */
  pidns?: string | undefined;
}

/** What liveness is asked of: the running system, or a fake in unit specs. */
export interface OwnerProbe {
  /** This machine's hostname. */
  readonly host: string;
  /** This process's pid namespace, where known. */
  readonly pidns: string | undefined;
  /** process.kill(pid, 0): returns when the process exists, throws (ESRCH, EPERM, ...) otherwise. */
  signal(pid: number): void;
  /** The start time of a live process, or undefined when it cannot be read. */
  startOf(pid: number): string | undefined;
}

export const systemProbe: OwnerProbe = {
  get host() {
    return hostname();
  },
  get pidns() {
    return ownPidNamespace();
  },
  signal: (pid) => void process.kill(pid, 0),
  startOf: (pid) => processStartTime(pid),
};

/** Largest pid any kernel hands out (Linux caps it at 2^22); anything else is not a pid. */
const MAX_PID = 2 ** 31 - 1;

/** A pid from a label or a name: a positive decimal integer, else undefined (never 0 or -1, which kill() reads as groups). */
export function parsePid(text: string | undefined): number | undefined {
  if (text === undefined || !/^[1-9]\d{0,9}$/.test(text)) return undefined;
  const pid = Number(text);
  return pid <= MAX_PID ? pid : undefined;
}

/** A start time from a label or a name, or undefined. */
export function parseStart(text: string | undefined): string | undefined {
  return text !== undefined && /^\d{1,20}$/.test(text) ? text : undefined;
}

/** A pid namespace (its inode number) from a label, or undefined. */
export function parseNamespace(text: string | undefined): string | undefined {
  return text !== undefined && /^\d{1,20}$/.test(text) ? text : undefined;
}

/**
 * Field 22 (starttime) of a /proc/<pid>/stat line. The second field (comm) is in parentheses and
 * may itself hold spaces and parentheses, so fields are counted after the last ')'.
 */
export function parseStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  return parseStart(fields[22 - 3]); // fields[0] is field 3 (state)
}

/** The start time of a process from /proc, or undefined where /proc is absent or the process is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    return parseStartTime(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

let ownStart: { value: string | undefined } | undefined;
let ownNamespace: { value: string | undefined } | undefined;

/** The inode of this process's pid namespace (`pid:[4026531836]` gives '4026531836'), or undefined without /proc. */
function ownPidNamespace(): string | undefined {
  if (ownNamespace === undefined) {
    let value: string | undefined;
    try {
      value = parseNamespace(/^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1]);
    } catch {
      value = undefined;
    }
    ownNamespace = { value };
  }
  return ownNamespace.value;
}

/** This process as an owner. */
export function ownIdentity(): Owner {
  ownStart ??= { value: processStartTime(process.pid) };
  return { host: hostname(), pid: process.pid, start: ownStart.value, pidns: ownPidNamespace() };
}

/**
 * Whether an owner may still be alive. Another host's processes (or another pid namespace's) cannot
 * be checked from here, so they count as alive. On this host the pid must exist (EPERM means it exists under another user)
 * and, when both start times are known, have started when the owner did. Any other doubt (an
 * unexpected error) counts as alive: reaping a live owner's containers is the one thing to avoid.
 */
export function isOwnerAlive(owner: Owner, probe: OwnerProbe = systemProbe): boolean {
  if (owner.host !== probe.host) return true;
  if (owner.pidns !== undefined && probe.pidns !== undefined && owner.pidns !== probe.pidns) return true;
  try {
    probe.signal(owner.pid);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code !== 'EPERM') return true;
  }
  if (owner.start === undefined) return true;
  const current = probe.startOf(owner.pid);
  return current === undefined || current === owner.start;
}

/** Start-time field of a temp dir name when the start time is unknown. */
const NO_START = 'x';

/**
 * tmp-promise's `template` for this process's per-container temp dirs: `dps-<pid>-<start>-XXXXXX`
 * (`x` for an unknown start); tmp replaces the six X with random letters and digits. The name is
 * ours, whatever tmp's own naming does.
 */
export function ownerTempDirTemplate(owner: Owner = ownIdentity()): string {
  return `dps-${owner.pid}-${owner.start ?? NO_START}-XXXXXX`;
}

/** Exactly the names ownerTempDirTemplate() gives. */
const TEMP_DIR_NAME = /^dps-([1-9]\d{0,9})-(\d{1,20}|x)-[0-9A-Za-z]{6}$/;
/**
 * Names of earlier builds, a prefix `dps-<pid>-<start>` to which tmp appended `-<pid>-<12
 * random>`: still recognised, so that what they left is reaped too; the pid appears twice.
 */
const PREFIXED_TEMP_DIR_NAME = /^dps-([1-9]\d{0,9})-(\d{1,20}|x)-([1-9]\d{0,9})-[0-9A-Za-z]{12}$/;

/**
 * The owner encoded in a temp dir name made with ownerTempDirTemplate() (or by earlier builds), on
 * the given host; undefined for any other name (`dps--<pid>-...`, other tools' `dps-...`), which is
 * never reaped.
 */
export function ownerOfTempDir(name: string, host: string): Owner | undefined {
  const prefixed = PREFIXED_TEMP_DIR_NAME.exec(name);
  const match = TEMP_DIR_NAME.exec(name) ?? (prefixed !== null && prefixed[1] === prefixed[3] ? prefixed : null);
  if (match === null) return undefined;
  const pid = parsePid(match[1]);
  if (pid === undefined) return undefined;
  return { host, pid, start: match[2] === NO_START ? undefined : match[2] };
}
