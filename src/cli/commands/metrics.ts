import type { Command } from 'commander';
import type { EdgeLosses, MetricsSnapshot, ServiceMetrics } from '../client.js';
import { type ContextFlags, readConfig, requireProject, resolvePartialTarget } from '../context.js';
import { formatSize, print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

const HEADERS = ['requests', '2xx', '3xx', '4xx', '5xx', 'p50 ms', 'p95 ms', 'p99 ms', 'in', 'out', 'active'];

const NOTHING = [0, 0, 0, 0, 0, '-', '-', '-', '-', '-', 0];

function cells(m: MetricsSnapshot): Array<string | number> {
  return [
    m.requests,
    m.status['2xx'],
    m.status['3xx'],
    m.status['4xx'],
    m.status['5xx'],
    m.latencyMs.p50,
    m.latencyMs.p95,
    m.latencyMs.p99,
    bytes(m.bytesIn),
    bytes(m.bytesOut),
    m.active,
  ];
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : formatSize(n);
}

function shortId(id: string): string {
  return id.slice(0, 8);
}

function printService(m: ServiceMetrics): void {
  const rows: Array<Array<string | number>> = [];
  if (m.deploymentId !== null) {
    // null: the active deployment has not served a request since the edge started
    rows.push([`current (${shortId(m.deploymentId)})`, ...(m.current === null ? NOTHING : cells(m.current))]);
  }
  for (const d of m.deployments) {
    if (d.deploymentId !== m.deploymentId) rows.push([`retiring (${shortId(d.deploymentId)})`, ...cells(d)]);
  }
  rows.push(['all deployments', ...cells(m.totals)]);
  printTable(['', ...HEADERS], rows);
}

/** One sentence when the edge lost count, so nobody reads low figures as the truth. */
function warnLosses(lost: EdgeLosses): void {
  const parts = [
    ...(lost.requests > 0
      ? [`served ${lost.requests} requests it could not count (its request log fell behind)`]
      : []),
    ...(lost.accessLogLines > 0
      ? [`dropped ${lost.accessLogLines} access log lines (the disk did not keep up)`]
      : []),
  ];
  if (parts.length > 0)
    process.stderr.write(`Note: the edge ${parts.join(' and ')}, so these figures are low.\n`);
}

export function registerMetrics(program: Command): void {
  withContextOptions(
    program
      .command('metrics')
      .description(
        'show request metrics from the edge: counts, status classes, latency percentiles, bytes, in flight (all services without -s)',
      )
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const config = readConfig();
    const t = resolvePartialTarget(contextFlags(opts), config);
    const project = requireProject(t);
    const client = makeClient(config);
    if (t.service !== undefined) {
      const m = await client.metrics({ project, environment: t.environment, service: t.service });
      if (opts.json) return printJson(m);
      print(`${m.service} (${m.environment}), since ${m.since}`);
      printService(m);
      warnLosses(m.lost);
      return;
    }
    const env = await client.environmentMetrics(project, t.environment);
    if (opts.json) return printJson(env);
    print(`${env.project} (${env.environment}), active deployments, since ${env.since}`);
    printTable(
      ['service', ...HEADERS],
      env.services.map((s) => [s.service, ...(s.current === null ? NOTHING : cells(s.current))]),
    );
    warnLosses(env.lost);
  });
}
