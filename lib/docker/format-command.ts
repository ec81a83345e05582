/** A readable, shell-quoted form of an argv for error messages; long arguments are shortened. */
const MAX_ARG = 80;
const SAFE = /^[\w@%+=:,./-]+$/;

export function formatCommand(binary: string, args: readonly string[]): string {
  return [binary, ...args].map(quote).join(' ');
}

function quote(arg: string): string {
  const shown = arg.length > MAX_ARG ? `${arg.slice(0, MAX_ARG)}…` : arg;
  if (shown !== '' && SAFE.test(shown)) return shown;
  return `'${shown.replace(/'/g, `'\\''`)}'`;
}
