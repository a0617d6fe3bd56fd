/**
 * Small helpers shared by the dataset readers (not part of the public API).
 */

/** `n` with thousands separators, as error messages write counts: `47,040,016`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Why a file could not be read, from a Node fs error: `not found`, `is a folder`, ... */
export function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EISDIR') return 'is a folder (expected a file)';
  if (code === 'EACCES' || code === 'EPERM') return 'is not readable (permission denied)';
  const reason = error instanceof Error ? error.message : String(error);
  return `cannot be read (${reason})`;
}
