/**
 * The built-in edge's proxy: wires a request, an upgrade or a fast-path request through routing (router.ts),
 * the edge's own answers (ACME, policy refusals, redirects, static sites, edge pages), the cache, and one
 * Exchange (exchange.ts) or Tunnel (tunnel.ts) on a target the balancer (balancer.ts) picks. See README.md.
 */

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type { AccessLog, AccessLogFile } from './access-log.js';
import { ACME_PREFIX, serveChallenge } from './acme-challenge.js';
import { Balancer, type EdgeStats, nextTarget, pickTarget, type Target } from './balancer.js';
import { type CachedAnswer, cachedAnswer, ResponseCache } from './cache.js';
import { type ClientSide, NodeClient } from './client-side.js';
import { ConnectionLimiter, DEFAULT_CONNECTIONS_PER_IP } from './conn-limit.js';
import { Exchange, type ExchangeContext } from './exchange.js';
import type { FastRequestHead } from './fast-head.js';
import { FastHttp, type FastRequestHandler } from './fast-http.js';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  clientAddress,
  type HeaderScan,
  nextRequestId,
  scanHeaders,
  upgradeHead,
  upstreamHead,
} from './forward-headers.js';
import { type DeploymentCounters, MetricsRegistry } from './metrics.js';
import { noReplicaPage, notFoundHostPage, rawPage, sendPage, simplePage } from './pages.js';
import type { PolicyVerdict } from './policy.js';
import { countPlain, recordRequest } from './request-record.js';
import { type CompiledTable, compileTable, EMPTY_TABLE, normalizeHost, type RouteEntry } from './router.js';
import type { RoutingTable } from './routing-table.js';
import { serveStatic } from './static.js';
import { Tunnel, type TunnelContext } from './tunnel.js';
import type { UpstreamOptions } from './upstream.js';

export interface EdgeProxyOptions {
  /** Scheme clients used to reach the edge, sent upstream as X-Forwarded-Proto. Default 'http'. */
  proto?: string;
  /** Max keep-alive connections per upstream host:port. Default 128. */
  connectionsPerTarget?: number;
  /** Directory of ACME HTTP-01 key authorizations (file name = token), served under ACME_PREFIX. */
  challengeDir?: string;
  /** The HTTPS origin (`https://host[:port]`) to redirect a host to, or null while it cannot serve HTTPS. */
  httpsOrigin?: (hostKey: string) => string | null;
  /** Upstream TCP connect timeout. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Longest wait for upstream response headers, and between two upstream body chunks. Default 15 min. */
  upstreamTimeoutMs?: number;
  /** How long an idle upstream keep-alive connection is kept. Default 4000 ms (below Node's 5 s server default). */
  upstreamKeepAliveMs?: number;
  /** Where a line per request goes; null/absent: no access log. */
  accessLog?: AccessLog | null;
}

/** The declared request body size for the policy: 0 without a body, -1 when chunked (counted as it streams). */
function declaredBodySize(req: IncomingMessage, bodyMode: number): number {
  if (bodyMode === BODY_NONE) return 0;
  return bodyMode === BODY_LENGTH ? Number(req.headers['content-length']) : -1;
}

/** The 403/413/429 page of a refused request (connection closed: the body may still be arriving). */
function sendRefusal(res: ServerResponse, v: Exclude<PolicyVerdict, { ok: true }>): void {
  const title = v.status === 429 ? 'Too many requests' : v.status === 413 ? 'Request too large' : 'Forbidden';
  const headers: Record<string, string> = { connection: 'close' };
  if (v.retryAfterSeconds !== undefined) headers['retry-after'] = String(v.retryAfterSeconds);
  sendPage(res, v.status, simplePage(v.status, title, v.reason), headers);
}

const DUPLICATE_HOST = 'The request has more than one Host header; send exactly one.';

/** Writes a cache hit's answer on Node's server side. */
function serveCached(res: ServerResponse, a: CachedAnswer): void {
  if (a.reason !== '') res.writeHead(a.status, a.reason, a.headers);
  else res.writeHead(a.status, a.headers);
  if (a.body === null) res.end();
  else res.end(a.body);
}

