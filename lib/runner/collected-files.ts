/**
 * The collected-files section the loader sends after its exit marker on stdout: one JSON line
 * `{"files": [[path, size], ...], "skipped": [[path, reason], ...]}`, then the files' bytes in
 * that order. It comes from inside the sandbox, so nothing in it is trusted: the total must fit
 * the cap, the sizes must add up, and every name must be a plain path inside the work dir.
 */
import { relativePathProblem } from '../relative-path.js';
import type { EndReason } from './execution.js';

export interface SkippedFile {
  /** Relative to the work dir (or the pattern, when the whole collection failed). */
  path: string;
  reason: string;
}

export interface CollectedFiles {
  /** By path relative to the work dir. */
  files: Record<string, Buffer>;
  skippedFiles: SkippedFile[];
}

/** What a run asks to bring back: paths or globs of the work dir, up to maxBytes in all. */
export interface CollectRequest {
  patterns: readonly string[];
  maxBytes: number;
}

/** Largest header line the host accepts on top of the files' bytes (the loader stays under it). */
export const MAX_COLLECT_HEADER_BYTES = 4 * 1024 * 1024;

/** Every pattern listed as skipped, for a run whose files could not be brought back. */
export function notCollected(patterns: readonly string[], reason: string): CollectedFiles {
  return { files: {}, skippedFiles: patterns.map((path) => ({ path, reason })) };
}

/** Reads a complete section; a malformed one counts as a failed collection, never as files. */
export function parseCollectedFiles(section: Buffer, maxBytes: number, patterns: readonly string[]): CollectedFiles {
  const newline = section.indexOf(0x0a);
  if (newline === -1 || newline > MAX_COLLECT_HEADER_BYTES) return notCollected(patterns, 'could not be collected: the container sent a malformed file list');
  const header = parseHeader(section.subarray(0, newline).toString());
  if (header === undefined) return notCollected(patterns, 'could not be collected: the container sent a malformed file list');
  const total = header.files.reduce((sum, [, size]) => sum + size, 0);
  if (total > maxBytes || newline + 1 + total !== section.length) {
    return notCollected(patterns, 'could not be collected: the container sent more or fewer bytes than it listed');
  }
  const files: [string, Buffer][] = [];
  const skippedFiles = header.skipped.map(([path, reason]) => ({ path, reason }));
  let at = newline + 1;
  for (const [path, size] of header.files) {
    const content = section.subarray(at, at + size);
    at += size;
    const problem = relativePathProblem(path);
    if (problem !== undefined) skippedFiles.push({ path, reason: `has a name the host does not accept: it ${problem}` });
    else files.push([path, content]);
  }
  // fromEntries defines own properties, so even a file named __proto__ is just a file.
  return { files: Object.fromEntries(files), skippedFiles };
}

function parseHeader(line: string): { files: [string, number][]; skipped: [string, string][] } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { files, skipped } = value as { files?: unknown; skipped?: unknown };
  const isFile = (entry: unknown): entry is [string, number] =>
    Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && Number.isSafeInteger(entry[1]) && (entry[1] as number) >= 0;
  const isSkipped = (entry: unknown): entry is [string, string] =>
    Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && typeof entry[1] === 'string';
  if (!Array.isArray(files) || !files.every(isFile)) return undefined;
  if (!Array.isArray(skipped) || !skipped.every(isSkipped)) return undefined;
  return { files, skipped };
}

/** What a run that reported brought back: the parsed section, or every pattern listed as not collected. */
export function collectedFiles(request: CollectRequest | undefined, section: Buffer | undefined, problem: string | undefined): CollectedFiles {
  if (request === undefined) return { files: {}, skippedFiles: [] };
  if (section === undefined) return notCollected(request.patterns, `could not be collected: ${problem ?? 'nothing arrived'}`);
  return parseCollectedFiles(section, request.maxBytes, request.patterns);
}

/** Every pattern listed as not collected, for a run whose container is gone. */
export function notCollectedBecause(request: CollectRequest | undefined, reason: EndReason): CollectedFiles {
  if (request === undefined) return { files: {}, skippedFiles: [] };
  return notCollected(request.patterns, `not collected: ${lostBecause(reason)}`);
}

function lostBecause(reason: EndReason): string {
  switch (reason) {
    case 'timeout':
      return 'the program was stopped at its time limit';
    case 'output_limit':
      return 'the program was stopped at the output cap';
    case 'aborted':
      return 'the run was aborted';
    default:
      return 'the program was killed with its container';
  }
}
