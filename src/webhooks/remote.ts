import { UserError } from '../core/errors.js';
import { git } from '../git/repo.js';

const FETCH_TIMEOUT_MS = 10 * 60_000;

/** Any git URL git can fetch (https, ssh, a local path), never something git would read as an option. */
export function checkRepoUrl(url: string): string {
  const u = url.trim();
  if (u === '' || u.startsWith('-') || /[\r\n\0]/.test(u) || /^ext::/i.test(u)) {
    throw new UserError(
      `"${url}" is not a repository URL Berth can fetch; give an https, ssh or file URL or a path.`,
    );
  }
  return u;
}

/**
 * Fetches `branch` of a remote repository into the project's bare repo (under refs/berth/remote/) and
 * makes sure `sha` arrived, fetching it by id when the branch has moved on since.
 */
export async function fetchCommit(repo: string, url: string, branch: string, sha: string): Promise<void> {
  const source = checkRepoUrl(url);
  // ext:: would run a command; never allowed, whatever the user's git config says.
  const base = [
    '-c',
    'protocol.ext.allow=never',
    'fetch',
    '--quiet',
    '--no-tags',
    '--end-of-options',
    source,
  ];
  try {
    await git([...base, `+refs/heads/${branch}:refs/berth/remote/${branch}`], repo, FETCH_TIMEOUT_MS);
  } catch (err) {
    throw new UserError(`Fetching ${branch} from ${source} failed: ${firstLine(err)}.`);
  }
  if (await hasCommit(repo, sha)) return;
  try {
    await git([...base, sha], repo, FETCH_TIMEOUT_MS);
  } catch (err) {
    throw new UserError(`Commit ${sha} is not in ${source} (${firstLine(err)}).`);
  }
}

async function hasCommit(repo: string, sha: string): Promise<boolean> {
  try {
    await git(['cat-file', '-e', `${sha}^{commit}`], repo);
    return true;
  } catch {
    return false;
  }
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim().split('\n')[0];
}
