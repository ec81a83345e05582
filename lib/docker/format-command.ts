/**
 * A readable, shell-quoted form of an argv for error messages and debug lines, always on one line:
 * long arguments are shortened, control characters (newlines in the loader's source) escaped.
 */
const MAX_ARG = 80;
const SAFE = /^[\w@%+=:,./-]+$/;

export function formatCommand(binary: string, args: readonly string[]): string {
  return [binary, ...args].map(quote).join(' ');
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

function quote(arg: string): string {
  const short = arg.length > MAX_ARG ? `${arg.slice(0, MAX_ARG)}…` : arg;
  const shown = short.replace(CONTROL, (char) => NAMED[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (shown !== '' && SAFE.test(shown)) return shown;
  return `'${shown.replace(/'/g, `'\\''`)}'`;
}
