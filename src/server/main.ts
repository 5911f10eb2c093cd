import fs from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import pino, { type Logger } from 'pino';
import { buildApi, readVersion } from '../api/server.js';
import { UserError } from '../core/errors.js';
import { DatabaseBackups } from '../data/backups.js';
import { databaseEnvironmentHooks, databaseServiceHooks } from '../data/delete-hooks.js';
import { PointInTimeRecovery } from '../data/pitr.js';
import { DeploymentLogs } from '../deploy/deployment-log.js';
import { DeployEngine } from '../deploy/engine.js';
import { DataPaths } from '../deploy/paths.js';
import { PrivateHosts } from '../deploy/private-network.js';
import { CERTS_DIR } from '../edge/certificates.js';
import { createEdge, type EdgeChoice, retireOtherEdge, stopEdges } from '../edge/select.js';
import { CHALLENGE_DIR } from '../edge/table-file.js';
import { ProcessDriver, type SandboxMode } from '../runtime/index.js';
import { JobGroups } from '../runtime/job-groups.js';
import { openStore } from '../store/open-store.js';
import { LETS_ENCRYPT_DIRECTORY } from '../tls/acme.js';
import { CertificateManager } from '../tls/certificates.js';
import { reportCommitStatuses } from '../webhooks/commit-status.js';
import { loadAdminToken } from './admin-token.js';
import { backupTargetOf } from './backup-target.js';
import { claimDataDir } from './data-dir-lock.js';
import { lockDownDataDir, setUpSandbox } from './start-checks.js';

export interface ServerOptions {
  dataDir: string;
  apiPort: number;
  httpPort: number;
  domain: string;
  /** Interface the API binds to; 127.0.0.1 unless the operator opens it up on purpose. */
  apiHost: string;
  /** Interface the edge binds to (public traffic). */
  edgeHost?: string;
  /** Edge data plane: HAProxy, the built-in Node proxy, or auto (HAProxy when installed). Default auto. */
  edge?: EdgeChoice;
  /** Builds and sources kept per service and environment (default 10). */
  keepDeployments?: number;
  /** Most replicas one deployment may ask for (default 64). */
  maxReplicas?: number;
  /** Log kept per deployment, in MiB (current + rotated file; default 20). */
  deploymentLogMb?: number;
  /** Days a dependency install may go unused before it leaves the cache. */
  dependencyCacheDays?: number;
  /** Hosts file holding the private domains (default /etc/hosts; BERTH_HOSTS_FILE overrides). */
  hostsFile?: string;
  /** HTTPS port of the edge; null or absent: HTTP only. */
  httpsPort?: number | null;
  /** Replace the local CA (and re-issue its certificates) before anything is served. */
  regenerateCa?: boolean;
  /** Automatic certificates for custom domains; directoryUrl defaults to Let's Encrypt. */
  acme?: { email: string; directoryUrl?: string } | null;
  /** Sandbox users' code (auto: when root and bubblewrap is installed) or not (off). Default auto. */
  sandbox?: SandboxMode;
  /** Enforce replicas' memory, CPU and process limits with cgroups (auto: when possible) or not (off). */
  cgroups?: 'auto' | 'off';
}

/**
 * `berth server`: the control plane in the foreground. App replicas and the edge are separate
 * processes that outlive it; a restarted server adopts them.
 */
export async function runServer(opts: ServerOptions): Promise<void> {
  const logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
  const paths = new DataPaths(opts.dataDir);
  fs.mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  lockDownDataDir(paths);
  const release = claimDataDir(paths);
  try {
    await serve(opts, paths, logger);
  } finally {
    release();
  }
}

/**
 * `berth server --stop-edge`: stops the data plane of a data dir whose server is stopped (the edge outlives
 * the server on purpose, so changing its ports or starting afresh takes this). Apps keep running.
 */
export async function stopEdge(dataDir: string): Promise<string> {
  const paths = new DataPaths(dataDir);
  if (!fs.existsSync(paths.root)) return `Nothing to stop: ${paths.root} does not exist.`;
  const release = claimDataDir(paths);
  try {
    const stopped = await stopEdges({ stateDir: paths.edgeState, port: 0, host: '127.0.0.1' });
    return stopped.length === 0
      ? `No edge runs for ${paths.root}.`
      : `Stopped the ${stopped.join(' and ')} edge of ${paths.root}; apps keep running, and the next \`berth server\` starts the edge again.`;
  } finally {
    release();
  }
}

