/**
 * A child process whose output a spec waits on: each wait is for a condition on what the child
 * printed so far, bounded by a deadline, and fails with everything the child said.
 */
import { spawn } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WatchedProcess {
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Settles when the child has exited and its streams are closed. */
  readonly exited: Promise<Exit>;
  /** Resolves once `condition(stdout)` holds; rejects after ms, or if the child exits first. */
  waitForOutput(what: string, condition: (stdout: string) => boolean, ms: number): Promise<void>;
  /** Resolves with how the child exited; rejects (after killing it) if it runs longer than ms. */
  waitForExit(ms: number): Promise<Exit>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts the child; `input`, when given, is written to its stdin, which is then closed. */
export function watchedProcess(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): WatchedProcess {
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  child.stdin?.end(options.input);
  let stdout = '';
  let stderr = '';
  const changed = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const notify of changed) notify();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const describe = (): string => `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  return {
    pid: child.pid ?? -1,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForOutput(what, condition, ms) {
      return new Promise<void>((resolve, reject) => {
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          changed.delete(check);
          if (error === undefined) resolve();
          else reject(error);
        };
        const check = (): void => {
          if (condition(stdout)) finish();
        };
        const timer = setTimeout(() => finish(new Error(`${what}: not within ${ms} ms${describe()}`)), ms);
        void exited.then((exit) => finish(condition(stdout) ? undefined : new Error(`${what}: the child exited first (${JSON.stringify(exit)})${describe()}`)));
        changed.add(check);
        check();
      });
    },
    async waitForExit(ms) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the child did not exit within ${ms} ms${describe()}`));
        }, ms);
      });
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill(signal = 'SIGKILL') {
      child.kill(signal);
    },
  };
}

/** The JSON lines a child printed, parsed (lines that are not JSON are left out). */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return value !== null && typeof value === 'object' ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}
