/**
 * The HAProxy edge driver. HAProxy runs in master-worker mode as a detached process group that outlives
 * the daemon (pid file + master CLI socket in DIR/haproxy); a restarted daemon re-attaches to it without
 * a reload. Replica changes go through the runtime API (`set server` on pre-allocated slots); layout
 * changes (listeners, certificates, services, host names, redirects, more slots) are a hitless master
 * reload. A built-in edge on a loopback port (the "helper") serves what HAProxy cannot without a reload
 * per change: static sites and ACME HTTP-01 challenges (HAProxy forwards them to it), and the private
 * endpoints (TCP listeners it opens itself from the same routing table).
 */

export { findHaproxy } from './find.js';

import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../lib/net.js';
import type { Supervisor } from '../../runtime/supervisor.js';
import type { ProcessHandle } from '../../runtime/types.js';
import type { AccessLogEntry } from '../access-log.js';
import type { HttpLogQuery } from '../access-log-search.js';
import type { EdgeStats, TargetStats } from '../balancer.js';
import { CERTS_DIR } from '../certificates.js';
import { type EdgeDriver, type EdgeLog, otherPortsError, pollIdle } from '../driver.js';
import { EdgeProcess } from '../edge-client.js';
import { type EdgeMetrics, emptySnapshot, type ServiceNames, serviceLogKey } from '../metrics.js';
import type { RoutingTable } from '../routing-table.js';
import { CHALLENGE_DIR } from '../table-file.js';
import { scanCertificates } from './certs.js';
import { deploymentsMapText, LOG_FILE, MASTER_SOCKET, REQUEST_LOG_FIFO, STATS_SOCKET } from './config.js';
import { ConfigFiles, writeAtomic } from './config-files.js';
import { HaproxyMaster } from './master.js';
import { type HaproxyState, planState, type TlsListener } from './plan.js';
import { DEPLOYMENTS_MAP_FILE } from './policy.js';
import { freeSlot, reconcileState } from './reconcile.js';
import {
  checkSetServerAnswer,
  type ProcList,
  parseShowStat,
  runtimeCommand,
  type ServerStat,
} from './runtime-api.js';

export interface HaproxyEdgeOptions {
  /** The edge state dir (DIR/edge); HAProxy's files go to DIR/edge/haproxy. */
  stateDir: string;
  port: number;
  /** Also serve HTTPS here, certificates by SNI from DIR/edge/certs. */
  httpsPort?: number | null;
  host?: string;
  /** Absolute path of the haproxy binary (see findHaproxy). */
  binary: string;
  /** How long a start or a reload may take before it is reported as failed. Default 15 s. */
  startTimeoutMs?: number;
  /** Also tell the daemon's log when HAProxy or its helper crashed and was restarted. */
  log?: EdgeLog;
  /** Default: one of its own, over a ProcessDriver. */
  supervisor?: Supervisor<ProcessHandle>;
}

/** Directory of HAProxy's files inside the edge state dir. */
export function haproxyDir(edgeStateDir: string): string {
  return path.join(edgeStateDir, 'haproxy');
}

/** Commands per runtime API connection: keeps each line well under HAProxy's buffer size. */
const BATCH = 40;

export class HaproxyEdge implements EdgeDriver {
  readonly kind = 'haproxy' as const;
  readonly dir: string;
  /** The edge state dir: certs/ and acme-challenge/ are the daemon's, shared with the built-in edge. */
  private readonly edgeDir: string;
  private readonly listen: { host: string; port: number };
  private readonly httpsPort: number | null;
  private readonly binary: string;
  private readonly master: HaproxyMaster;
  private readonly files: ConfigFiles;
  private readonly log: EdgeLog | undefined;
  private readonly supervisor: Supervisor<ProcessHandle> | undefined;
  /** What the running HAProxy serves; null forces the next apply to reload with the full state. */
  private state: HaproxyState | null = null;
  private staticEdge: EdgeProcess | null = null;
  /** The table the daemon last asked for: applied again to a HAProxy restarted after a crash. */
  private wanted: RoutingTable | null = null;
  private applying: Promise<unknown> = Promise.resolve();
  /** Routes of the last applied table, and the deployment of each replica HAProxy has (draining ones too). */
  private routes: RoutingTable['routes'] = [];
  private readonly deploymentOf = new Map<string, string>();

