import { describe, expect, it } from 'vitest';
import {
  baseBackupArgv,
  baseBackupKey,
  baseBackupLabel,
  isArchivedWalName,
  lastTransactionTime,
  nextPosition,
  parseBackupHistory,
  recoverySettings,
  startWalOf,
  walCommitsArgv,
  walKey,
} from '../../src/backup/pitr-argv.js';
import { extractArgv } from '../../src/backup/pitr-restore.js';

const tools = { binDir: '/usr/lib/postgresql/15/bin' };
const subject = { serviceId: 'svc', environmentId: 'env' };

describe('point-in-time restore: argv and names', () => {
  it('builds pg_basebackup as one tar on stdout, no WAL, fast checkpoint, password from the passfile', () => {
    expect(
      baseBackupArgv(tools, { host: '127.0.0.9', port: 5432, user: 'postgres' }, 'berth base x'),
    ).toEqual([
      '/usr/lib/postgresql/15/bin/pg_basebackup',
      '--pgdata=-',
      '--format=tar',
      '--wal-method=none',
      '--checkpoint=fast',
      '--no-manifest',
      '--no-password',
      '--host=127.0.0.9',
      '--port=5432',
      '--username=postgres',
      '--label=berth base x',
    ]);
    expect(walCommitsArgv(tools, '/v/wal/000000010000000000000003')).toEqual([
      '/usr/lib/postgresql/15/bin/pg_waldump',
      '--rmgr=Transaction',
      '/v/wal/000000010000000000000003',
    ]);
    expect(extractArgv('/usr/bin/tar', '/v/pitr-restore/base.tar.gz', '/v/pgdata')).toEqual([
      '/usr/bin/tar',
      '--extract',
      '--gzip',
      '--file=/v/pitr-restore/base.tar.gz',
      '--directory=/v/pgdata',
      '--no-same-owner',
    ]);
  });

  it('ships only what the archiver hands over, under keys that sort in WAL order', () => {
    for (const name of [
      '000000010000000000000003',
      '000000010000000000000002.00000028.backup',
      '00000002.history',
      '000000010000000000000005.partial',
    ])
      expect(isArchivedWalName(name)).toBe(true);
    for (const name of [
      'archtemp.000000010000000000000003.123.456',
      '../etc',
      '00000001000000000000000G',
      '.x',
    ])
      expect(isArchivedWalName(name)).toBe(false);
    expect(walKey(subject, '000000010000000000000003')).toBe('wal/svc/env/000000010000000000000003.gz');
    expect(baseBackupKey(subject, 'id1', '2026-12-07T01:02:03.456Z')).toBe(
      'base/svc/env/20261207T010203Z-id1.tar.gz',
    );
    expect(nextPosition('00000000000000FE')).toBe('00000000000000FF');
    expect(nextPosition('00000000000000FF')).toBe('0000000100000000');
  });

  it('reads the start WAL file of backup_label, the end of a backup history file, the last commit of pg_waldump', () => {
    expect(
      startWalOf(
        'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\n',
      ),
    ).toBe('000000010000000000000002');
    const id = '0b8f3c52-8a55-4c8e-9d62-2b8e8f1f4b0e';
    expect(
      parseBackupHistory(
        `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTOP WAL LOCATION: 0/3000100 (file 000000010000000000000003)\nLABEL: ${baseBackupLabel(id)}\n`,
      ),
    ).toEqual({ baseId: id, endWal: '000000010000000000000003' });
    expect(
      parseBackupHistory('LABEL: berth branch\nSTOP WAL LOCATION: 0/1 (file 000000010000000000000003)\n'),
    ).toBe(null);
    const dump = [
      'rmgr: Transaction len (rec/tot):     34/    34, tx:        735, lsn: 0/03015E98, prev 0/03015E58, desc: COMMIT 2026-12-07 01:21:05.703073 UTC',
      'rmgr: Transaction len (rec/tot):     34/    34, tx:        736, lsn: 0/03015F00, prev 0/03015E98, desc: ABORT 2026-12-07 01:21:06.100000 UTC',
      'pg_waldump: error: error in WAL record at 0/3015F40: invalid record length',
    ].join('\n');
    expect(lastTransactionTime(dump)?.toISOString()).toBe('2026-12-07T01:21:06.100Z');
    expect(lastTransactionTime('pg_waldump: error: no records')).toBe(null);
  });

  it('writes recovery settings with our own path only, and refuses a path that would need quoting', () => {
    expect(
      recoverySettings({
        walDir: '/data/volumes/a/b/pitr-restore/wal',
        target: new Date('2026-11-22T10:15:03Z'),
      }),
    ).toBe(
      [
        '# Point-in-time restore by Berth (removed once the database is promoted)',
        `restore_command = 'cp "/data/volumes/a/b/pitr-restore/wal/%f" "%p"'`,
        "recovery_target_action = 'promote'",
        "recovery_target_timeline = 'latest'",
        "recovery_target_time = '2026-11-22 10:15:03.000+00'",
        '',
      ].join('\n'),
    );
    expect(recoverySettings({ walDir: '/d/wal', target: null })).not.toContain('recovery_target_time =');
    expect(() => recoverySettings({ walDir: "/data/x'; rm -rf /", target: null })).toThrow(
      /has characters point-in-time recovery cannot put in PostgreSQL's configuration/,
    );
  });
});
