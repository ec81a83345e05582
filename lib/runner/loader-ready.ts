/**
 * The start handshake with a new container's loader: it prints its ready line once it has
 * started and warmed up; a CLI that exits first says why the container could not start.
 */
import type { AttachedProcess } from '../docker/cli.js';
import { ContainerStartError } from '../errors.js';
import { READY_LINE } from './loader.js';

/** How a container's CLI ended before its loader was ready. */
export interface StartFailure {
  exitCode: number | undefined;
  stderr: string;
}

/**
 * Resolves once the loader prints its ready line (with undefined), or with the CLI's exit code
 * and stderr if it exits first; rejects if it takes too long.
 */
export function waitForReady(loader: AttachedProcess, timeoutMs: number): Promise<StartFailure | undefined> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let stderr = '';
    let settled = false;
    const done = (outcome: StartFailure | undefined, error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      loader.stdout.off('data', onData);
      loader.stderr.off('data', onError);
      loader.stdout.pause();
      loader.stderr.pause();
      if (error) reject(error);
      else resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes(READY_LINE)) done(undefined);
    };
    const onError = (chunk: Buffer): void => {
      stderr += chunk.toString();
    };
    const timer = setTimeout(
      () => done(undefined, new ContainerStartError(`The sandbox container did not become ready within ${timeoutMs} ms.`, { command: loader.command })),
      timeoutMs,
    );
    loader.stdout.on('data', onData);
    loader.stderr.on('data', onError);
    void loader.exited.then(({ exitCode }) => {
      const why = stderr.trim() || `the loader exited with code ${exitCode ?? '?'}; the image must provide python3 on PATH`;
      done({ exitCode, stderr: why });
    });
  });
}
