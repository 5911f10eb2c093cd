import ignore from 'ignore';

/**
 * Railway's watchPatterns: gitignore-style patterns matched against the repo-relative paths a push
 * changed (from the repository root even when the service has a root directory). Returns why the
 * deployment is skipped, or null when it should deploy: no patterns, unknown changes, or a match.
 */
export function watchSkipReason(patterns: string[], changedFiles: string[] | null): string | null {
  if (patterns.length === 0 || changedFiles === null) return null;
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
