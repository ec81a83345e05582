/**
 * The results folder: every report is also written there as JSON, under its timestamp.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RESULTS_DIR = 'bench-results';

export function toJson(report: unknown): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** Writes `content` to bench-results/<name> and returns that path. */
export async function writeResultFile(name: string, content: string): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, name);
  await writeFile(file, content);
  return file;
}

/** Writes the report to bench-results/<prefix><timestamp>.json and returns that path. */
export async function writeTimestampedReport(prefix: string, report: { timestamp: string }): Promise<string> {
  // ':' is not allowed in file names on some systems (and in CI artifacts): 2025-01-31T12-00-00-000Z.json
  return writeResultFile(`${prefix}${report.timestamp.replace(/[:.]/g, '-')}.json`, toJson(report));
}
