/** PostgreSQL as a data service's engine (src/data/engine.ts): initdb once, postgres in the foreground. */
import type { Engine } from '../engine.js';
import { POSTGRES_PORT, postgresArgv } from './argv.js';
import { requirePostgres } from './binaries.js';
import { ensureDatabase, initCluster, pgdataOf, prepareArchiving, walSpoolOf } from './cluster.js';
import { waitAccepting } from './psql.js';
import { postgresVariables } from './variables.js';

export const postgresEngine: Engine = {
  kind: 'postgres',
  label: 'PostgreSQL',
  port: POSTGRES_PORT,
  // Railway's defaults for its Postgres template.
  defaults: { username: 'postgres', database: 'railway' },
  // Fast shutdown: open transactions roll back, committed data is kept; a checkpoint of a busy cluster.
  stopSignal: 'SIGINT',
  stopGraceMs: 60_000,
  startTimeoutMs: 120_000,
  restartMessage: (name) =>
    `${name} restarted: fast shutdown (open transactions rolled back, committed data kept), then started again`,
  requireBinaries: () => requirePostgres(),
  provision: (run) =>
    initCluster({
      pg: requirePostgres(),
      volume: run.volume,
      owner: run.owner,
      sandbox: run.sandbox,
      username: run.ds.username,
      password: run.ds.password,
    }),
  beforeStart: (run) => prepareArchiving(run.volume, run.owner),
  startArgv: (run) =>
    postgresArgv(requirePostgres(), {
      dataDir: pgdataOf(run.volume),
      listen: [run.host],
      port: run.port,
      archiveDir: walSpoolOf(run.volume),
    }),
  waitReady: (run, o) => waitAccepting(requirePostgres(), { host: run.host, port: run.port, ...o }),
  afterFirstStart: (run) =>
    ensureDatabase(
      requirePostgres(),
      {
        host: run.host,
        port: run.port,
        username: run.ds.username,
        password: run.ds.password,
        database: 'postgres',
      },
      run.ds.database,
    ),
  variables: (e) => postgresVariables(e),
};
