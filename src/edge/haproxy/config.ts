/**
 * Renders haproxy.cfg, the host map and the edge pages from a HaproxyState. Pure: returns file
 * contents keyed by path relative to the HAProxy state dir; the driver writes them.
 *
 * Every slot is rendered with its current address (free slots as `server-template` runs in maint), so a
 * reload starts the new worker with exactly the servers the old one had: no window without servers.
 */

import { createHash } from 'node:crypto';
import path from 'node:path';
import { DEFAULT_CONNECTIONS_PER_IP } from '../conn-limit.js';
import { badGatewayPage, noReplicaPage, notFoundHostPage } from '../pages.js';
import { renderCrtList } from './certs.js';
import {
  HELPER_SERVER,
  LOG_FORMAT,
  LOG_LINE_MAX,
  LOG_VAR_RULES,
  NOT_FOUND_BACKEND,
  REQUEST_CAPTURES,
} from './log-format.js';
import { type HaproxyState, PLACEHOLDER, type Slot } from './plan.js';
import { cacheRules, cacheSection, DEPLOYMENTS_MAP_FILE, policyRules } from './policy.js';

export const CONFIG_FILE = 'haproxy.cfg';
export const MAP_FILE = 'hosts.map';
export const REDIRECT_MAP_FILE = 'redirects.map';
export const CRT_LIST_FILE = 'certs.list';
export const STATS_SOCKET = 'stats.sock';
export const MASTER_SOCKET = 'master.sock';
export const PID_FILE = 'haproxy.pid';
export const STATE_FILE = 'state.json';
export const LOG_FILE = 'haproxy.log';
/** HAProxy's stdout: its request log lines, read by the helper edge. */
export const REQUEST_LOG_FIFO = 'requests.fifo';
const PAGES = 'pages';
/** The built-in helper edge: static sites and ACME challenges. */
const STATIC_BACKEND = 'be_static';
const ACME_PREFIX = '/.well-known/acme-challenge/';

/** Marker swapped for the request's host in the 404 page (a log-format expression in HAProxy). */
const HOST_MARK = 'BERTH-HOST-MARK';

