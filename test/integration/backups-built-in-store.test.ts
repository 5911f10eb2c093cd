import fs from 'node:fs';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BucketCredentials } from '../../src/api/contract/index.js';
import { BerthHarness } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';
import { s3Client } from '../helpers/s3.js';

/**
 * The S3 backup target (BERTH_BACKUP_S3_*) against a real S3 server: a bucket of Berth's own object store,
 * made with `berth bucket create`. `berth backup create/list/restore` of a PostgreSQL service go through it:
 * the archive is an object in that bucket, and a restore from it has the source's rows.
 */
const withoutPostgres = needs('postgresql', 'backups to a bucket of the built-in object store');
describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  const berth = new BerthHarness();
  const p = ['-p', 'bs'];
  let keys: BucketCredentials;

  const ok = async (args: string[]) => {
    const r = await berth.cli(args);
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const checksum = async (service: string) =>
    (
      await ok([
        'connect',
        service,
        ...p,
        '--',
        '-At',
        '-c',
        "SELECT count(*) || ':' || md5(string_agg(id || '=' || name, ',' ORDER BY id)) FROM items",
      ])
    ).trim();

  beforeAll(async () => {
    await berth.start();
    await ok(['init', '--name', 'bs']);
    await ok(['bucket', 'create', 'backups', ...p]);
    keys = JSON.parse(await ok(['bucket', 'credentials', 'backups', '--json', ...p])) as BucketCredentials;
    // The daemon reaches the store on its own port (path-style): it is on this machine, the edge's storage host
    // needs a DNS name the daemon's resolver may not know.
    const port = fs.readFileSync(path.join(berth.dataDir, 'storage', 'port'), 'utf8').trim();
    await berth.stopDaemon();
    berth.daemonEnv = {
      BERTH_BACKUP_S3_BUCKET: keys.bucket,
      BERTH_BACKUP_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      BERTH_BACKUP_S3_REGION: keys.region,
      BERTH_BACKUP_S3_ACCESS_KEY_ID: keys.accessKeyId,
      BERTH_BACKUP_S3_SECRET_ACCESS_KEY: keys.secretAccessKey,
      BERTH_BACKUP_S3_PATH_STYLE: '1',
    };
    await berth.startDaemon();
    await ok(['add', '--database', 'postgres', ...p]);
    await ok([
      'connect',
      'Postgres',
      ...p,
      '--',
      '-c',
      'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g',
    ]);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('backup create writes a verified archive into the bucket; list shows it; restore --to has the same rows', async () => {
    expect(berth.serverLog()).toContain(`backups go to s3://${keys.bucket}/`);
    const out = await ok(['backup', 'create', '-s', 'Postgres', ...p]);
    const id = /Backup (\S+) of Postgres is verified/.exec(out)?.[1];
    expect(id, out).toBeTruthy();
    const listed = JSON.parse(await ok(['backup', 'list', '--json', '-s', 'Postgres', ...p])) as {
      id: string;
      verified: boolean;
    }[];
    expect(listed[0]).toMatchObject({ id, verified: true });

    // The archive is an object of the bucket, seen by an S3 client with the bucket's keys.
    const s3 = s3Client({
      ...keys,
      endpoint: `http://127.0.0.1:${fs.readFileSync(path.join(berth.dataDir, 'storage', 'port'), 'utf8').trim()}`,
    });
    try {
      const objects = await s3.send(
        new ListObjectsV2Command({ Bucket: keys.bucket, Prefix: 'berth/backups/' }),
      );
      expect(objects.Contents?.some((o) => (o.Size ?? 0) > 0 && o.Key?.includes(id as string))).toBe(true);
    } finally {
      s3.destroy();
    }

    await ok(['backup', 'restore', id as string, '--to', 'Copy', ...p]);
    expect(await checksum('Copy')).toBe(await checksum('Postgres'));
    expect((await checksum('Copy')).startsWith('20000:')).toBe(true);
  });
});
