/**
 * An in-place restore's database swap: the restored copy is built under a temporary name, then takes the
 * live database's name in a few statements while no one can connect. Names travel as psql variables.
 */
import { waitFor } from '../../lib/wait.js';
import type { PsqlTarget } from './argv.js';
import type { PostgresBinaries } from './binaries.js';
import { runPsql } from './psql.js';

type Target = PsqlTarget & { password: string };

/** An empty database (from template0, so nothing of template1 comes along). */
export async function createEmptyDatabase(pg: PostgresBinaries, t: Target, name: string): Promise<void> {
  await runPsql(pg, t, "SELECT format('CREATE DATABASE %I TEMPLATE template0', :'n')\\gexec\n", { n: name });
}

export async function dropDatabase(pg: PostgresBinaries, t: Target, name: string): Promise<void> {
  await runPsql(pg, t, "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'n')\\gexec\n", {
    n: name,
  });
}

async function setAllowConnections(
  pg: PostgresBinaries,
  t: Target,
  name: string,
  on: boolean,
): Promise<void> {
  await runPsql(pg, t, "SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS %s', :'n', :'v')\\gexec\n", {
    n: name,
    v: on ? 'true' : 'false',
  });
}

async function rename(pg: PostgresBinaries, t: Target, from: string, to: string): Promise<void> {
  await runPsql(pg, t, "SELECT format('ALTER DATABASE %I RENAME TO %I', :'a', :'b')\\gexec\n", {
    a: from,
    b: to,
  });
}

/** Closes every session of the database and waits until they are gone (a rename needs none). */
async function disconnectAll(pg: PostgresBinaries, t: Target, name: string): Promise<void> {
  await waitFor(
    `the sessions of database ${name} to close`,
    async () => {
      const out = await runPsql(
        pg,
        t,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :'n' AND pid <> pg_backend_pid()\n",
        { n: name },
      );
      return out.trim() === '0';
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/**
 * `live` becomes what `restored` holds: connections to `live` are refused and closed, `live` is renamed
 * aside, `restored` takes its name, and the old one is dropped. A failure before the second rename puts
 * everything back (the live database keeps its data); `t` must be another database (postgres).
 */
export async function swapDatabases(
  pg: PostgresBinaries,
  t: Target,
  live: string,
  restored: string,
): Promise<void> {
  const aside = `${restored}_old`;
  await setAllowConnections(pg, t, live, false);
  try {
    await disconnectAll(pg, t, live);
    await rename(pg, t, live, aside);
  } catch (err) {
    await setAllowConnections(pg, t, live, true).catch(() => undefined);
    throw err;
  }
  try {
    await rename(pg, t, restored, live);
  } catch (err) {
    await rename(pg, t, aside, live).catch(() => undefined);
    await setAllowConnections(pg, t, live, true).catch(() => undefined);
    throw err;
  }
  await dropDatabase(pg, t, aside);
}
