import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The hook program every bare repo runs (compiled next to this file). */
export const HOOK_SCRIPT = fileURLToPath(new URL('./proc-receive.js', import.meta.url));

/** Bare repos live in `<data-dir>/git/<project>.git`. */
export function gitRoot(dataDir: string): string {
  return path.join(dataDir, 'git');
}

export function repoPath(dataDir: string, project: string): string {
  return path.join(gitRoot(dataDir), `${project}.git`);
}

/** Runs git with an argument array (never a shell); rejects with git's stderr. */
export async function git(args: string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('git', args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/**
 * Creates the project's bare repo on first access and (re)writes its hook. Pushes to branches go
 * through the `proc-receive` hook (receive.procReceiveRefs = refs/heads), which stores the commit,
 * deploys it and reports the ref as rejected when the deployment fails.
 */
export async function ensureRepo(dataDir: string, project: string): Promise<string> {
  const repo = repoPath(dataDir, project);
  if (!fs.existsSync(path.join(repo, 'HEAD'))) {
    fs.mkdirSync(repo, { recursive: true });
    await git(['init', '--quiet', '--bare', '--initial-branch=main'], repo);
    await git(['config', 'receive.procReceiveRefs', 'refs/heads'], repo);
    await git(['config', 'http.receivepack', 'true'], repo);
  }
  const hook = path.join(repo, 'hooks', 'proc-receive');
  const body = `#!/bin/sh\nexec '${process.execPath}' '${HOOK_SCRIPT}'\n`;
  if (!fs.existsSync(hook) || fs.readFileSync(hook, 'utf8') !== body) {
    fs.mkdirSync(path.dirname(hook), { recursive: true });
    fs.writeFileSync(hook, body, { mode: 0o755 });
  }
  return repo;
}