export class EdgeProxy implements FastRequestHandler, ExchangeContext, TunnelContext {
  /** Requests and upgrades received, whatever became of them. */
  requests = 0;
  readonly connectTimeoutMs: number;
  private table: CompiledTable = EMPTY_TABLE;
  readonly balancer: Balancer;
  /** Shareable responses (Cache-Control: public / s-maxage), served without the upstream. */
  readonly cache = new ResponseCache();
  private readonly proto: string;
  private readonly challengeDir: string | null;
  private readonly httpsOrigin: ((hostKey: string) => string | null) | null;
  readonly metrics = new MetricsRegistry();
  private readonly accessLog: AccessLog | null;
  /** The plain-HTTP listener's fast path (fast-http.ts), once createServer() made it. */
  fast: FastHttp | null = null;
  /** Connections per client IP on the public listeners (createServer's, and those passed to guard()). */
  readonly connections = new ConnectionLimiter();
  /** Policy refusals of the fast path, by socket, for the request Node's server takes over (see fastRequest). */
  private readonly fastRefusals = new WeakMap<object, PolicyVerdict>();
  /** Refusals set and not taken yet (overcounts those whose connection closed first: it only skips a lookup). */
  private pendingFastRefusals = 0;

  constructor(opts: EdgeProxyOptions = {}) {
    this.proto = opts.proto ?? 'http';
    this.challengeDir = opts.challengeDir ?? null;
    this.httpsOrigin = opts.httpsOrigin ?? null;
    this.accessLog = opts.accessLog ?? null;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    const upstream: UpstreamOptions = {
      maxConnections: opts.connectionsPerTarget ?? 128,
      connectTimeoutMs: this.connectTimeoutMs,
      timeoutMs: opts.upstreamTimeoutMs ?? 15 * 60_000,
      keepAliveMs: opts.upstreamKeepAliveMs ?? 4000,
      maxHeaderSize: http.maxHeaderSize,
    };
    this.balancer = new Balancer(upstream);
  }

  get version(): number {
    return this.table.version;
  }

  /**
   * The counters and access log file of the route serving a normalised host, for requests another data
   * plane (HAProxy, see haproxy/log-ingest.ts) proxied and reported; undefined for an unknown host.
   */
  routeRecorder(hostKey: string): { counters: DeploymentCounters; log: AccessLogFile | null } | undefined {
    const e = this.table.byHost.get(hostKey);
    return e === undefined ? undefined : { counters: e.counters, log: e.log };
  }

  /** Atomically replaces the routing table. Pools of targets that left the table close once idle. */
  setTable(table: RoutingTable): void {
    const next = compileTable(table, this.table, {
      target: (t) => this.balancer.target(t),
      counters: (route) => this.metrics.forDeployment(route, route.deploymentId),
      log: (key) => this.accessLog?.file(key) ?? null,
    });
    this.table = next.table;
    this.connections.max = table.connectionsPerIp ?? DEFAULT_CONNECTIONS_PER_IP;
    this.cache.keepOnly(new Set(table.routes.map((r) => r.deploymentId)));
    this.metrics.prune(next.deployments);
    this.accessLog?.retain(next.logKeys);
    this.balancer.retain(next.targetKeys, next.targetIds);
  }

  /** Open upstream connections (all pools). */
  get upstreamConnections(): number {
    return this.balancer.upstreamConnections;
  }

  stats(): EdgeStats {
    return { version: this.table.version, targets: this.balancer.stats() };
  }

  /** Open requests + tunnels. */
  get active(): number {
    return this.balancer.active;
  }

  /** Resolves when no request or tunnel is in flight. */
  whenIdle(): Promise<void> {
    return this.balancer.whenIdle();
  }

  /** Destroys open tunnels and closes upstream pools (after in-flight requests). */
  close(): Promise<void> {
    return this.balancer.close();
  }

  /** Next target for hostKey in the current table, preferring one whose host:port differs from avoidKey. */
  retarget(hostKey: string, avoidKey: string | null): Target | null {
    const entry = this.table.byHost.get(hostKey);
    return entry === undefined ? null : pickTarget(entry, avoidKey);
  }

  /** The verdict the fast path reached for this request before handing its connection over, once. */
  private takeFastRefusal(req: IncomingMessage): PolicyVerdict | undefined {
    if (this.pendingFastRefusals === 0) return undefined;
    const v = this.fastRefusals.get(req.socket);
    if (v === undefined) return undefined;
    this.fastRefusals.delete(req.socket);
    this.pendingFastRefusals--;
    return v;
  }

  /**
   * Creates the plain-HTTP server: connections start on the fast path (fast-http.ts), which hands them to this
   * http.Server (wired to this proxy: requests and upgrades) at the first request it does not serve itself.
   */
  createServer(): http.Server {
    const opts = { keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 15 * 60_000 };
    const server = http.createServer(opts);
    this.attach(server);
    this.fast = new FastHttp(this, server, {
      keepAliveMs: opts.keepAliveTimeout,
      headersTimeoutMs: opts.headersTimeout,
      maxHeaderSize: http.maxHeaderSize,
    });
    this.connections.guard(server);
    return server;
  }

