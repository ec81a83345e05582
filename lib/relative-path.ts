/**
 * The one rule for paths inside the work dir, used for the files a run brings in, the patterns it
 * collects, and the names the container sends back (which the host must not trust).
 */

/** Why a path cannot name a file inside the work dir, or undefined when it can. */
export function relativePathProblem(path: string): string | undefined {
  if (path === '' || path.includes('\0')) return 'is not a usable file name';
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) return 'must be relative to the work dir, not absolute';
  const parts = path.split(/[\\/]/);
  if (parts.some((part) => part === '..')) return 'must stay inside the work dir (no ".." parts)';
  if (parts.some((part) => part === '' || part === '.')) return 'must be a plain relative path like "data/in.csv"';
  return undefined;
}
