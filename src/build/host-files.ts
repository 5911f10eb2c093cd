/**
 * Files the daemon writes for one build with the host's package-manager settings (an .npmrc or pip.conf without
 * credentials, a .yarnrc.yml): next to appDir, in the artifact's own daemon-owned directory, never in a directory
 * the build's user owns (a link planted there would have the daemon write through it), and bound read-only into
 * sandboxed commands (exec.ts).
 */
import path from 'node:path';
import { writeFileAtomicAsync } from '../lib/atomic-write.js';
import type { BuildContext } from './exec.js';

/** Writes name next to ctx.appDir (replacing, never following, what is there) and returns its path. */
export async function writeHostFile(ctx: BuildContext, name: string, text: string): Promise<string> {
  const file = path.join(path.dirname(ctx.appDir), name);
  // Readable by the build's user whatever the umask; the rename replaces a link itself, not its target.
  await writeFileAtomicAsync(file, text, { mode: 0o644 });
  if (!ctx.hostFiles.includes(file)) ctx.hostFiles.push(file);
  return file;
}
