import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { S3Target } from '../../src/backup/s3-target.js';
import { backupTargetOf } from '../../src/server/backup-target.js';

describe("the server's backup target", () => {
  it('is <data-dir>/backups without a bucket', async () => {
    const t = await backupTargetOf({}, '/srv/berth');
    expect(t).toBeInstanceOf(LocalDirTarget);
    expect(t.description).toBe(`directory ${path.join('/srv/berth', 'backups')}`);
  });

  it('is the S3 bucket BERTH_BACKUP_S3_* name, under berth/backups by default', async () => {
    const t = await backupTargetOf(
      {
        BERTH_BACKUP_S3_BUCKET: 'dumps',
        BERTH_BACKUP_S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com',
        BERTH_BACKUP_S3_ACCESS_KEY_ID: 'id',
        BERTH_BACKUP_S3_SECRET_ACCESS_KEY: 'secret',
      },
      '/srv/berth',
    );
    expect(t).toBeInstanceOf(S3Target);
    expect(t.description).toBe('s3://dumps/berth/backups/ at https://acct.r2.cloudflarestorage.com');
  });

  it('refuses a bucket without keys in one sentence', async () => {
    await expect(backupTargetOf({ BERTH_BACKUP_S3_BUCKET: 'dumps' }, '/srv/berth')).rejects.toThrow(
      'BERTH_BACKUP_S3_BUCKET is set but its keys are not; set BERTH_BACKUP_S3_ACCESS_KEY_ID and BERTH_BACKUP_S3_SECRET_ACCESS_KEY too.',
    );
  });
});
