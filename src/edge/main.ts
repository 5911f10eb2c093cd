/**
 * The edge process: `node dist/edge/main.js --state-dir DIR --port N [--host 0.0.0.0] [--drain-timeout-ms 30000]
 * [--access-log-max-bytes N] [--haproxy-log-fifo PATH]`.
 *
 * With --haproxy-log-fifo it is HAProxy's helper and also records the requests HAProxy reports as log lines
 * on that FIFO, HAProxy's stdout (haproxy/log-ingest.ts).
 *
 * With --https-port it also serves HTTPS, choosing the certificate by SNI from DIR/certs (see certificates.ts).
 *
 * Runs on its own (spawned detached by EdgeProcess) so the control plane can die, even by kill -9,
 * without interrupting traffic. Files in DIR: edge.pid, routes.json (read), control.sock (control API),
 * access-logs/ (a line per request, per service; see access-log.ts).
 */

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AccessLog } from './access-log.js';
import type { EdgeStats, TargetStats } from './balancer.js';
import { CERTS_DIR, CertificateSet } from './certificates.js';
import { LOG_FORMAT_ID } from './haproxy/log-format.js';
import { readHaproxyLog } from './haproxy/log-ingest.js';
import { PrivateNetwork } from './private-net.js';
import { EdgeProxy } from './proxy.js';
import type { RoutingTable } from './routing-table.js';
import { CHALLENGE_DIR, CONTROL_SOCKET, PID_FILE, ROUTES_FILE, readRoutingTable } from './table-file.js';

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} edge[${process.pid}] ${msg}\n`);
}

function listen(
  server: http.Server,
  where: { port: number; host: string } | { path: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** True when something answers /health on the socket (another live edge owns this state dir). */
function controlAnswers(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: sock, path: '/health', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Once traffic stops (no new request for ~2-4 s after some), runs one full GC: V8 only gives memory back to
 * the OS after a major GC, and a proxy under load mostly churns the young generation, so without this the
 * edge keeps its peak RSS forever. Needs `--expose-gc` (EdgeProcess passes it); a no-op without.
 */
function releaseMemoryWhenIdle(proxy: EdgeProxy): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return;
  let seen = proxy.requests;
  let dirty = false;
  setInterval(() => {
    const n = proxy.requests;
    if (n !== seen) {
      seen = n;
      dirty = true;
    } else if (dirty) {
      dirty = false;
      gc();
    }
  }, 2000).unref();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'state-dir': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '0.0.0.0' },
      'https-port': { type: 'string' },
      'drain-timeout-ms': { type: 'string', default: '30000' },
      'access-log-max-bytes': { type: 'string', default: String(16 * 1024 * 1024) },
      'haproxy-log-fifo': { type: 'string' },
    },
    strict: true,
  });
  const stateDirArg = values['state-dir'];
  const port = Number(values.port);
  if (stateDirArg === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(
      'usage: node dist/edge/main.js --state-dir DIR --port N [--host 0.0.0.0] [--https-port N] ' +
        '[--drain-timeout-ms 30000] [--access-log-max-bytes 16777216] [--haproxy-log-fifo PATH]\n',
    );
    process.exit(2);
  }
  const host = values.host ?? '0.0.0.0';
  const drainTimeoutMs = Number(values['drain-timeout-ms']);
  const stateDir = path.resolve(stateDirArg);
  fs.mkdirSync(stateDir, { recursive: true });
  const pidFile = path.join(stateDir, PID_FILE);
  const sockPath = path.join(stateDir, CONTROL_SOCKET);
  const routesFile = path.join(stateDir, ROUTES_FILE);

  if (await controlAnswers(sockPath)) {
    log(`another edge already answers on ${sockPath}; exiting`);
    process.exit(1);
  }
  const removeOwnFiles = () => {
    try {
      if (fs.readFileSync(pidFile, 'utf8').trim() === String(process.pid)) {
        fs.rmSync(pidFile, { force: true });
        fs.rmSync(sockPath, { force: true });
      }
    } catch {
      /* already gone */
    }
  };

  const httpsPort = values['https-port'] === undefined ? null : Number(values['https-port']);
  if (httpsPort !== null && (!Number.isInteger(httpsPort) || httpsPort < 0 || httpsPort > 65535)) {
    process.stderr.write(`--https-port must be a port number, got "${values['https-port']}"\n`);
    process.exit(2);
  }
  const accessLogMaxBytes = Number(values['access-log-max-bytes']);
  if (!Number.isInteger(accessLogMaxBytes) || accessLogMaxBytes < 1024) {
    process.stderr.write(
      `--access-log-max-bytes must be a whole number of at least 1024, got "${values['access-log-max-bytes']}"\n`,
    );
    process.exit(2);
  }
  const haproxyLogFifo = values['haproxy-log-fifo'] ?? null;
  const accessLog = new AccessLog(stateDir, { maxBytes: accessLogMaxBytes, log });
  const certs = new CertificateSet();
  const certsDir = path.join(stateDir, CERTS_DIR);
  const loadCerts = () => {
    for (const p of certs.load(certsDir)) log(`certificate skipped: ${p}`);
  };
  loadCerts();
  const proxy = new EdgeProxy({
    accessLog,
    challengeDir: path.join(stateDir, CHALLENGE_DIR),
    httpsOrigin: (hostKey) => {
      if (httpsPort === null || certs.find(hostKey) === undefined) return null;
      return httpsPort === 443 ? `https://${hostKey}` : `https://${hostKey}:${httpsPort}`;
    },
  });
  const privateNet = new PrivateNetwork(log);
  const applyTable = async (table: RoutingTable) => {
    proxy.setTable(table);
    const problems = await privateNet.apply(table.privateEndpoints ?? []);
    for (const p of problems) log(`cannot listen for private endpoint ${p}`);
  };
  try {
    await applyTable(await readRoutingTable(routesFile));
  } catch (err) {
    log(`could not load ${routesFile}, starting with an empty table: ${(err as Error).message}`);
  }
  // Private connections are reported apart: pools and keep-alive connections stay open for as long as the
  // replica lives, so counting them would hold every retirement until its timeout. The replica's own
  // SIGTERM handling closes them instead, as when a container stops on Railway.
  const stats = (): EdgeStats & { private: Record<string, TargetStats> } => ({
    ...proxy.stats(),
    private: Object.fromEntries(privateNet.targetStats()),
  });

  // Reloads run one after another; each applies whatever routes.json holds when it runs.
  let reloadChain: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<number> => {
    const next = reloadChain.then(async () => {
      const table = await readRoutingTable(routesFile);
      await applyTable(table);
      loadCerts();
      log(
        `routing table version ${table.version} applied (${table.routes.length} routes, ` +
          `${table.privateEndpoints?.length ?? 0} private endpoints)`,
      );
      return table.version;
    });
    reloadChain = next.catch(() => {});
    return next;
  };

  const server = proxy.createServer();
  try {
    await listen(server, { port, host });
  } catch (err) {
    log(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
    process.exit(1);
  }
  let tlsServer: https.Server | null = null;
  if (httpsPort !== null) {
    tlsServer = https.createServer({
      SNICallback: certs.sniCallback,
      keepAliveTimeout: 65_000,
      headersTimeout: 60_000,
      requestTimeout: 15 * 60_000,
    });
    proxy.attach(tlsServer);
    proxy.connections.guard(tlsServer);
    // A failed handshake (no certificate for that name, a scanner) concerns that client only.
    tlsServer.on('tlsClientError', () => {});
    try {
      await listen(tlsServer, { port: httpsPort, host });
    } catch (err) {
      log(`cannot listen on ${host}:${httpsPort} (HTTPS): ${(err as Error).message}`);
      process.exit(1);
    }
  }
  if (haproxyLogFifo !== null) {
    try {
      readHaproxyLog(haproxyLogFifo, proxy, log);
    } catch (err) {
      // Traffic matters more than its statistics: serve, and say why HAProxy's requests go uncounted.
      log(`cannot read HAProxy's request log from ${haproxyLogFifo}: ${(err as Error).message}`);
    }
  }
  // Written once the port is ours, so an edge that loses a start race cannot clobber the winner's file.
  fs.writeFileSync(pidFile, `${process.pid}\n`);

  const control = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      json(res, 200, {
        ok: true,
        pid: process.pid,
        version: proxy.version,
        port,
        httpsPort,
        host,
        ...(haproxyLogFifo === null ? {} : { haproxyLog: LOG_FORMAT_ID }),
      });
    } else if (req.method === 'GET' && req.url === '/stats') {
      json(res, 200, stats());
    } else if (req.method === 'GET' && req.url === '/metrics') {
      json(res, 200, proxy.metrics.snapshot(accessLog.dropped));
    } else if (req.method === 'POST' && req.url === '/access-log/flush') {
      req.resume();
      void accessLog.flush().then(() => json(res, 200, { ok: true }));
    } else if (req.method === 'POST' && req.url === '/reload') {
      req.resume();
      reload().then(
        (version) => json(res, 200, { version }),
        (err: Error) => {
          log(`reload failed, keeping version ${proxy.version}: ${err.message}`);
          json(res, 500, { error: err.message, version: proxy.version });
        },
      );
    } else {
      json(res, 404, { error: `no such control endpoint: ${req.method} ${req.url}` });
    }
  });
  fs.rmSync(sockPath, { force: true }); // stale socket from a dead edge
  try {
    await listen(control, { path: sockPath });
  } catch (err) {
    log(`cannot listen on ${sockPath}: ${(err as Error).message}`);
    removeOwnFiles();
    process.exit(1);
  }
  fs.chmodSync(sockPath, 0o600);
  const bound = server.address();
  log(
    `listening on ${host}:${typeof bound === 'object' && bound ? bound.port : port}, ` +
      `control ${sockPath}, routing table version ${proxy.version}`,
  );

  releaseMemoryWhenIdle(proxy);

  process.on('SIGHUP', () => {
    reload().catch((err: Error) => log(`reload failed, keeping version ${proxy.version}: ${err.message}`));
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: no longer accepting connections, finishing ${proxy.active} in flight`);
    const finish = (code: number) => {
      removeOwnFiles();
      // Buffered access log lines go to disk first, unless the disk hangs.
      const giveUp = new Promise((r) => setTimeout(r, 2000).unref());
      void Promise.race([accessLog.close(), giveUp]).finally(() => process.exit(code));
    };
    privateNet.close();
    const force = setTimeout(() => {
      log(`drain timeout (${drainTimeoutMs} ms) with ${proxy.active} in flight; closing everything`);
      privateNet.close(true);
      tlsServer?.closeAllConnections();
      server.closeAllConnections();
      proxy.fast?.closeAll();
      void proxy.close().finally(() => finish(0));
    }, drainTimeoutMs);
    force.unref();
    // Keep-alive connections become idle after their current response; close them as they do.
    const closeIdle = () => {
      server.closeIdleConnections();
      proxy.fast?.closeIdle();
    };
    const idleSweep = setInterval(closeIdle, 100);
    if (tlsServer !== null) {
      const t = tlsServer;
      t.close();
      const tlsIdle = setInterval(() => t.closeIdleConnections(), 100);
      tlsIdle.unref();
      t.closeIdleConnections();
    }
    server.close(() => {
      clearInterval(idleSweep);
      clearTimeout(force);
      control.close();
      privateNet.close(true);
      void proxy.close().finally(() => finish(0));
    });
    closeIdle();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  // The edge must keep serving: log unexpected errors instead of dying with every connection.
  process.on('uncaughtException', (err) => log(`uncaught exception: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${String(err)}`));
}

main().catch((err: Error) => {
  log(`fatal: ${err.stack ?? err.message}`);
  process.exit(1);
});
