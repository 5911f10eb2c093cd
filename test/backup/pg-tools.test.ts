import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { runPgDumpBackup } from '../../src/backup/pg-backup.js';
import { findPgTools } from '../../src/backup/pg-tools.js';
import { needs } from '../helpers/optional-tools.js';
import { tempStores, thrown } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const openStore = tempStores();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('the host PostgreSQL client tools', () => {
  const found = needs(
    'postgresql',
    "finds Debian's newest postgresql bin directory holding pg_dump, pg_restore and psql",
  );
  it.skipIf(found.skip)(found.title, () => {
    const tools = findPgTools();
    expect(tools.binDir).toMatch(/^\/usr\/lib\/postgresql\/\d+\/bin$/);
    for (const t of ['pg_dump', 'pg_restore', 'psql'])
      expect(fs.existsSync(path.join(tools.binDir, t))).toBe(true);
  });

  it('names the package to install when they are missing', () => {
    const tmp = makeTmpDir('berth-no-pg-');
    cleanups.push(tmp.cleanup);
    fs.mkdirSync(path.join(tmp.dir, '16', 'bin'), { recursive: true }); // a server-less leftover directory
    expect(thrown(() => findPgTools(tmp.dir)).message).toBe(
      `PostgreSQL's client tools (pg_dump, pg_restore, psql) are not installed under ${tmp.dir}; install the Debian package postgresql-client.`,
    );
  });

  it('a pg_dump that cannot be started is a recorded failure, not a crash', async () => {
    const tmp = makeTmpDir('berth-no-pg-');
    cleanups.push(tmp.cleanup);
    const store = openStore();
    const b = await runPgDumpBackup({
      store,
      target: new LocalDirTarget(path.join(tmp.dir, 'backups')),
      tools: { binDir: path.join(tmp.dir, 'bin') },
      subject: { serviceId: 's', environmentId: 'e' },
      connection: { host: '127.0.0.1', port: 1, user: 'u', password: 'p', database: 'd' },
    });
    expect(b).toMatchObject({ status: 'failed' });
    expect(b.error).toBe(
      `pg_dump failed: cannot run pg_dump: spawn ${path.join(tmp.dir, 'bin', 'pg_dump')} ENOENT.`,
    );
  });
});
