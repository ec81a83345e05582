/**
 * `docker-python-sandbox serve` (lib/cli.ts through tsx) as a child process, for the load spec and
 * `npm run bench:http`: started with the given flags, resolved once it prints its listening line,
 * stopped with SIGTERM (its own graceful stop), killed if that takes longer than a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));

export interface ServeProcess {
  readonly base: string;
  readonly pid: number;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then waits for its exit (SIGKILL after ms); resolves with its exit code and signal. */
  stop(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

export async function startServeProcess(flags: readonly string[], options: { env?: NodeJS.ProcessEnv; startMs?: number } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', ...flags], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = exitOf(child);
  const startMs = options.startMs ?? 60_000;
  const base = await new Promise<string>((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print its listening line within ${startMs} ms; stderr: ${stderr}`));
    }, startMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const listening = /^listening on (http:\/\/\S+)\n/.exec(stdout);
      if (listening?.[1] !== undefined) {
        clearTimeout(deadline);
        resolve(listening[1]);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(deadline);
      reject(new Error(`serve exited (code ${code}, signal ${signal}) before it listened; stderr: ${stderr}`));
    });
  });
  return {
    base,
    pid: child.pid!,
    stderr: () => stderr,
    async stop(ms = 60_000) {
      child.kill('SIGTERM');
      const deadline = setTimeout(() => child.kill('SIGKILL'), ms);
      try {
        return await exited;
      } finally {
        clearTimeout(deadline);
      }
    },
  };
}
