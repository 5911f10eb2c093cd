import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../src/backup/local-target.js';
import { INTERRUPTED_REASON, recoverInterruptedBackups } from '../../src/backup/recovery.js';
import { waitFor } from '../../src/lib/wait.js';
import { JobGroups } from '../../src/runtime/job-groups.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { openStore } from '../../src/store/open-store.js';
import { needs } from '../helpers/optional-tools.js';
import { PG_BIN, type PgCluster, startCluster } from '../helpers/pg-cluster.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const withoutPostgres = needs('postgresql', 'a daemon killed (kill -9) during a backup');
const DIST = path.resolve(import.meta.dirname, '../../dist');

let cluster: PgCluster;
let tmp: { dir: string; cleanup: () => void };

beforeAll(async () => {
  if (withoutPostgres.skip) return;
  tmp = makeTmpDir('berth-backup-crash-');
  cluster = await startCluster();
  await cluster.createDatabase('app');
  await cluster.query('app', 'CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)');
});

afterAll(async () => {
  await cluster?.stop();
  tmp?.cleanup();
});

describe.skipIf(withoutPostgres.skip)(withoutPostgres.title, () => {
  it('leaves nothing behind: the next start fails the backup with the reason, kills pg_dump, sweeps the temp file and the passfile', async () => {
    const data = tmp.dir;
    const root = path.join(data, 'backups');
    const jobsDir = path.join(data, 'jobs');
    const workDir = path.join(data, 'backup-work');
    fs.mkdirSync(workDir, { mode: 0o700 });
    const pg = await import('pg');
    const holder = new pg.default.Client({ ...cluster.connection('app') });
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    const connection = cluster.connection('app');
    // A daemon stand-in: the real modules from dist/, in a process of its own that the test kills.
    const script = `
      const { openStore } = await import(${JSON.stringify(`${DIST}/store/open-store.js`)});
      const { LocalDirTarget } = await import(${JSON.stringify(`${DIST}/backup/local-target.js`)});
      const { runPgDumpBackup } = await import(${JSON.stringify(`${DIST}/backup/pg-backup.js`)});
      const { JobGroups } = await import(${JSON.stringify(`${DIST}/runtime/job-groups.js`)});
      const { store } = openStore(${JSON.stringify(path.join(data, 'state.db'))}, ${JSON.stringify(data)});
      await runPgDumpBackup({
        store, target: new LocalDirTarget(${JSON.stringify(root)}), tools: { binDir: ${JSON.stringify(PG_BIN)} },
        subject: { serviceId: 'svc', environmentId: 'env' }, connection: ${JSON.stringify(connection)},
        jobs: new JobGroups(${JSON.stringify(jobsDir)}), workDir: ${JSON.stringify(workDir)},
        onDumpStarted: (pid) => console.log('dump ' + pid),
      });`;
    const daemon = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    daemon.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    try {
      const dumpPid = Number(await waitFor('pg_dump to start', () => /dump (\d+)/.exec(out)?.[1]));
      await waitFor('pg_dump to wait for the lock', async () => {
        const rows = await cluster.query(
          'app',
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'",
        );
        return rows.length > 0;
      });
      killGroup(daemon.pid as number, 'SIGKILL');
      await waitFor('the daemon to be gone', () => daemon.exitCode !== null || daemon.signalCode !== null);
      expect(groupAlive(dumpPid)).toBe(true); // pg_dump runs on in its own group, as after a real crash

      // The next daemon: kill the recorded job groups, then recover the manifest and the target.
      expect(new JobGroups(jobsDir).killLeftovers()).toBe(1);
      await waitFor('pg_dump to be gone', () => !groupAlive(dumpPid));
      const { store } = openStore(path.join(data, 'state.db'), data);
      try {
        const target = new LocalDirTarget(root);
        const dir = path.join(root, 'pg_dump/svc/env');
        expect(fs.readdirSync(dir).filter((f) => f.startsWith('.part-'))).toHaveLength(1);
        const passfileDirs = fs.readdirSync(workDir);
        expect(passfileDirs).toHaveLength(1); // the killed run's passfile, holding the database password
        expect(fs.readFileSync(path.join(workDir, passfileDirs[0], 'pgpass'), 'utf8')).toContain('*:*:*:*:');
        expect(await recoverInterruptedBackups(store, target, workDir)).toEqual({
          failed: 1,
          swept: 1,
          workLeftovers: 1,
        });
        const [b] = store.backups.list({ serviceId: 'svc', environmentId: 'env' });
        expect(b).toMatchObject({ status: 'failed', error: INTERRUPTED_REASON });
        expect(fs.readdirSync(dir)).toEqual([]);
        expect(fs.readdirSync(workDir)).toEqual([]);
        expect(await recoverInterruptedBackups(store, target, workDir)).toEqual({
          failed: 0,
          swept: 0,
          workLeftovers: 0,
        });
      } finally {
        store.close();
      }
    } finally {
      killGroup(daemon.pid as number);
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    }
  });
});
