/**
 * The host's side of the loader (lib/runner/loader.py, the Python program that is each pooled
 * container's main process): its source and command line, and the wire format between the two.
 * The format's literals come from protocol.json, which both sides read: this module at import,
 * the loader as its first argument.
 */
import { readFileSync } from 'node:fs';

/** The literals of the wire format, shared with the loader. */
interface Protocol {
  /** Printed by the loader once it is ready for a go line. */
  readyLine: string;
  /** Printed by the loader on stdout as soon as it has read the go line, before the program starts. */
  goAck: string;
  /** Prefix of the exit markers (see MARKER_PREFIX). */
  markerPrefix: string;
  /** The image's own warm-up hook, run by the loader before it is ready when present. */
  warmupHook: string;
  /** Starts the loader's stderr line when it cannot see the input probe the host wrote (see InputProbe). */
  inputsUnseen: string;
}

const PROTOCOL_JSON = readFileSync(new URL('./protocol.json', import.meta.url), 'utf8');
const PROTOCOL = JSON.parse(PROTOCOL_JSON) as Protocol;

/** The loader's source, run with `python3 -c`: the image needs no file of ours. */
const LOADER_SOURCE = readFileSync(new URL('./loader.py', import.meta.url), 'utf8');

/** Printed by the loader once it is ready for a go line. */
export const READY_LINE = PROTOCOL.readyLine;

/** Printed by the loader on stdout as soon as it has read the go line, before the program starts. */
export const GO_ACK = PROTOCOL.goAck;

/**
 * Prefix of the exit markers: `${MARKER_PREFIX}${nonce}` then the same trailer with 0 collected bytes on stderr, and
 * `:<exit status>:<signal or 0>:<OOM kills, -1 without a cgroup view>:<CPU ms>:<peak RSS KiB>:<collected bytes>\n`
 * on stdout, followed there by that many bytes of collected files (see collected-files.ts).
 */
export const MARKER_PREFIX = PROTOCOL.markerPrefix;

/** Starts the loader's stderr line when it cannot see the input probe: the engine does not see this host's files. */
export const INPUTS_UNSEEN = PROTOCOL.inputsUnseen;

/**
 * A file the host wrote into a container's input dir (mount path) and what it holds: the loader
 * checks it before it says it is ready, and exits with INPUTS_UNSEEN on stderr when it does not
 * see it (the engine does not see this host's files).
 */
export interface InputProbe {
  /** The file's path inside the container. */
  path: string;
  nonce: string;
}

/**
 * How long a warm container waits for its run before it ends by itself (and the pool replaces it):
 * 10 minutes, plus up to 20% so that a pool's containers do not all end together. It bounds how
 * long an idle container outlives an owner that vanished without closing its connection.
 */
let warmIdleLimitMs = 10 * 60_000;

/** For specs: a shorter idle limit for containers started from now on. */
export function setWarmIdleLimit(ms: number): void {
  warmIdleLimitMs = ms;
}

/** The container's main process: the loader, its protocol, then its settings (modules to preload, input probe, idle limit). */
export function loaderCommand(preload: readonly string[], probe?: InputProbe): string[] {
  const idleSeconds = (warmIdleLimitMs * (1 + Math.random() * 0.2)) / 1000;
  const settings = { preload, probe: probe ?? null, idleSeconds };
  return ['python3', '-c', LOADER_SOURCE, PROTOCOL_JSON, JSON.stringify(settings)];
}

/** What the program gets besides its code, as JSON in the inputs file next to the code file. */
export interface RunInputs {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Path (inside the container) of a file to read as stdin; null for EOF at once. */
  stdin: string | null;
  /** Directory (inside the container) whose tree is copied into the work dir before the program starts. */
  files: string | null;
  /** What to bring back from the work dir after the program ends; null for nothing. */
  collect: CollectRequest | null;
}

export interface CollectRequest {
  /** Paths or globs relative to the work dir; a directory brings its tree. */
  patterns: readonly string[];
  /** Total bytes of file contents to send; files that do not fit are listed as skipped. */
  maxBytes: number;
  /** Most files to send, and most skipped entries to list one by one. */
  maxFiles: number;
  /** Longest file list (the section's first line) the host accepts. */
  maxHeaderBytes: number;
}

/** What the host sends to start a run (see goLine). */
export interface GoLine {
  /** The exit markers' nonce. */
  nonce: string;
  codePath: string;
  /** The inputs file; undefined for none. */
  inputsPath: string | undefined;
  /** Length of the payload (see packRunEntries) that follows the line on stdin; 0 on the mount path. */
  payloadBytes: number;
  /** From the go line, how long the loader lets the program run before it ends it and exits (its owner may be gone). */
  runDeadlineMs: number;
  /** From the program's end, how long the loader may take to report (and send collected files) before it exits. */
  reportDeadlineMs: number;
}

/** The go line: the marker nonce, the code file, the inputs file or '-', the payload length, the loader's deadlines. */
export function goLine(go: GoLine): string {
  const fields = [go.nonce, go.codePath, go.inputsPath ?? '-', go.payloadBytes, Math.ceil(go.runDeadlineMs), Math.ceil(go.reportDeadlineMs)];
  return `${fields.join(' ')}\n`;
}

/** What the loader reports after the program ended. */
export interface ExitReport {
  exitCode: number;
  /** Signal number that ended the program, or 0. */
  signal: number;
  /** OOM kills counted by the container's memory cgroup; -1 when there is no cgroup view (gVisor). */
  oomKills: number;
  /** CPU time (user + system) of the program and the children it waited for. */
  cpuMs: number;
  /** Largest resident set of the program (or of a child it waited for), in bytes. */
  peakMemoryBytes: number;
  /** Length of the collected-files section that follows the stdout marker's line (0: none). */
  collectedBytes: number;
}

/** Parses the stdout marker's trailer (`:status:signal:oom:cpu:rss:collected`). */
export function parseExitReport(trailer: string): ExitReport | undefined {
  const match = /^:(\d+):(\d+):(-?\d+):(\d+):(\d+):(\d+)$/.exec(trailer);
  if (match === null) return undefined;
  return {
    exitCode: Number(match[1]),
    signal: Number(match[2]),
    oomKills: Number(match[3]),
    cpuMs: Number(match[4]),
    peakMemoryBytes: Number(match[5]) * 1024,
    collectedBytes: Number(match[6]),
  };
}
