/**
 * What the host and this process use: host CPU time from /proc/stat, this process's memory in MB,
 * and a way to force a garbage collection so that a memory sample is not mostly garbage.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { round } from './stats.js';

/** /proc/stat counts in clock ticks of 1/CLK_TCK s; CLK_TCK is 100 on Linux (getconf CLK_TCK). */
const CLK_TCK = 100;
const MIB = 1024 * 1024;

/** Busy CPU time of the whole host so far, in ms: user+nice+system+irq+softirq+steal from /proc/stat. */
export async function hostBusyCpuMs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLK_TCK;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/PID/stat. */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) ": state is field 3, utime and stime fields 14 and 15; comm may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/**
 * Host busy CPU per second over `ms` in which the caller runs nothing: /proc/stat is host-wide, so
 * this is what others (other tenants, the VM's steal) add meanwhile.
 */
export async function backgroundCpuRate(ms = 500): Promise<number> {
  const before = await hostBusyCpuMs();
  const start = performance.now();
  await sleep(ms);
  return ((await hostBusyCpuMs()) - before) / ((performance.now() - start) / 1000);
}

/** global.gc with --expose-gc; otherwise the flag is switched on at run time to get one. */
export function garbageCollector(): (() => void) | undefined {
  const exposed = globalThis.gc;
  if (typeof exposed === 'function') return () => void exposed();
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes as MB (MiB) to one place. */
export function bytesToMb(bytes: number): number {
  return round(bytes / MIB, 1);
}

/** process.memoryUsage() with every figure in MB. */
export function memoryUsageInMb(usage: NodeJS.MemoryUsage): Record<string, number> {
  return Object.fromEntries((Object.entries(usage) as [string, number][]).map(([key, bytes]) => [key, bytesToMb(bytes)]));
}
