/**
 * The docker CLI as the scripts use it, outside the library: for baselines, bookkeeping and
 * checking what is left. Only containers carrying the library's label are ever removed.
 */
import { execa } from 'execa';
import { ScriptFailure } from './script.js';

/** Runs `docker ...args` (with `input` on stdin); a non-zero exit is a ScriptFailure with its stderr. */
export async function docker(args: readonly string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const result = await execa(
    'docker',
    args,
    input === undefined ? { stdin: 'ignore', reject: false, stripFinalNewline: false } : { input, reject: false, stripFinalNewline: false },
  );
  if (result.exitCode !== 0) {
    // The first words name the command; the rest is often a long list of limit flags.
    const command = args.length > 3 ? `${args.slice(0, 3).join(' ')} ...` : args.join(' ');
    throw new ScriptFailure(`docker ${command} exited ${String(result.exitCode)}: ${result.stderr.trim().slice(0, 500)}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

/** Full ids of the containers carrying the label (`key` or `key=value`), running or not. */
export async function containersLabelled(filter: string): Promise<string[]> {
  const { stdout } = await docker(['ps', '--all', '--no-trunc', '--quiet', '--filter', `label=${filter}`]);
  return stdout.split('\n').filter(Boolean);
}

/** Removes containers with their anonymous volumes, running or not. */
export async function removeContainers(ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await docker(['rm', '--force', '--volumes', ...ids]);
}
