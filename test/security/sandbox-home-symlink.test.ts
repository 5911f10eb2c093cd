import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataPaths } from '../../src/deploy/paths.js';
import { SandboxUsers } from '../../src/deploy/sandbox-users.js';
import { userHome, userTmp } from '../../src/runtime/sandbox.js';
import type { Store } from '../../src/store/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

/**
 * A sandboxed job owns its root, so it can replace home/ or tmp/ with a symlink to anything. The daemon
 * prepares those directories as root before the next job: it must not chown what the link points at.
 */
describe.skipIf(process.getuid?.() !== 0)('sandbox user directories replaced by symlinks', () => {
  const tmp = makeTmpDir('berth-sbhome-');
  afterAll(() => tmp.cleanup());

  it('the next job gets real directories again and the link targets keep their owner', () => {
    const paths = new DataPaths(path.join(tmp.dir, 'data'));
    fs.mkdirSync(paths.root, { recursive: true });
    // The uid number is the store's business, not what is tested here.
    const store = { sandboxUsers: { seq: () => 0 } } as unknown as Store;
    const host = { bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv', hidden: [paths.root] };
    const users = new SandboxUsers(store, paths, host);
    const first = users.userOf('svc', 'env');
    if (!first) throw new Error('no user');

    const victimDir = path.join(tmp.dir, 'victim');
    fs.mkdirSync(victimDir, { mode: 0o700 });
    const victimFile = path.join(tmp.dir, 'victim-file');
    fs.writeFileSync(victimFile, 'secret', { mode: 0o600 });
    // What the tenant's code does inside its root (as its uid; root here, owner checked below).
    fs.rmSync(userHome(first), { recursive: true });
    fs.symlinkSync(victimDir, userHome(first));
    fs.rmSync(userTmp(first), { recursive: true });
    fs.symlinkSync(victimFile, userTmp(first));

    const again = users.userOf('svc', 'env');
    expect(again?.uid).toBe(first.uid);
    for (const dir of [userHome(first), userTmp(first)]) {
      const st = fs.lstatSync(dir);
      expect(st.isDirectory()).toBe(true);
      expect(st.uid).toBe(first.uid);
    }
    expect(fs.statSync(victimDir).uid).toBe(0);
    expect(fs.statSync(victimFile).uid).toBe(0);
    expect(fs.readFileSync(victimFile, 'utf8')).toBe('secret');
  });
});
