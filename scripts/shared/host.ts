/**
 * Where a report's figures come from: the commit, this machine and its docker engine.
 */
import { availableParallelism } from 'node:os';
import { execa } from 'execa';
import { docker } from './docker.js';

export async function gitCommit(): Promise<{ commit: string; dirty: boolean }> {
  const head = await execa('git', ['rev-parse', '--short', 'HEAD'], { reject: false });
  const status = await execa('git', ['status', '--porcelain', '--untracked-files=no'], { reject: false });
  return { commit: head.exitCode === 0 ? head.stdout.trim() : 'unknown', dirty: status.exitCode === 0 && status.stdout.trim() !== '' };
}

export async function dockerServerVersion(): Promise<string> {
  return (await docker(['version', '--format', '{{.Server.Version}}'])).stdout.trim();
}

/** The engine's OCI runtimes, e.g. ['io.containerd.runc.v2', 'runc', 'runsc']. */
export async function dockerRuntimes(): Promise<string[]> {
  const { stdout } = await docker(['info', '--format', '{{json .Runtimes}}']);
  return Object.keys(JSON.parse(stdout.trim() || '{}') as Record<string, unknown>);
}

/** Cores and Node version, as both reports name them. */
export function machine(): { cpus: number; node: string } {
  return { cpus: availableParallelism(), node: process.version };
}
