import path from 'node:path';
import type { Command } from 'commander';
import { dataDir, tildify } from '../context.js';
import { print } from '../output.js';
import { makeClient } from './shared.js';

/** `master-key rotate`: re-encrypts every stored value under a fresh master key. */

export function registerMasterKey(program: Command): void {
  const group = program
    .command('master-key')
    .description('manage the master key that encrypts variables and other stored secrets');

  group
    .command('rotate')
    .description('re-encrypt every stored value under a new master key (keeps the old one as a backup)')
    .action(async () => {
      const r = await makeClient().rotateMasterKey();
      const previous = tildify(path.join(dataDir(), 'master.key.previous'));
      print(
        `Rotated the master key: ${r.oldKeyId} → ${r.newKeyId} (${r.values} value${r.values === 1 ? '' : 's'} re-encrypted); ` +
          `the old key is kept as ${previous} until you delete it.`,
      );
    });
}
