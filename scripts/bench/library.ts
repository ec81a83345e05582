/**
 * (a), the library, with every Sandbox the bench opens tracked, so that none outlives the bench
 * and a cleanup() that leaves containers behind is caught.
 */
import { Sandbox, type SandboxOptions } from '../../lib/index.js';
import { SANDBOX_LABEL } from '../../lib/docker/labels.js';
import { containersLabelled, removeContainers } from '../shared/docker.js';
import type { Log } from '../shared/log.js';
import { ScriptFailure } from '../shared/script.js';
import { expectHello } from './hello.js';

const openSandboxes = new Set<Sandbox>();
/** Containers a Sandbox's cleanup() left behind (the bench removed them and fails at the end). */
export const leakedContainers: string[] = [];

/** A tracked Sandbox, not yet initialized (for timing initialize() itself). */
export function newSandbox(options: SandboxOptions): Sandbox {
  const sandbox = new Sandbox(options);
  openSandboxes.add(sandbox);
  return sandbox;
}

export async function openSandbox(options: SandboxOptions): Promise<Sandbox> {
  const sandbox = newSandbox(options);
  await sandbox.initialize();
  return sandbox;
}

/** cleanup(), then check that the Sandbox's containers really are gone (removing any that are not). */
export async function closeSandbox(sandbox: Sandbox): Promise<void> {
  await sandbox.cleanup();
  openSandboxes.delete(sandbox);
  const left = await containersLabelled(`${SANDBOX_LABEL}=${sandbox.id}`);
  if (left.length > 0) {
    leakedContainers.push(...left);
    await removeContainers(left);
  }
}

/** Closes every Sandbox still open (after a failure or a signal), logging what fails. */
export async function closeAllSandboxes(log: Log): Promise<void> {
  for (const sandbox of [...openSandboxes]) await closeSandbox(sandbox).catch((error: unknown) => log(`cleanup of a Sandbox failed: ${String(error)}`));
}

/** One run on the library; anything but a clean hello world is a failure. */
export async function runOnLibrary(sandbox: Sandbox, code: string, who = '(a) library'): Promise<string> {
  const result = await sandbox.run(code);
  if (result.isError || result.exitCode !== 0) {
    throw new ScriptFailure(`${who}: run failed (exit ${String(result.exitCode)}, timedOut ${result.timedOut}): ${result.stderr.slice(0, 300)}`);
  }
  expectHello(result.stdout, who, result.stderr);
  return result.stdout;
}
