import { CliError } from './errors.js';

/**
 * Asks "Really <action>? [y/N]" on a terminal; -y skips it. Without a terminal nobody can answer, so the command
 * stops and says to pass -y rather than guessing. `action` reads after "to": `delete project "shop"`.
 */
export async function confirm(action: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new CliError(`Nothing was changed: pass -y to ${action} (there is no terminal to confirm on)`);
  }
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`Really ${action}? [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new CliError('Nothing was changed (not confirmed)');
  } finally {
    rl.close();
  }
}