  /** X-Forwarded-Proto for a request: https when it came in over TLS. */
  private protoOf(req: IncomingMessage): string {
    return (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : this.proto;
  }

  /** Where a plain-HTTP request on a redirecting host goes (it has a certificate), else null. */
  private redirectLocation(hosts: Set<string>, hostKey: string, req: IncomingMessage): string | null {
    if (this.httpsOrigin === null || !hosts.has(hostKey)) return null;
    if ((req.socket as { encrypted?: boolean }).encrypted === true) return null;
    const origin = this.httpsOrigin(hostKey);
    return origin === null ? null : `${origin}${req.url}`;
  }

  attach(server: http.Server | https.Server): void {
    server.on('request', this.handleRequest);
    server.on('upgrade', this.handleUpgrade);
  }

  readonly handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const start = performance.now();
    this.requests++;
    if (this.challengeDir !== null && (req.url as string).startsWith(ACME_PREFIX)) {
      serveChallenge(this.challengeDir, req.url as string, res);
      return;
    }
    // Taken for any request, so that a table swap in between cannot leave it to a later request.
    const refused = this.takeFastRefusal(req);
    const method = req.method as string;
    const sc = scanHeaders(method, req.rawHeaders);
    if (sc.hosts > 1) {
      sendPage(res, 400, simplePage(400, 'Bad request', DUPLICATE_HOST), { connection: 'close' });
      return;
    }
    const requestId = sc.requestId;
    const hostKey = sc.hostKey;
    const entry = this.table.byHost.get(hostKey);
    if (entry === undefined) {
      this.metrics.unrouted++;
      sendPage(res, 404, notFoundHostPage(hostKey));
      return;
    }
    const route = entry.route;
    const ts = entry.targets;
    // Requests the edge answers itself are counted and logged when their response closes (countPlain), except
    // cache hits, recorded as soon as they are written.
    if (entry.policy !== null) {
      const v =
        refused ??
        entry.policy.check(clientAddress(req), req.url as string, declaredBodySize(req, sc.bodyMode));
      if (!v.ok) {
        countPlain(entry, req, res, hostKey, start, requestId);
        sendRefusal(res, v);
        return;
      }
    }
    if (entry.redirect !== null) {
      const location = this.redirectLocation(entry.redirect, hostKey, req);
      if (location !== null) {
        countPlain(entry, req, res, hostKey, start, requestId);
        res.writeHead(308, { location, 'content-length': 0, 'cache-control': 'no-store' });
        res.end();
        return;
      }
    }
    if (route.kind === 'static' || ts.length === 0) {
      countPlain(entry, req, res, hostKey, start, requestId);
      if (route.kind === 'static') {
        if (route.staticRoot === null) sendPage(res, 503, noReplicaPage(route.service));
        else void serveStatic(req, res, route.staticRoot, route.staticAppDir, route.staticFallback);
      } else {
        sendPage(res, 503, noReplicaPage(route.service), { 'retry-after': '5' });
      }
      return;
    }
    if (this.answerFromCache(entry, sc, method, req.url as string, clientAddress(req), start, res)) return;
    const proto = this.protoOf(req);
    this.forward(
      entry,
      sc,
      req,
      new NodeClient(res),
      method,
      req.url as string,
      clientAddress(req),
      proto,
      start,
    );
  };

  /**
   * The fast path's request (fast-http.ts: plain HTTP/1.1, no body, no Expect/Upgrade): forwarded when it goes
   * to a route's replica or answered from the cache, as handleRequest would. false: Node's server must answer it
   * (edge pages, policy refusals, redirects, static files, ACME challenges), and the connection is handed over to
   * it; a refusal's verdict is left for it in fastRefusals.
   */
  fastRequest(client: ClientSide, socket: object, head: FastRequestHead, ip: string, start: number): boolean {
    const { method, url } = head;
    if (this.challengeDir !== null && url.startsWith(ACME_PREFIX)) return false;
    const sc = scanHeaders(method, head.raw);
    const hostKey = sc.hostKey;
    const entry = this.table.byHost.get(hostKey);
    if (
      entry === undefined ||
      sc.hosts > 1 ||
      entry.redirect !== null ||
      entry.route.kind !== 'proxy' ||
      entry.targets.length === 0
    ) {
      return false;
    }
    if (entry.policy !== null) {
      const v = entry.policy.check(ip, url, 0);
      if (!v.ok) {
        // Node's server answers the refusal with this verdict: checking again would count the request twice.
        this.fastRefusals.set(socket, v);
        this.pendingFastRefusals++;
        return false;
      }
    }
    this.requests++;
    if (this.answerFromCache(entry, sc, method, url, ip, start, client)) return true;
    this.forward(entry, sc, null, client, method, url, ip, this.proto, start);
    return true;
  }