async function serve(opts: ServerOptions, paths: DataPaths, logger: Logger): Promise<void> {
  const adminToken = loadAdminToken(paths);
  const { store } = openStore(paths.db, paths.root);
  const sandbox = setUpSandbox(opts.sandbox ?? 'auto', paths, (msg) => logger.warn(msg));
  const logs = new DeploymentLogs((id) => paths.deploymentLog(id), {
    maxFileBytes: ((opts.deploymentLogMb ?? 20) * 1024 * 1024) / 2,
  });
  const httpsPort = opts.httpsPort ?? null;
  const edgeOpts = {
    stateDir: paths.edgeState,
    port: opts.httpPort,
    httpsPort,
    host: opts.edgeHost ?? '0.0.0.0',
    log: (level: 'info' | 'warn', message: string) => logger[level](message),
  };
  const edge = await createEdge(opts.edge ?? 'auto', edgeOpts);
  const site = {
    domain: opts.domain,
    httpPort: opts.httpPort,
    httpsPort,
    bindHost: opts.edgeHost ?? '0.0.0.0',
  };
  const privateHosts = new PrivateHosts(
    opts.hostsFile ?? process.env.BERTH_HOSTS_FILE ?? '/etc/hosts',
    paths.root,
    (msg) => logger.warn(msg),
  );
  await privateHosts.claimNet(store);
  let onIssued = async (): Promise<void> => {};
  const certificates =
    httpsPort === null
      ? null
      : new CertificateManager(store, {
          generatedZone: opts.domain,
          caDir: paths.localCa,
          edgeCertsDir: path.join(paths.edgeState, CERTS_DIR),
          challengeDir: path.join(paths.edgeState, CHALLENGE_DIR),
          acme: opts.acme
            ? { email: opts.acme.email, directoryUrl: opts.acme.directoryUrl ?? LETS_ENCRYPT_DIRECTORY }
            : null,
          renewBeforeDays: Number(process.env.BERTH_RENEW_BEFORE_DAYS ?? 30),
          log: (msg) => logger.info(msg),
          onIssued: () => onIssued(),
        });
  if (certificates && opts.regenerateCa) logger.warn(certificates.regenerateLocalCa());
  else if (certificates) {
    void certificates.checkLocalCa().then(
      (warning) => warning && logger.warn(warning),
      (err: Error) => logger.warn(`could not inspect the local CA: ${err.message}`),
    );
  }
  const driver = new ProcessDriver({ cgroups: opts.cgroups ?? 'auto' });
  // Found now (a probe cgroup), so a host that cannot enforce limits says so once at start.
  if (driver.limitsNote)
    logger.warn(`replicas' memory, CPU and process limits are not enforced: ${driver.limitsNote}`);
  const engine = new DeployEngine({
    certificates,
    privateHosts,
    store,
    logs,
    driver,
    edge,
    paths,
    site,
    logger,
    keepDeployments: opts.keepDeployments ?? 10,
    dependencyCacheDays: opts.dependencyCacheDays,
    maxReplicas: opts.maxReplicas,
    sandbox,
  });
  reportCommitStatuses({ store, engine, logs, logger });
  try {
    await retireOtherEdge(edge, edgeOpts);
    await edge.ensureRunning();
  } catch (err) {
    // A refusal that already says what to do (e.g. the edge runs on other ports) goes out as it is.
    if (err instanceof UserError) throw err;
    throw new UserError(
      `The edge could not start on port ${opts.httpPort}: ${(err as Error).message}; pick another --http-port.`,
    );
  }
  onIssued = () =>
    engine.routes.sync().then(
      () => {},
      (err: Error) => logger.warn(`edge update failed: ${err.message}`),
    );
  await engine.start();
  // Scheduled backups and point-in-time recovery share the target and the scratch directory.
  const backupBase = {
    store,
    data: engine.data,
    target: await backupTargetOf(process.env, paths.root),
    workDir: path.join(paths.root, 'backup-work'),
    logger,
  };
  const backups = new DatabaseBackups({
    ...backupBase,
    jobs: new JobGroups(path.join(paths.root, 'backup-jobs')),
    removeService: async (project, service) => {
      await engine.teardown.deleteService(project, service, { deleteData: true, skipFinalBackup: true });
    },
  });
  engine.teardown.addServiceHooks(databaseServiceHooks(store, engine.data, backups));
  engine.environments.addHooks(databaseEnvironmentHooks(store, engine.data, backups));
  await backups.start();
  logger.info(`backups go to ${backups.targetDescription}`);
  // After backups.start(): its sweep of the target runs before any WAL file or base backup is put.
  const pitr = new PointInTimeRecovery({
    ...backupBase,
    jobs: new JobGroups(path.join(paths.root, 'pitr-jobs')),
  });
  await pitr.start();
  engine.teardown.addServiceHooks({ name: 'point-in-time restore', deleted: () => pitr.sync() });
  engine.environments.addHooks({ name: 'point-in-time restore', deleted: () => pitr.sync() });
  // Renewal: at start and daily; also retries ACME attempts that failed (a DNS record fixed since).
  const renew = () =>
    certificates
      ?.renewDue(engine.routes.hostnames())
      .then(() => engine.routes.sync())
      .catch((err: Error) => logger.warn(`certificate renewal failed: ${err.message}`));
  void renew();
  // utcOffset rather than timezone: 'UTC': same schedule without loading ICU's time zone data (~8 MB RSS).
  const renewal = certificates ? new Cron('17 3 * * *', { utcOffset: 0 }, () => void renew()) : null;
  const version = readVersion();
  const api = await buildApi({ store, engine, edge, logs, paths, adminToken, version, backups, pitr });
  try {
    await api.listen({ port: opts.apiPort, host: opts.apiHost });
  } catch (err) {
    engine.close();
    await Promise.all([backups.close(), pitr.close()]);
    throw new UserError(
      `The API could not listen on ${opts.apiHost}:${opts.apiPort}: ${(err as Error).message}; pick another --api-port.`,
    );
  }
  logger.info(
    {
      api: `http://${opts.apiHost}:${opts.apiPort}`,
      edgePort: opts.httpPort,
      dataDir: paths.root,
      edge: edge.kind,
      edgePid: edge.pid(),
    },
    `Berth ${version} is running: API on http://${opts.apiHost}:${opts.apiPort}, apps on port ${opts.httpPort} (${edge.kind} edge), admin token in ${paths.adminToken}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping the control plane; apps and the edge keep running');
      engine.close();
      renewal?.stop();
      // Running backups are cancelled and recorded as failed (with the reason) before the store closes.
      void Promise.all([api.close(), backups.close(), pitr.close()]).then(() => resolve());
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  store.close();
}