  constructor(opts: HaproxyEdgeOptions) {
    this.edgeDir = path.resolve(opts.stateDir);
    this.dir = haproxyDir(this.edgeDir);
    this.listen = { host: opts.host ?? '0.0.0.0', port: opts.port };
    this.httpsPort = opts.httpsPort ?? null;
    this.binary = opts.binary;
    this.log = opts.log;
    this.supervisor = opts.supervisor;
    this.files = new ConfigFiles(this.dir, opts.binary);
    this.master = new HaproxyMaster({
      dir: this.dir,
      binary: opts.binary,
      startTimeoutMs: opts.startTimeoutMs ?? 15_000,
      prepare: () => this.serial(() => this.prepareStart()),
      healthy: async () => {
        if (this.wanted !== null) await this.apply(this.wanted);
      },
      log: opts.log,
      supervisor: opts.supervisor,
    });
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  pid(): number | null {
    return this.master.pid();
  }

  /** The master's process list (pids, reload count); throws when no master answers. */
  procList(timeoutMs = 2000): Promise<ProcList> {
    return this.master.procList(timeoutMs);
  }

  /** Adopts the running master (and its helper) or starts both, supervised: either is restarted should it crash. */
  async ensureRunning(): Promise<number> {
    let running = await this.master.findRunning();
    if (running !== null && !this.master.writesToFifo(running.master.pid)) {
      // Started by an older Berth that logged over UDP: its stdout is a file, which the request log lines
      // would fill. A restart (not a reload) gives it the FIFO.
      this.master.note(`restarting HAProxy to send its request log to ${REQUEST_LOG_FIFO}`);
      await this.stop(5000);
      running = null;
    }
    if (running === null) {
      fs.mkdirSync(this.dir, { recursive: true });
      try {
        return await this.master.start();
      } catch (err) {
        // The helper was started for this master (prepareStart): a server that gives up must not leave it.
        await this.helper()
          .stop(5000)
          .catch(() => undefined);
        this.staticEdge = null;
        throw err;
      }
    }
    const pid = running.master.pid;
    if (this.state === null) this.state = await this.reconcile(this.files.loadState());
    this.refuseOtherPorts(pid);
    await this.master.adopt(pid);
    if (this.state !== null && (await this.files.writtenByOtherTemplate())) {
      // Written by another Berth (an upgrade): the running config lacks what this one's code expects, e.g.
      // the request log format the helper parses. A hitless reload.
      this.master.note("reloading HAProxy with this Berth's configuration template");
      await this.reload(this.state);
    }
    // A state from before the helper always ran has no port: the next apply picks one and reloads.
    const port = this.state?.staticPort ?? this.files.loadState()?.staticPort ?? null;
    if (port !== null) await this.ensureStaticEdge(port);
    return pid;
  }

  /**
   * Before every start of the master (the first, or after a crash): the state it last served, with draining
   * slots freed (their connections died with it), its helper running, haproxy.cfg written for it.
   */
  private async prepareStart(): Promise<void> {
    const saved = this.state ?? this.files.loadState();
    const staticPort = saved?.staticPort ?? (await freePort());
    const start: HaproxyState = saved
      ? {
          ...saved,
          listen: this.listen,
          tls: this.tlsListener(),
          staticPort,
          backends: saved.backends.map((b) => ({
            ...b,
            slots: b.slots.map((s) => (s.status === 'drain' ? freeSlot() : s)),
          })),
        }
      : {
          version: 0,
          listen: this.listen,
          tls: this.tlsListener(),
          staticPort,
          staticHosts: [],
          backends: [],
        };
    await this.ensureStaticEdge(staticPort);
    await this.files.write(start);
    this.state = start;
  }

  /** Runs table changes and restarts one at a time, in order. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.applying.then(work);
    this.applying = next.catch(() => undefined);
    return next;
  }

  apply(table: RoutingTable): Promise<void> {
    this.wanted = table;
    return this.serial(() => this.applyNow(table));
  }

  private async applyNow(table: RoutingTable): Promise<void> {
    const staticPort = this.state?.staticPort ?? this.files.loadState()?.staticPort ?? (await freePort());
    // The helper gets the whole table: it serves the static routes and opens the private endpoints. Without
    // the policies and the connection cap: HAProxy enforces them, and the helper sees every client as 127.0.0.1.
    const helper = await this.ensureStaticEdge(staticPort);
    await helper.apply({
      ...table,
      connectionsPerIp: 0,
      routes: table.routes.map(({ policy: _, ...route }) => route),
    });
    const perAddr = await this.sessionsByAddr().catch(() => null);
    // Stats unknown: treat every draining slot as busy, so none is reused too early.
    const busy = new Set<string>();
    for (const b of this.state?.backends ?? []) {
      for (const s of b.slots) {
        const a = `${s.host}:${s.port}`;
        if (s.status === 'drain' && (perAddr === null || (perAddr.get(a)?.active ?? 0) > 0)) busy.add(a);
      }
    }
    const plan = planState(this.state, table, {
      listen: this.listen,
      tls: this.tlsListener(),
      staticPort,
      busy,
      deploymentsMap: this.file(DEPLOYMENTS_MAP_FILE),
    });
    if (plan.reload) {
      await this.reload(plan.next);
    } else {
      try {
        for (let i = 0; i < plan.commands.length; i += BATCH) {
          checkSetServerAnswer(
            await runtimeCommand(this.file(STATS_SOCKET), plan.commands.slice(i, i + BATCH)),
          );
        }
        // What the runtime API just set, for whoever reloads this file next.
        writeAtomic(this.file(DEPLOYMENTS_MAP_FILE), deploymentsMapText(plan.next));
      } catch {
        // The runtime state is unknown now: a reload with the full state puts it right, hitless.
        await this.reload(plan.next);
      }
    }
    this.state = plan.next;
    this.files.saveState(plan.next);
    this.routes = table.routes;
    // Draining replicas left the table but still count as active for their deployment: keep their ids
    // while a slot still holds them.
    const inSlots = new Set(plan.next.backends.flatMap((b) => b.slots.map((s) => s.id)));
    for (const id of this.deploymentOf.keys()) if (!inSlots.has(id)) this.deploymentOf.delete(id);
    for (const r of table.routes) for (const t of r.targets) this.deploymentOf.set(t.id, r.deploymentId);
  }

  async stats(): Promise<EdgeStats> {
    const perAddr = await this.sessionsByAddr();
    const targets: Record<string, TargetStats> = {};
    for (const b of this.state?.backends ?? []) {
      for (const s of b.slots) {
        if (s.id === null || s.status === 'free') continue;
        const got = perAddr.get(`${s.host}:${s.port}`);
        targets[s.id] = { active: got?.active ?? 0, total: got?.total ?? 0 };
      }
    }
    return { version: this.state?.version ?? 0, targets };
  }

  /**
   * The helper's counters (HAProxy logs every request to it, see log-ingest.ts) plus `active` from
   * HAProxy's stats socket: sessions on each deployment's servers, draining ones included.
   */
  async metrics(): Promise<EdgeMetrics> {
    const m = await this.helper().metrics();
    const info = await runtimeCommand(this.file(STATS_SOCKET), 'show info', 1000).catch(() => '');
    m.requestsNotCounted = Number(/^DroppedLogs: (\d+)$/m.exec(info)?.[1] ?? 0);
    const perAddr = await this.sessionsByAddr().catch(() => new Map<string, TargetStats>());
    const active = new Map<string, number>();
    for (const b of this.state?.backends ?? []) {
      for (const s of b.slots) {
        const dep = s.id === null ? undefined : this.deploymentOf.get(s.id);
        const n = perAddr.get(`${s.host}:${s.port}`)?.active ?? 0;
        if (dep === undefined || s.status === 'free' || n === 0) continue;
        active.set(dep, (active.get(dep) ?? 0) + n);
      }
    }
    for (const route of this.routes) {
      const svc = m.services[serviceLogKey(route)];
      if (svc === undefined) continue;
      for (const [dep, snap] of Object.entries(svc.deployments)) {
        const n = active.get(dep) ?? 0;
        snap.active += n;
        svc.totals.active += n;
        active.delete(dep);
      }
      const n = active.get(route.deploymentId) ?? 0;
      if (n > 0) {
        svc.deployments[route.deploymentId] = { ...emptySnapshot(), active: n };
        svc.totals.active += n;
        active.delete(route.deploymentId);
      }
    }
    return m;
  }

  /** The helper writes the access logs of HAProxy's requests: search its files. */
  httpLogs(service: ServiceNames, query: HttpLogQuery): Promise<AccessLogEntry[]> {
    return this.helper().httpLogs(service, query);
  }

  removeHttpLogs(service: ServiceNames): Promise<void> {
    return this.helper().removeHttpLogs(service);
  }

  /** True when HAProxy or its helper edge runs for this state dir (the helper may outlive a dead HAProxy). */
  async running(): Promise<boolean> {
    if ((await this.procList(1000).catch(() => null)) !== null) return true;
    return (
      (await this.helper()
        .health(1000)
        .catch(() => null)) !== null
    );
  }

  /** The helper edge, also when it is not adopted yet (its files and control socket are all that is used). */
  private helper(): EdgeProcess {
    return this.staticEdge ?? new EdgeProcess({ stateDir: this.file('static'), port: 0 });
  }

  waitIdle(targetIds: string[], timeoutMs: number): Promise<boolean> {
    return pollIdle(
      () => this.stats(),
      targetIds,
      timeoutMs,
      () => this.pid() === null,
    );
  }

  /** Soft stop (SIGUSR1: workers finish what is in flight, then the master exits), then its helper; SIGKILL after timeoutMs. */
  async stop(timeoutMs = 35_000): Promise<void> {
    await this.master.stop(timeoutMs);
    this.state = null;
    await this.helper().stop(timeoutMs);
    this.staticEdge = null;
  }

  /** Current sessions and totals per "host:port", summed over the current worker and old ones still draining. */
  private async sessionsByAddr(): Promise<Map<string, TargetStats>> {
    const rows: ServerStat[] = parseShowStat(await runtimeCommand(this.file(STATS_SOCKET), 'show stat'));
    const procs = await this.procList().catch(() => null);
    for (const pid of procs?.oldWorkers ?? []) {
      // An old worker may exit between the two calls: it has nothing in flight then.
      const text = await runtimeCommand(this.file(MASTER_SOCKET), `@!${pid} show stat`).catch(() => '');
      if (text.includes('# pxname')) rows.push(...parseShowStat(text));
    }
    const out = new Map<string, TargetStats>();
    for (const r of rows) {
      const cur = out.get(r.addr) ?? { active: 0, total: 0 };
      out.set(r.addr, { active: cur.active + r.scur, total: cur.total + r.stot });
    }
    return out;
  }

  /** Writes the config for `next` (validated first) and has the master reload it; resolves once the new worker serves. */
  private async reload(next: HaproxyState): Promise<void> {
    await this.files.write(next);
    await this.master.reload();
  }

  /** A running HAProxy keeps its ports (otherPortsError). */
  private refuseOtherPorts(pid: number): void {
    if (this.state === null) return;
    const running = { http: this.state.listen.port, https: this.state.tls?.port ?? null };
    if (running.http !== this.listen.port || running.https !== this.httpsPort) {
      throw otherPortsError(`HAProxy (pid ${pid})`, this.edgeDir, running, {
        http: this.listen.port,
        https: this.httpsPort,
      });
    }
  }

  private async ensureStaticEdge(port: number): Promise<EdgeProcess> {
    if (this.staticEdge === null || this.staticEdge.port !== port) {
      const stateDir = this.file('static');
      // The helper answers ACME challenges from its own state dir: point that at the daemon's directory.
      fs.mkdirSync(stateDir, { recursive: true });
      const link = path.join(stateDir, CHALLENGE_DIR);
      const target = path.join(this.edgeDir, CHALLENGE_DIR);
      fs.mkdirSync(target, { recursive: true });
      let current: string | null = null;
      try {
        current = fs.readlinkSync(link);
      } catch {
        /* missing, or not a link */
      }
      if (current !== target) {
        fs.rmSync(link, { recursive: true, force: true });
        fs.symlinkSync(target, link);
      }
      this.staticEdge = new EdgeProcess({
        stateDir,
        port,
        host: '127.0.0.1',
        haproxyLogFifo: await this.master.ensureFifo(),
        name: "HAProxy's helper edge",
        log: this.log,
        supervisor: this.supervisor,
      });
    }
    // A helper another Berth left, parsing another log format, is restarted by ensureRunning itself.
    await this.staticEdge.ensureRunning();
    return this.staticEdge;
  }

  /** The HTTPS listener as the certificate files stand now; skipped files are noted in haproxy.log. */
  private tlsListener(): TlsListener | null {
    if (this.httpsPort === null) return null;
    const { certs, problems } = scanCertificates(path.join(this.edgeDir, CERTS_DIR));
    if (problems.length > 0) {
      fs.mkdirSync(this.dir, { recursive: true });
      const at = new Date().toISOString();
      fs.appendFileSync(
        this.file(LOG_FILE),
        problems.map((p) => `${at} berth: certificate skipped: ${p}\n`).join(''),
      );
    }
    return { port: this.httpsPort, certs };
  }

  /** The saved state checked against the running worker's `show stat` (reconcile.ts); null when it cannot be. */
  private async reconcile(saved: HaproxyState | null): Promise<HaproxyState | null> {
    if (saved === null) return null;
    let rows: ServerStat[];
    try {
      rows = parseShowStat(await runtimeCommand(this.file(STATS_SOCKET), 'show stat'));
    } catch {
      return null;
    }
    return reconcileState(saved, rows);
  }
}

export { haproxyVersion } from './config-files.js';
