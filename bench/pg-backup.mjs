#!/usr/bin/env node
/**
 * Logical backup benchmark (`node bench/pg-backup.mjs [--mb 100]`, after `npm run build`): a real PostgreSQL
 * cluster (the host's, as the `postgres` OS user, default settings, fsync on) in a temp dir, a database of about
 * --mb MB, then Berth's own modules from dist/: a verified backup (pg_dump -Fc → local target → read back, size +
 * SHA-256 + pg_restore --list) and a restore into a new database (fetch + check + pg_restore in one transaction),
 * checked by a table checksum, side by side with a hand-run pg_restore of the same archive file with the same
 * options (--rounds, default 3, alternating; medians). Prints the figures and writes bench/results/pg-backup.json.
 * Stops postgres by pid and removes the temp dir, also on failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'dist');
const RESULTS = path.join(ROOT, 'bench', 'results', 'pg-backup.json');
const PG_BIN = '/usr/lib/postgresql/15/bin';
const mbArg = process.argv.indexOf('--mb');
const TARGET_MB = mbArg > 0 ? Number(process.argv[mbArg + 1]) : 100;
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { openStore } = await import(path.join(DIST, 'store/open-store.js'));
const { LocalDirTarget } = await import(path.join(DIST, 'backup/local-target.js'));
const { runPgDumpBackup } = await import(path.join(DIST, 'backup/pg-backup.js'));
const { restorePgDump } = await import(path.join(DIST, 'backup/pg-restore.js'));
const { freePort } = await import(path.join(DIST, 'lib/net.js'));

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
const user = { uid: id('-u'), gid: id('-g') };
const asPostgres = (argv) => [
  'setpriv',
  `--reuid=${user.uid}`,
  `--regid=${user.gid}`,
  '--clear-groups',
  '--',
  ...argv,
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-pg-'));
let pgPid = null;

async function cleanup() {
  if (pgPid) {
    try {
      process.kill(-pgPid, 'SIGINT');
    } catch {}
    for (let i = 0; i < 300; i++) {
      try {
        process.kill(-pgPid, 0);
      } catch {
        break;
      }
      await sleep(50);
    }
    try {
      process.kill(-pgPid, 'SIGKILL');
    } catch {}
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup().then(() => process.exit(1)));

try {
  fs.chownSync(tmp, user.uid, user.gid);
  const data = path.join(tmp, 'data');
  const pwfile = path.join(tmp, 'pw');
  const password = 'bench-password';
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  fs.chownSync(pwfile, user.uid, user.gid);
  const initdb = asPostgres([
    path.join(PG_BIN, 'initdb'),
    '-D',
    data,
    '-U',
    'berth',
    `--pwfile=${pwfile}`,
    '--auth=scram-sha-256',
    '--locale=C',
    '-E',
    'UTF8',
  ]);
  execFileSync(initdb[0], initdb.slice(1), { stdio: 'pipe' });
  const port = await freePort();
  const argv = asPostgres([
    path.join(PG_BIN, 'postgres'),
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    tmp,
    '-c',
    'listen_addresses=127.0.0.1',
  ]);
  const logFd = fs.openSync(path.join(tmp, 'postgres.log'), 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', logFd, logFd] });
  pgPid = child.pid;
  child.unref();
  const conn = (database) => ({ host: '127.0.0.1', port, user: 'berth', password, database });
  const query = async (database, sql) => {
    const c = new pg.Client(conn(database));
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };
  for (let i = 0; ; i++) {
    try {
      await query('postgres', 'SELECT 1');
      break;
    } catch (err) {
      if (i > 600) throw err;
      await sleep(50);
    }
  }

  log(`filling a database of about ${TARGET_MB} MB`);
  await query('postgres', 'CREATE DATABASE app');
  // Rows of ~200 bytes: an id, two hashes (poorly compressible) and a timestamp, plus an index.
  const rows = Math.round((TARGET_MB * 1024 * 1024) / 190);
  await query(
    'app',
    `CREATE TABLE t AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS a, md5(g::text) || repeat('x', 40) AS b,
       now() - g * interval '1 second' AS at FROM generate_series(1, ${rows}) g;
     ALTER TABLE t ADD PRIMARY KEY (id); ANALYZE t;`,
  );
  const dbBytes = Number((await query('app', "SELECT pg_database_size('app') AS s"))[0].s);
  const CHECKSUM = "SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS sum FROM t";
  const before = (await query('app', CHECKSUM))[0].sum;

  const { store } = openStore(path.join(tmp, 'state.db'), tmp);
  const target = new LocalDirTarget(path.join(tmp, 'backups'));
  const tools = { binDir: PG_BIN };
  const subject = { serviceId: 'bench', environmentId: 'production' };

  log('backup: pg_dump -Fc → target → verify');
  let t0 = performance.now();
  const backup = await runPgDumpBackup({ store, target, tools, subject, connection: conn('app') });
  const backupS = (performance.now() - t0) / 1000;
  if (!backup.verified) throw new Error(`the backup failed: ${backup.error}`);

  // Berth's restore (fetch from the target, size + SHA-256 + --list again, then pg_restore in one transaction)
  // against pg_restore run by hand on the same archive file with the same options, alternating rounds.
  const archiveFile = path.join(tmp, 'backups', backup.key);
  const { pgRestoreArgv } = await import(path.join(DIST, 'backup/pg-argv.js'));
  const passfile = path.join(tmp, 'pgpass');
  fs.writeFileSync(passfile, `*:*:*:*:${password}\n`, { mode: 0o600 });
  const berthS = [];
  const handS = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? ['berth', 'hand'] : ['hand', 'berth'];
    for (const which of order) {
      const db = `${which}_${round}`;
      await query('postgres', `CREATE DATABASE ${db}`);
      t0 = performance.now();
      if (which === 'berth') {
        await restorePgDump({ store, target, tools, backupId: backup.id, into: conn(db) });
        berthS.push((performance.now() - t0) / 1000);
      } else {
        const argv = pgRestoreArgv(tools, conn(db), archiveFile);
        execFileSync(argv[0], argv.slice(1), {
          stdio: 'pipe',
          env: { PATH: '/usr/bin:/bin', PGPASSFILE: passfile },
        });
        handS.push((performance.now() - t0) / 1000);
      }
      const after = (await query(db, CHECKSUM))[0].sum;
      if (after !== before) throw new Error(`the ${which} restore's table checksum differs from the source`);
      await query('postgres', `DROP DATABASE ${db}`);
    }
    log(
      `restore round ${round}/${ROUNDS}: berth ${berthS.at(-1).toFixed(2)} s, hand ${handS.at(-1).toFixed(2)} s`,
    );
  }
  const restoreS = median(berthS);
  const handRestoreS = median(handS);
  store.close();

  const result = {
    at: new Date().toISOString(),
    databaseMB: +(dbBytes / 1048576).toFixed(1),
    archiveMB: +(backup.sizeBytes / 1048576).toFixed(1),
    backupVerifiedS: +backupS.toFixed(2),
    restoreS: +restoreS.toFixed(2),
    handPgRestoreS: +handRestoreS.toFixed(2),
    restoreRounds: { berth: berthS.map((x) => +x.toFixed(2)), hand: handS.map((x) => +x.toFixed(2)) },
    checksumMatches: true,
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`| database size | ${result.databaseMB} MB |`);
  console.log(`| archive (pg_dump -Fc) | ${result.archiveMB} MB |`);
  console.log(`| backup: pg_dump → local target → verified | ${result.backupVerifiedS} s |`);
  console.log(
    `| restore into a new database (fetch, check, one transaction), median of ${ROUNDS} | ${result.restoreS} s |`,
  );
  console.log(
    `| pg_restore by hand, same archive file and options, median of ${ROUNDS} | ${result.handPgRestoreS} s |`,
  );
  await cleanup();
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
