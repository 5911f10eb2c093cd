/**
 * The server's backup target: `<data-dir>/backups` unless BERTH_BACKUP_S3_BUCKET names a bucket of any S3
 * endpoint (R2, AWS, MinIO); the S3 settings come from the environment so keys never sit in argv.
 */
import path from 'node:path';
import { LocalDirTarget } from '../backup/local-target.js';
import type { BackupTarget } from '../backup/target.js';
import { UserError } from '../core/errors.js';

export async function backupTargetOf(env: NodeJS.ProcessEnv, dataDir: string): Promise<BackupTarget> {
  const bucket = env.BERTH_BACKUP_S3_BUCKET;
  if (!bucket) return new LocalDirTarget(path.join(dataDir, 'backups'));
  const accessKeyId = env.BERTH_BACKUP_S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.BERTH_BACKUP_S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new UserError(
      'BERTH_BACKUP_S3_BUCKET is set but its keys are not; set BERTH_BACKUP_S3_ACCESS_KEY_ID and BERTH_BACKUP_S3_SECRET_ACCESS_KEY too.',
    );
  }
  const { S3Target } = await import('../backup/s3-target.js');
  return new S3Target({
    endpoint: env.BERTH_BACKUP_S3_ENDPOINT || undefined,
    region: env.BERTH_BACKUP_S3_REGION || 'auto',
    bucket,
    prefix: env.BERTH_BACKUP_S3_PREFIX ?? 'berth/backups',
    accessKeyId,
    secretAccessKey,
    forcePathStyle: env.BERTH_BACKUP_S3_PATH_STYLE === '1' || env.BERTH_BACKUP_S3_PATH_STYLE === 'true',
  });
}
