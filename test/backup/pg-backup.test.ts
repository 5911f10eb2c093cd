import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { runPgDumpBackup } from '../../src/backup/pg-backup.js';
import { restorePgDump } from '../../src/backup/pg-restore.js';
import { verifyBackup } from '../../src/backup/verify.js';
import type { BackupSubject } from '../../src/core/backup-model.js';
import { UserError } from '../../src/core/errors.js';
import { waitFor } from '../../src/lib/wait.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { needs } from '../helpers/optional-tools.js';
import { PG_BIN, type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { tempStores } from '../helpers/store.js';
import { makeTmpDir } from '../helpers/tmp.js';

const withoutPostgres = needs('postgresql', 'pg_dump backups to a target, verified');
const openStore = tempStores();
const tools = { binDir: PG_BIN };
const subject: BackupSubject = { serviceId: 'svc-pg', environmentId: 'env-prod' };
const CHECKSUM = "SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS sum, count(*)::int AS n FROM t";

let source: PgCluster;
let other: PgCluster;
let tmp: { dir: string; cleanup: () => void };

beforeAll(async () => {
  if (withoutPostgres.skip) return;
  tmp = makeTmpDir('berth-pg-backup-');
  [source, other] = await Promise.all([startCluster(), startCluster({ password: 'second-cluster' })]);
  await source.createDatabase('app');
  await source.query(
    'app',
    `CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, doc jsonb, at timestamptz);
     INSERT INTO t SELECT g, 'row ' || g || E' \\u00e9\\t''q''', jsonb_build_object('g', g, 'sq', g * g), '2026-01-01'::timestamptz + g * interval '1 minute'
       FROM generate_series(1, 5000) g;
     CREATE INDEX t_name ON t (name);
     CREATE SEQUENCE s START 42;`,
  );
});

afterAll(async () => {
  await Promise.all([source?.stop(), other?.stop()]);
  tmp?.cleanup();
});

function setup() {
  const store = openStore();
  const root = path.join(tmp.dir, randomBytes(4).toString('hex'));
  return { store, root, target: new LocalDirTarget(root) };
}

async function checksum(c: PgCluster, db: string): Promise<{ sum: string; n: number }> {
  return (await c.query<{ sum: string; n: number }>(db, CHECKSUM))[0];
}

describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  it('round trip: a verified archive restored into a second cluster reproduces the table checksum', async () => {
    const { store, root, target } = setup();
    const before = await checksum(source, 'app');
    expect(before.n).toBe(5000);

    const b = await runPgDumpBackup({ store, target, tools, subject, connection: source.connection('app') });
    expect(b.error).toBeNull();
    expect(b).toMatchObject({ status: 'verified', verified: true, kind: 'pg_dump' });
    const file = path.join(root, ...b.key.split('/'));
    const bytes = fs.readFileSync(file);
    expect(b.sizeBytes).toBe(bytes.length);
    expect(b.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.subarray(0, 5).toString()).toBe('PGDMP'); // custom format
    expect(b.key).toMatch(/^pg_dump\/svc-pg\/env-prod\/\d{8}T\d{6}Z-[0-9a-f-]{36}\.dump$/);

    const into = await other.createDatabase('restored');
    const r = await restorePgDump({ store, target, tools, backupId: b.id, into });
    expect(r.entries).toBeGreaterThan(3);
    expect(await checksum(other, 'restored')).toEqual(before);
    expect((await other.query('restored', "SELECT nextval('s') AS v"))[0].v).toBe('42');
    expect(await checksum(source, 'app')).toEqual(before);
  });

  it('refuses to restore into a database that holds anything, and leaves it as it was', async () => {
    const { store, target } = setup();
    const b = await runPgDumpBackup({ store, target, tools, subject, connection: source.connection('app') });
    const into = await other.createDatabase('busy');
    await other.query('busy', 'CREATE TABLE keep (x int); INSERT INTO keep VALUES (1)');
    const err = await restorePgDump({ store, target, tools, backupId: b.id, into }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `The database "busy" at 127.0.0.1:${into.port} already holds 1 tables, sequences or schemas; restore into a new, empty database.`,
    );
    expect(await other.query('busy', 'SELECT x FROM keep')).toEqual([{ x: 1 }]);
  });

  it('a restore that fails midway is rolled back whole and says so', async () => {
    const { store, target } = setup();
    await source.createDatabase('two_steps');
    await source.query(
      'two_steps',
      'CREATE TABLE a (id int); INSERT INTO a SELECT generate_series(1, 100); CREATE INDEX a_id ON a (id);',
    );
    const b = await runPgDumpBackup({
      store,
      target,
      tools,
      subject,
      connection: source.connection('two_steps'),
    });
    expect(b.status).toBe('verified');
    const into = await other.createDatabase('half');
    // The new database refuses the archive's index (post-data), after its table was created and loaded.
    await other.query(
      'half',
      `CREATE FUNCTION no_index() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'indexes are refused here'; END $$;
       CREATE EVENT TRIGGER refuse_index ON ddl_command_end WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION no_index();`,
    );
    const err = await restorePgDump({ store, target, tools, backupId: b.id, into }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^Restoring backup ${b.id} into "half" at 127\\.0\\.0\\.1:${into.port} failed and was rolled back, leaving the database empty: .*indexes are refused here.*\\.$`,
      ),
    );
    expect(await other.query('half', "SELECT count(*)::int AS n FROM pg_class WHERE relname = 'a'")).toEqual([
      { n: 0 },
    ]);
    expect(store.backups.get(b.id).status).toBe('verified');
  });

  it('a pg_dump with wrong credentials records a failure sentence and leaves no archive', async () => {
    const { store, root, target } = setup();
    const b = await runPgDumpBackup({
      store,
      target,
      tools,
      subject,
      connection: { ...source.connection('app'), password: 'wrong' },
    });
    expect(b.status).toBe('failed');
    expect(b.error).toBe(
      `pg_dump failed: connection to server at "127.0.0.1", port ${source.admin.port} failed: FATAL: password authentication failed for user "berth".`,
    );
    expect(store.backups.findLatestFinished(subject)?.error).toBe(b.error);
    expect(await target.list('')).toEqual([]);
    expect(fs.existsSync(root) ? fs.readdirSync(path.join(root, 'pg_dump/svc-pg/env-prod')) : []).toEqual([]);
  });

  it('a database that does not exist is a failure sentence too', async () => {
    const { store, target } = setup();
    const b = await runPgDumpBackup({
      store,
      target,
      tools,
      subject,
      connection: source.connection('missing'),
    });
    expect(b.error).toBe(
      `pg_dump failed: connection to server at "127.0.0.1", port ${source.admin.port} failed: FATAL: database "missing" does not exist.`,
    );
  });

  it('bytes flipped in the target after upload: the check reports it unverified with the reason, and restore refuses', async () => {
    const { store, root, target } = setup();
    const b = await runPgDumpBackup({ store, target, tools, subject, connection: source.connection('app') });
    const file = path.join(root, ...b.key.split('/'));
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(file, bytes);

    const checked = await verifyBackup({ store, target, tools, backupId: b.id });
    expect(checked).toMatchObject({
      status: 'failed',
      verified: false,
      sizeBytes: b.sizeBytes,
      sha256: b.sha256,
    });
    expect(checked.error).toBe(
      "The stored archive's SHA-256 differs from what was written, so its bytes changed in the backup target.",
    );
    const into = await other.createDatabase('from_flipped');
    await expect(restorePgDump({ store, target, tools, backupId: b.id, into })).rejects.toThrow(
      `Backup ${b.id} is not verified (The stored archive's SHA-256 differs from what was written, so its bytes changed in the backup target.); restore a verified one from \`berth backup list\`.`,
    );
  });

  it('restore checks the stored archive before touching the database: a truncated one is refused and marked', async () => {
    const { store, root, target } = setup();
    const b = await runPgDumpBackup({ store, target, tools, subject, connection: source.connection('app') });
    const file = path.join(root, ...b.key.split('/'));
    fs.truncateSync(file, 1000);
    const into = await other.createDatabase('from_truncated');
    await expect(restorePgDump({ store, target, tools, backupId: b.id, into })).rejects.toThrow(
      `Backup ${b.id} failed its check, so nothing was restored: The stored archive is 1000 bytes but ${b.sizeBytes} were written, so it was truncated or replaced in the backup target.`,
    );
    expect(store.backups.get(b.id)).toMatchObject({ status: 'failed', verified: false });
    expect(
      await other.query(
        'from_truncated',
        "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace",
      ),
    ).toEqual([{ n: 0 }]);
  });

  it('an archive pg_restore cannot read is unverified even when its size and checksum match', async () => {
    const { store, target } = setup();
    const garbage = randomBytes(4096);
    const rec = store.backups.begin(subject, 'pg_dump', (id) => `pg_dump/svc-pg/env-prod/${id}.dump`);
    await target.put(rec.key, Readable.from([garbage]));
    store.backups.markVerified(rec.id, garbage.length, createHash('sha256').update(garbage).digest('hex'));
    const checked = await verifyBackup({ store, target, tools, backupId: rec.id });
    expect(checked.status).toBe('failed');
    expect(checked.error).toBe(
      'pg_restore cannot read the stored archive: input file does not appear to be a valid archive.',
    );
  });

  it('an archive missing from the target is unverified, naming the key, by a check or by a restore', async () => {
    const { store, target } = setup();
    const b = await runPgDumpBackup({ store, target, tools, subject, connection: source.connection('app') });
    await target.delete(b.key);
    const missing = `The archive "${b.key}" is missing from the backup target (${target.description}).`;
    const into = await other.createDatabase('from_missing');
    await expect(restorePgDump({ store, target, tools, backupId: b.id, into })).rejects.toThrow(
      `Backup ${b.id} could not be fetched, so nothing was restored: ${missing}`,
    );
    expect(store.backups.get(b.id)).toMatchObject({ status: 'failed', error: missing });

    const c = await runPgDumpBackup({ store, target, tools, subject, connection: source.connection('app') });
    await target.delete(c.key);
    const checked = await verifyBackup({ store, target, tools, backupId: c.id });
    expect(checked.error).toBe(
      `Reading the archive back failed: The archive "${c.key}" is missing from the backup target (${target.description}).`,
    );
  });

  describe('while pg_dump waits on a lock', () => {
    async function lockedRun(opts: { cancelAfterStart?: boolean; timeoutMs?: number }) {
      const { store, target } = setup();
      const pg = await import('pg');
      const holder = new pg.default.Client({ ...source.connection('app') });
      await holder.connect();
      await holder.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
      const controller = new AbortController();
      let dumpPid = 0;
      try {
        const running = runPgDumpBackup({
          store,
          target,
          tools,
          subject,
          connection: source.connection('app'),
          signal: controller.signal,
          timeoutMs: opts.timeoutMs,
          onDumpStarted: (pid) => {
            dumpPid = pid;
          },
        });
        await waitFor('pg_dump to wait for the lock', async () => {
          const rows = await source.query(
            'app',
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'",
          );
          return rows.length > 0;
        });
        expect(groupAlive(dumpPid)).toBe(true);
        if (opts.cancelAfterStart) controller.abort();
        const b = await running;
        return { b, dumpPid, target, store };
      } finally {
        await holder.query('ROLLBACK').catch(() => {});
        await holder.end();
      }
    }

    it('cancel stops the pg_dump process group and records the cancel', async () => {
      const { b, dumpPid, target } = await lockedRun({ cancelAfterStart: true });
      expect(b).toMatchObject({ status: 'failed', error: 'The backup was cancelled before it finished.' });
      expect(groupAlive(dumpPid)).toBe(false);
      expect(await target.list('')).toEqual([]);
    });

    it('a run past its timeout is stopped and recorded with the limit', async () => {
      const { b, dumpPid } = await lockedRun({ timeoutMs: 1500 });
      expect(b).toMatchObject({
        status: 'failed',
        error: 'The backup took longer than 1.5 s and was stopped.',
      });
      expect(groupAlive(dumpPid)).toBe(false);
    });
  });
});
