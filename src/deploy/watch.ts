/**
 * Railway's watchPatterns: gitignore-style patterns matched against the repo-relative paths a push
 * changed (from the repository root even when the service has a root directory). Returns why the
 * deployment is skipped, or null when it should deploy: no patterns, unknown changes, or a match.
 */
export async function watchSkipReason(
  patterns: string[],
  changedFiles: string[] | null,
): Promise<string | null> {
  if (patterns.length === 0 || changedFiles === null) return null;
  // Loaded by the few services that set watchPatterns: a few MB the resident daemon otherwise never needs.
  const { default: ignore } = await import('ignore');
  const matcher = ignore().add(patterns);
  const hit = changedFiles.some((f) => {
    const rel = f.replace(/^\/+/, '');
    return rel !== '' && matcher.ignores(rel);
  });
  if (hit) return null;
  const list = patterns.map((p) => `"${p}"`).join(', ');
  return changedFiles.length === 0
    ? `the push changed no files, and watchPatterns ${list} are set`
    : `no file this push changed matches watchPatterns ${list}`;
}
