/**
 * What a run hands its container before the go line: the code file and, when the run has any,
 * stdin, the work dir's files and an inputs file (argv, env, what to collect), all written into
 * the container's host directory, which the container sees read-only at INPUT_DIR.
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

/** Where the loader finds what was staged, as paths inside the container. */
export interface StagedRun {
  codePath: string;
  /** Undefined when the run has no inputs beyond its code. */
  inputsPath: string | undefined;
}

/** Writes the code and the run's inputs into the container's host directory (stdin as a file: no pipe size limits it). */
export async function stageRun(hostDir: string, code: string, payload: RunPayload): Promise<StagedRun> {
  const [inputsPath] = await Promise.all([writeInputs(hostDir, payload), writeFile(join(hostDir, CODE_FILE), code, { mode: 0o644 })]);
  return { codePath: `${INPUT_DIR}/${CODE_FILE}`, inputsPath };
}

async function writeInputs(hostDir: string, payload: RunPayload): Promise<string | undefined> {
  const argv = payload.argv ?? [];
  const env = payload.env ?? {};
  const files = payload.files ?? new Map<string, Buffer>();
  const collect = payload.collect;
  if (payload.stdin === undefined && argv.length === 0 && Object.keys(env).length === 0 && files.size === 0 && collect === undefined) return undefined;
  if (payload.stdin !== undefined) await writeFile(join(hostDir, STDIN_FILE), payload.stdin, { mode: 0o644 });
  for (const [path, content] of files) {
    const target = join(hostDir, FILES_DIR, path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await writeFile(target, content, { mode: 0o644 });
  }
  const inputs: RunInputs = {
    argv,
    env,
    stdin: payload.stdin === undefined ? null : `${INPUT_DIR}/${STDIN_FILE}`,
    files: files.size === 0 ? null : `${INPUT_DIR}/${FILES_DIR}`,
    collect: collect === undefined ? null : { ...collect, maxFiles: MAX_COLLECTED_FILES, maxHeaderBytes: MAX_COLLECT_HEADER_BYTES },
  };
  await writeFile(join(hostDir, INPUTS_FILE), JSON.stringify(inputs), { mode: 0o644 });
  return `${INPUT_DIR}/${INPUTS_FILE}`;
}