  /**
   * Answers from the cache when it holds a fresh response for this request, and records it at once (the whole
   * answer is written right here); false when not. An empty cache (the common case: no app marked anything
   * shareable) costs no key and no lookup.
   */
  private answerFromCache(
    entry: RouteEntry,
    sc: HeaderScan,
    method: string,
    url: string,
    ip: string,
    start: number,
    to: ServerResponse | ClientSide,
  ): boolean {
    if (!sc.cacheable || !sc.lookup || this.cache.size === 0) return false;
    const hit = this.cache.get(ResponseCache.key(entry.route.deploymentId, sc.hostKey, url), Date.now());
    if (hit === null) return false;
    entry.counters.active++;
    const a = cachedAnswer(hit, method, sc.inm);
    if (to instanceof http.ServerResponse) {
      serveCached(to, a);
    } else {
      to.writeHead(a.status, a.reason, a.headers);
      to.end(a.body);
    }
    const id = sc.requestId ?? nextRequestId();
    recordRequest(entry, method, url, ip, sc.hostKey, a.status, start, 0, a.body?.length ?? 0, id);
    return true;
  }

  /** Sends a routed request to the route's next replica (round-robin). */
  private forward(
    entry: RouteEntry,
    sc: HeaderScan,
    req: IncomingMessage | null,
    client: ClientSide,
    method: string,
    url: string,
    addr: string,
    proto: string,
    start: number,
  ): void {
    const newId = sc.requestId === null ? nextRequestId() : null;
    const requestId = newId ?? (sc.requestId as string);
    const head = upstreamHead(sc, method, url, addr, proto, newId);
    const bodyMode = sc.bodyMode;
    const target = nextTarget(entry);
    entry.counters.active++;
    const route = entry.route;
    const ex = new Exchange(
      this,
      req,
      client,
      method,
      url,
      addr,
      sc.hostKey,
      route.service,
      head,
      bodyMode,
      target,
      entry,
      start,
      requestId,
    );
    if (bodyMode === BODY_CHUNKED && entry.policy !== null) ex.maxBody = entry.policy.maxBodySize ?? -1;
    // A HEAD answer has no body to keep.
    if (sc.cacheable && method === 'GET' && bodyMode === BODY_NONE) {
      ex.cacheable = true;
      ex.deploymentId = route.deploymentId;
    }
    ex.watchBody();
    ex.send(false);
  }

  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.requests++;
    socket.pause(); // nothing may flow before we pipe it to the upstream
    socket.on('error', () => {});
    const addr = clientAddress(req);
    const { text, host, hosts } = upgradeHead(
      req.method as string,
      req.url as string,
      req.rawHeaders,
      addr,
      this.protoOf(req),
    );
    if (hosts > 1) {
      socket.end(rawPage(400, 'Bad Request', simplePage(400, 'Bad request', DUPLICATE_HOST)));
      return;
    }
    const hostKey = normalizeHost(host);
    const entry = this.table.byHost.get(hostKey);
    if (entry === undefined) {
      this.metrics.unrouted++;
      socket.end(rawPage(404, 'Not Found', notFoundHostPage(hostKey)));
      return;
    }
    if (entry.policy !== null) {
      const v = entry.policy.check(addr, req.url as string, 0);
      if (!v.ok) {
        const title = v.status === 429 ? 'Too Many Requests' : 'Forbidden';
        const extra = v.retryAfterSeconds === undefined ? '' : `Retry-After: ${v.retryAfterSeconds}\r\n`;
        const page = rawPage(v.status, title, simplePage(v.status, title, v.reason));
        socket.end(page.replace('\r\n', `\r\n${extra}`));
        return;
      }
    }
    if (entry.route.kind === 'static') {
      socket.end(
        rawPage(
          400,
          'Bad Request',
          simplePage(400, 'Bad request', 'A static site cannot upgrade connections.'),
        ),
      );
      return;
    }
    const target = pickTarget(entry, null);
    if (target === null) {
      socket.end(rawPage(503, 'Service Unavailable', noReplicaPage(entry.route.service)));
      return;
    }
    new Tunnel(this, socket, text, head, hostKey, entry.route.service, target, entry.counters).connect();
  };
}
