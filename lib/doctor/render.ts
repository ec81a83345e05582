/**
 * How doctor's checks are printed: a table for people (colour only on a terminal, and never with
 * NO_COLOR set), or JSON for programs. Pure: the command decides where the text goes.
 */
import type { DoctorCheck } from './check.js';

const GREEN = '\u001b[32m';
const RED = '\u001b[31m';
const DIM = '\u001b[2m';
const RESET = '\u001b[0m';

/** Colour on a terminal unless NO_COLOR is set to anything (https://no-color.org) or the terminal is dumb. */
export function useColor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

/** `{ "checks": [{ "name", "ok", "detail", "fix" }] }`, one key per line. */
export function renderJson(checks: readonly DoctorCheck[]): string {
  return `${JSON.stringify({ checks: checks.map(({ name, ok, detail, fix }) => ({ name, ok, detail, fix })) }, null, 2)}\n`;
}

/**
 * One line per check (`PASS  name  detail`), the fix of a failure on the line below it, then a
 * summary line. Names are padded to one column; details are not wrapped (the terminal does that).
 */
export function renderTable(checks: readonly DoctorCheck[], { color }: { color: boolean }): string {
  const paint = (code: string, text: string): string => (color ? `${code}${text}${RESET}` : text);
  const width = Math.max(0, ...checks.map((check) => check.name.length));
  const indent = ' '.repeat('PASS  '.length + width + 2);
  const lines = checks.flatMap((check) => {
    const status = check.ok ? paint(GREEN, 'PASS') : paint(RED, 'FAIL');
    const line = `${status}  ${check.name.padEnd(width)}  ${check.detail}`;
    return check.ok || check.fix === null ? [line] : [line, `${indent}${paint(DIM, 'fix:')} ${check.fix}`];
  });
  const failures = checks.filter((check) => !check.ok).length;
  const summary = failures === 0 ? paint(GREEN, `all ${checks.length} checks passed`) : paint(RED, `${failures} of ${checks.length} checks failed`);
  return `${[...lines, summary].join('\n')}\n`;
}
