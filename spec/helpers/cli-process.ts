/** The real CLI (lib/cli.ts through tsx) run to its end in a child process, for integration specs. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));

export interface CliOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `input` on its stdin (empty by default); `pid` is the owner pid its containers are labelled with. */
export function cliProcess(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ outcome: CliOutcome; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ outcome: { code, stdout, stderr }, pid: child.pid! }));
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the CLI to its end (see cliProcess). */
export async function cli(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliOutcome> {
  return (await cliProcess(args, options)).outcome;
}