/** A full HTTP response for `errorfile` (HAProxy sends it as is). */
function rawResponse(status: number, reason: string, html: string): string {
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/html; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(html, 'utf8')}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${html}`
  );
}

function serverLines(slots: Slot[]): string[] {
  const lines: string[] = [];
  let i = 0;
  while (i < slots.length) {
    const s = slots[i];
    if (s.status === 'free') {
      let j = i;
      while (j + 1 < slots.length && slots[j + 1].status === 'free') j++;
      const where = `${PLACEHOLDER.host}:${PLACEHOLDER.port} disabled`;
      lines.push(i === j ? `  server s${i + 1} ${where}` : `  server-template s ${i + 1}-${j + 1} ${where}`);
      i = j + 1;
      continue;
    }
    // A draining slot keeps its address (stats map sessions back to it) but takes no new request.
    lines.push(`  server s${i + 1} ${s.host}:${s.port}${s.status === 'drain' ? ' disabled' : ''}`);
    i++;
  }
  return lines;
}

const HTML = 'content-type "text/html; charset=utf-8" hdr cache-control no-store';

/**
 * The frontend's cap on connections per client IP, closed at accept as on the built-in edge (sc2: backends
 * track sc0 for their rate limit).
 */
function connectionLimit(max: number): string[] {
  if (max <= 0) return [];
  return [
    '  stick-table type ipv6 size 100k expire 60s store conn_cur',
    '  tcp-request connection track-sc2 src',
    `  tcp-request connection reject if { sc2_conn_cur gt ${max} }`,
  ];
}

export interface RenderOptions {
  /**
   * HAProxy >= 2.7: on a reload, idle keep-alive client connections of the old worker stay open until their
   * next request, which is answered and then closed. Without it (2.6) they are closed at once, and a
   * client whose request crosses that close sees the connection reset (browsers retry idempotent requests).
   */
  idleCloseOnResponse?: boolean;
}

/** First line of haproxy.cfg: names the template that wrote it (see templateId). */
const TEMPLATE_MARK = '# Berth template ';

/** The deployments map for a state: `<backend> <deployment id>` per proxy backend. */
export function deploymentsMapText(state: HaproxyState): string {
  return state.backends
    .filter((b) => b.deploymentId !== undefined)
    .map((b) => `${b.name} ${b.deploymentId}\n`)
    .join('');
}

/** What renderConfig writes for `state`; haproxy.cfg starts with the template's id. */
export function renderConfig(
  state: HaproxyState,
  dir: string,
  opts: RenderOptions = {},
): Record<string, string> {
  const files = renderFiles(state, dir, opts);
  files[CONFIG_FILE] = `${TEMPLATE_MARK}${templateId(opts)}\n${files[CONFIG_FILE]}`;
  return files;
}

/** The template id on the first line of a haproxy.cfg; null for one written before ids (or not by Berth). */
export function templateOf(config: string): string | null {
  return config.startsWith(TEMPLATE_MARK) ? config.slice(TEMPLATE_MARK.length).split('\n', 1)[0] : null;
}

/** A state that takes every branch of the template: proxies with and without a policy, TLS, redirects, static sites. */
const SAMPLE: HaproxyState = {
  version: 1,
  listen: { host: '0.0.0.0', port: 80 },
  tls: { port: 443, certs: [{ name: 'a.example', file: '/certs/a.pem', hash: 'h' }] },
  staticPort: 1000,
  staticHosts: ['s.example'],
  redirects: [['a.example', 'https://a.example']],
  backends: [
    {
      name: 'be_a',
      service: 'a',
      hostnames: ['a.example'],
      slots: [
        { id: 'i1', host: '127.0.0.1', port: 1001, status: 'ready' },
        { id: 'i0', host: '127.0.0.1', port: 1002, status: 'drain' },
        { id: null, host: '127.0.0.1', port: 1, status: 'free' },
      ],
      deploymentId: 'd1',
      policy: {
        rateLimit: 10,
        rateLimitWindowSeconds: 60,
        maxBodySize: 100,
        allowIps: ['10.0.0.0/8'],
        denyIps: ['10.0.0.1'],
        denyPaths: ['/admin'],
      },
    },
    { name: 'be_b', service: 'b', hostnames: ['b.example'], slots: [], deploymentId: 'd2' },
  ],
  staticPolicies: [{ name: 'be_s', service: 's', hostnames: ['t.example'], policy: { rateLimit: 5 } }],
};

const templateIds = new Map<string, string>();

/**
 * Fingerprint of the template: a hash of what it renders for SAMPLE. A new Berth whose template differs
 * reloads the HAProxy it adopts (driver.ts); the same template re-attaches without a reload.
 */
export function templateId(opts: RenderOptions): string {
  const key = JSON.stringify(opts);
  let id = templateIds.get(key);
  if (id === undefined) {
    const files = renderFiles(SAMPLE, '/berth', opts);
    const hash = createHash('sha256');
    for (const name of Object.keys(files).sort()) hash.update(`${name}\0${files[name]}\0`);
    id = hash.digest('hex').slice(0, 16);
    templateIds.set(key, id);
  }
  return id;
}

function renderFiles(state: HaproxyState, dir: string, opts: RenderOptions): Record<string, string> {
  const p = (...parts: string[]) => path.join(dir, ...parts);
  const files: Record<string, string> = {};
  const abs = (rel: string) => p(rel);
  const hostPage = notFoundHostPage(HOST_MARK).replaceAll('%', '%%').replace(HOST_MARK, '%[var(txn.host)]');
  files[`${PAGES}/404-host.html`] = hostPage;
  files[`${PAGES}/404-nohost.html`] = notFoundHostPage('');
  files[`${PAGES}/404-other.html`] = notFoundHostPage('this address');

  const map: string[] = [];
  const tls = state.tls ?? null;
  const redirects = state.redirects ?? [];
  files[REDIRECT_MAP_FILE] = redirects.map(([h, origin]) => `${h} ${origin}\n${h}. ${origin}\n`).join('');
  files[CRT_LIST_FILE] = renderCrtList(tls?.certs ?? []);
  const logs = state.staticPort !== null;
  const cfg: string[] = [
    '# Written by Berth (src/edge/haproxy); every change here is overwritten.',
    'global',
    `  stats socket ${p(STATS_SOCKET)} mode 600 level admin expose-fd listeners`,
    '  stats timeout 10s',
    ...(opts.idleCloseOnResponse ? ['  idle-close-on-response'] : []),
    '',
    ...cacheSection(),
    '',
    'defaults',
    '  mode http',
    '  option forwardfor',
    '  timeout connect 5s',
    '  timeout client 15m',
    '  timeout server 15m',
    '  timeout http-request 60s',
    '  timeout http-keep-alive 5s',
    '  timeout tunnel 1h',
    '  timeout queue 5s',
    // A refused connect moves to another replica; an idempotent request whose reused connection died
    // before any answer is sent again (the built-in edge does the same).
    '  retries 2',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    '',
    'frontend berth',
    `  bind ${state.listen.host}:${state.listen.port}`,
    // strict-sni: a name without a certificate fails the handshake, as on the built-in edge.
    ...(tls ? [`  bind ${state.listen.host}:${tls.port} ssl crt-list ${p(CRT_LIST_FILE)} strict-sni`] : []),
    ...connectionLimit(state.connectionsPerIp ?? DEFAULT_CONNECTIONS_PER_IP),
    // Hex: worker pid, accept time (s, ms), the worker's request counter: unique across reloads and restarts.
    '  unique-id-format %{+X}o%pid-%Ts%ms-%rt',
    // One line per request to stdout, a FIFO the helper reads for the metrics and access logs (log-ingest.ts).
    ...(logs
      ? [
          `  log stdout len ${LOG_LINE_MAX} format raw local0 info`,
          ...REQUEST_CAPTURES.map((c) => `  capture request header ${c.header} len ${c.len}`),
          `  log-format '${LOG_FORMAT}'`,
          ...LOG_VAR_RULES.request,
        ]
      : []),
    // A trailing dot (FQDN form) is matched by a second map entry rather than a regex on every request.
    '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
    ...(tls
      ? [
          '  http-request set-header X-Forwarded-Proto https if { ssl_fc }',
          '  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }',
        ]
      : ['  http-request set-header X-Forwarded-Proto http']),
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)]',
    '  http-request set-header X-Request-Id %[unique-id] unless { req.hdr(x-request-id) -m found }',
    ...(logs ? LOG_VAR_RULES.response : []),
    ...(redirects.length > 0
      ? [
          // ACME challenges stay on plain HTTP (the CA asks there); the rest of a redirecting host goes to HTTPS.
          `  http-request set-var(txn.origin) var(txn.host),map(${p(REDIRECT_MAP_FILE)}) if !{ ssl_fc } !{ path_beg ${ACME_PREFIX} }`,
          '  http-request redirect code 308 location %[var(txn.origin)]%[capture.req.uri] if { var(txn.origin) -m found }',
          '  http-after-response set-header cache-control no-store if { var(txn.origin) -m found }',
        ]
      : []),
    '  http-request disable-l7-retry if !METH_GET',
    ...(state.staticPort !== null ? [`  use_backend ${STATIC_BACKEND} if { path_beg ${ACME_PREFIX} }`] : []),
    `  use_backend %[var(txn.host),map(${p(MAP_FILE)})]`,
    `  default_backend ${NOT_FOUND_BACKEND}`,
    '',
    `backend ${NOT_FOUND_BACKEND}`,
    // The host is echoed only when it cannot carry markup (HAProxy has no HTML escaping).
    `  http-request return status 404 ${HTML} lf-file ${p(PAGES, '404-host.html')} if { var(txn.host) -m reg ^[a-z0-9.-]+$ }`,
    `  http-request return status 404 ${HTML} file ${p(PAGES, '404-nohost.html')} if !{ req.hdr(host) -m found }`,
    `  http-request return status 404 ${HTML} file ${p(PAGES, '404-other.html')}`,
  ];

  const deploymentsMap = p(DEPLOYMENTS_MAP_FILE);
  const policyLines = (name: string, policy: Parameters<typeof policyRules>[1] | null | undefined) => {
    if (policy === null || policy === undefined) return [];
    const rules = policyRules(name, policy, abs);
    Object.assign(files, rules.files);
    return rules.lines;
  };
  for (const b of state.backends) {
    const page503 = `${PAGES}/${b.name}.503.html`;
    files[page503] = noReplicaPage(b.service);
    files[`${PAGES}/${b.name}.503.http`] = rawResponse(503, 'Service Unavailable', noReplicaPage(b.service));
    files[`${PAGES}/${b.name}.502.http`] = rawResponse(502, 'Bad Gateway', badGatewayPage(b.service));
    files[`${PAGES}/${b.name}.504.http`] = rawResponse(504, 'Gateway Timeout', badGatewayPage(b.service));
    for (const h of b.hostnames) map.push(`${h} ${b.name}`, `${h}. ${b.name}`);
    cfg.push(
      '',
      `backend ${b.name}`,
      '  balance roundrobin',
      ...policyLines(b.name, b.policy),
      // An old worker finishing after a reload sees nbsrv() = 0 for every backend: let it forward instead.
      `  http-request return status 503 ${HTML} file ${p(page503)} if { nbsrv() eq 0 } !{ stopping }`,
      ...cacheRules(b.name, deploymentsMap),
      `  errorfile 503 ${p(PAGES, `${b.name}.503.http`)}`,
      `  errorfile 502 ${p(PAGES, `${b.name}.502.http`)}`,
      `  errorfile 504 ${p(PAGES, `${b.name}.504.http`)}`,
      ...serverLines(b.slots),
    );
  }

  if (state.staticPort !== null) {
    for (const h of state.staticHosts) map.push(`${h} ${STATIC_BACKEND}`, `${h}. ${STATIC_BACKEND}`);
    cfg.push('', `backend ${STATIC_BACKEND}`, `  server ${HELPER_SERVER} 127.0.0.1:${state.staticPort}`);
    for (const s of state.staticPolicies ?? []) {
      for (const h of s.hostnames) map.push(`${h} ${s.name}`, `${h}. ${s.name}`);
      cfg.push(
        '',
        `backend ${s.name}`,
        ...policyLines(s.name, s.policy),
        `  server ${HELPER_SERVER} 127.0.0.1:${state.staticPort}`,
      );
    }
  }

  files[DEPLOYMENTS_MAP_FILE] = deploymentsMapText(state);
  files[MAP_FILE] = map.length > 0 ? `${map.join('\n')}\n` : '';
  files[CONFIG_FILE] = `${cfg.join('\n')}\n`;
  return files;
}
