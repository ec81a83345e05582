/**
 * A child process whose output a spec waits on: each wait is for a condition on what the child
 * printed so far, bounded by a deadline, and fails with everything the child said.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

/** A piece of a child's output and when it arrived (performance.now()). */
export interface Chunk {
  text: string;
  at: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WatchedProcess {
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The same output, piece by piece as it arrived. */
  readonly stdoutChunks: readonly Chunk[];
  readonly stderrChunks: readonly Chunk[];
  /** The child's stdin, when it was kept open. */
  readonly stdin: Writable | null;
  /** Settles when the child has exited and its streams are closed. */
  readonly exited: Promise<Exit>;
  /** Resolves once `condition(stdout)` holds; rejects after ms, or if the child exits first. */
  waitForOutput(what: string, condition: (stdout: string) => boolean, ms: number): Promise<void>;
  /** Resolves with how the child exited; rejects (after killing it) if it runs longer than ms. */
  waitForExit(ms: number): Promise<Exit>;
  kill(signal?: NodeJS.Signals): void;
}

export interface WatchedProcessOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Leave stdin open for the spec to write to (`stdin`). Without this or `input` the child has none. */
  keepStdinOpen?: boolean;
}

export function watchedProcess(command: string, args: readonly string[], options: WatchedProcessOptions = {}): WatchedProcess {
  const piped = options.input !== undefined || options.keepStdinOpen === true;
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: [piped ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (options.input !== undefined) child.stdin?.end(options.input);
  const stdoutChunks: Chunk[] = [];
  const stderrChunks: Chunk[] = [];
  const textOf = (chunks: readonly Chunk[]): string => chunks.map((chunk) => chunk.text).join('');
  const changed = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdoutChunks.push({ text: chunk.toString(), at: performance.now() });
    for (const notify of changed) notify();
  });
  child.stderr!.on('data', (chunk: Buffer) => stderrChunks.push({ text: chunk.toString(), at: performance.now() }));
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const describe = (): string => `\n--- stdout ---\n${textOf(stdoutChunks)}\n--- stderr ---\n${textOf(stderrChunks)}`;

  return {
    pid: child.pid ?? -1,
    get stdout() {
      return textOf(stdoutChunks);
    },
    get stderr() {
      return textOf(stderrChunks);
    },
    stdoutChunks,
    stderrChunks,
    stdin: options.keepStdinOpen === true ? child.stdin : null,
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
          if (condition(textOf(stdoutChunks))) finish();
        };
        const timer = setTimeout(() => finish(new Error(`${what}: not within ${ms} ms${describe()}`)), ms);
        void exited.then((exit) =>
          finish(condition(textOf(stdoutChunks)) ? undefined : new Error(`${what}: the child exited first (${JSON.stringify(exit)})${describe()}`)),
        );
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
  const lines: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    try {
      const value: unknown = JSON.parse(line);
      if (isRecord(value)) lines.push(value);
    } catch {
      // not a JSON line
    }
  }
  return lines;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
