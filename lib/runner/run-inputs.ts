/**
 * What a run hands its container before the program starts: the code file and, when the run has
 * any, stdin, the work dir's files and an inputs file (argv, env, what to collect). runEntries()
 * decides those files once; they then reach the container's INPUT_DIR one of two ways, as the same
 * files: written into the container's host directory, which it sees through a read-only bind mount
 * (writeRunEntries), or packed into a payload that follows the go line on the container's stdin,
 * which the loader writes into its INPUT_DIR tmpfs (packRunEntries).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { INPUT_DIR } from '../docker/container-args.js';
import { MAX_COLLECT_HEADER_BYTES, type CollectRequest } from './collected-files.js';
import type { RunInputs } from './loader.js';

const CODE_FILE = 'main.py';
const INPUTS_FILE = 'inputs.json';
const STDIN_FILE = 'stdin';
const FILES_DIR = 'files';
/** Most files one run brings back (and most skipped ones listed one by one). */
const MAX_COLLECTED_FILES = 1_000;

export interface RunPayload {
  stdin?: Buffer | undefined;
  /** Files for the work dir, by relative path (already checked to stay inside it). */
  files?: ReadonlyMap<string, Buffer> | undefined;
  argv?: readonly string[] | undefined;
  env?: Readonly<Record<string, string>> | undefined;
  collect?: CollectRequest | undefined;
}

/** Where the loader finds the run's files, as paths inside the container. */
export interface StagedRun {
  codePath: string;
  /** Undefined when the run has no inputs beyond its code. */
  inputsPath: string | undefined;
}

/** One file of a run's inputs: its path relative to INPUT_DIR (with '/' separators), and its bytes. */
export interface RunEntry {
  path: string;
  content: Buffer;
}

export interface RunEntries {
  /** The code file first, the inputs file last. */
  entries: RunEntry[];
  staged: StagedRun;
}

/** The files a run puts in INPUT_DIR (stdin as a file: no pipe size limits it), and where the loader finds them. */
export function runEntries(code: string, payload: RunPayload): RunEntries {
  const entries: RunEntry[] = [{ path: CODE_FILE, content: Buffer.from(code) }];
  const staged: StagedRun = { codePath: `${INPUT_DIR}/${CODE_FILE}`, inputsPath: undefined };
  const argv = payload.argv ?? [];
  const env = payload.env ?? {};
  const files = payload.files ?? new Map<string, Buffer>();
  const collect = payload.collect;
  if (payload.stdin === undefined && argv.length === 0 && Object.keys(env).length === 0 && files.size === 0 && collect === undefined)
    return { entries, staged };
  if (payload.stdin !== undefined) entries.push({ path: STDIN_FILE, content: payload.stdin });
  for (const [path, content] of files) entries.push({ path: `${FILES_DIR}/${path}`, content });
  const inputs: RunInputs = {
    argv,
    env,
    stdin: payload.stdin === undefined ? null : `${INPUT_DIR}/${STDIN_FILE}`,
    files: files.size === 0 ? null : `${INPUT_DIR}/${FILES_DIR}`,
    collect: collect === undefined ? null : { ...collect, maxFiles: MAX_COLLECTED_FILES, maxHeaderBytes: MAX_COLLECT_HEADER_BYTES },
  };
  entries.push({ path: INPUTS_FILE, content: Buffer.from(JSON.stringify(inputs)) });
  staged.inputsPath = `${INPUT_DIR}/${INPUTS_FILE}`;
  return { entries, staged };
}

/** The mount path: writes the entries into the container's host directory (dirs 0755, files 0644). */
export async function writeRunEntries(hostDir: string, entries: readonly RunEntry[]): Promise<void> {
  const dirs = new Set(entries.map((entry) => dirname(entry.path)).filter((dir) => dir !== '.'));
  for (const dir of dirs) await mkdir(join(hostDir, dir), { recursive: true, mode: 0o755 });
  // One at a time: a run may have a thousand files, and each write holds a file descriptor.
  for (const entry of entries) await writeFile(join(hostDir, entry.path), entry.content, { mode: 0o644 });
}

/** A payload for the container's stdin: what follows the go line, and its length in bytes. */
export interface PackedRun {
  chunks: Buffer[];
  bytes: number;
}

/**
 * The stdin path: the entries as one payload, a JSON header line `{"root": INPUT_DIR, "entries":
 * [[path, bytes], ...]}` and then each entry's bytes in that order (the contents are not copied).
 */
export function packRunEntries(entries: readonly RunEntry[]): PackedRun {
  const header = Buffer.from(`${JSON.stringify({ root: INPUT_DIR, entries: entries.map((entry) => [entry.path, entry.content.length]) })}\n`);
  const chunks = [header, ...entries.map((entry) => entry.content)];
  return { chunks, bytes: chunks.reduce((total, chunk) => total + chunk.length, 0) };
}
