import type { Command } from 'commander';
import { diskLow } from '../../lib/disk.js';
import type { DiskSpace, ServiceStatus } from '../client.js';
import { type ContextFlags, readConfig, requireProject, resolvePartialTarget } from '../context.js';
import { formatSize, print, printErr, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';
import { printScaling } from './status-scaling.js';

export function registerStatus(program: Command): void {
  withContextOptions(
    program
      .command('status')
      .description("show the project's services, their latest deployment status and URL")
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const config = readConfig();
    const t = resolvePartialTarget(contextFlags(opts), config);
    const project = requireProject(t);
    const status = await makeClient(config).status(project, t.environment);
    if (opts.json) {
      printJson(status);
      return;
    }
    print(`Project: ${status.project}`);
    print(`Environment: ${status.environment}`);
    print();
    if (status.services.length === 0) {
      print('No services yet; deploy one with `berth up`');
      return;
    }
    printTable(
      ['service', 'kind', 'status', 'replicas', 'url', 'deployment'],
      status.services.map((s) =>
        !s.kind || s.kind === 'app'
          ? [s.name, 'app', appStatusOf(s), replicasOf(s), s.url, s.deploymentId]
          : [s.name, s.kind, s.state === 'sleeping' ? 'SLEEPING' : (s.state ?? 'unknown'), '', null, null],
      ),
    );
    for (const s of status.services) {
      if (s.cron)
        print(`${s.name}: cron "${s.cron.schedule}" (UTC), next run ${s.cron.nextRunAt ?? 'never'}`);
    }
    printScaling(status.services);
    printBackups(status.services);
    printPitr(status.services);
    if (status.disk) printDisk(status.disk);
  });
}

/** Per database: the last backup's outcome (with the reason when it failed) and the next scheduled run. */
function printBackups(services: ServiceStatus[]): void {
  const dbs = services.filter((s) => s.backups);
  if (dbs.length === 0) return;
  print();
  printTable(
    ['database', 'last backup', 'outcome', 'schedule (UTC)', 'next backup'],
    dbs.map((s) => {
      const b = s.backups;
      const last = b?.last ?? null;
      const outcome = !last
        ? 'none yet'
        : last.verified
          ? 'verified'
          : `failed: ${last.error ?? 'no reason recorded'}`;
      return [
        s.name,
        last?.createdAt ?? '',
        outcome,
        `${b?.cron} (keep ${b?.keepDays} days)`,
        b?.nextRunAt ?? '',
      ];
    }),
  );
}

/** SLEEPING for an app whose replicas sleep until the next request, else its latest deployment's status. */
function appStatusOf(s: ServiceStatus): string {
  return s.sleeping ? 'SLEEPING' : (s.status ?? 'NO DEPLOYMENTS');
}

/** Per PostgreSQL database: the point-in-time restore window, or what keeps it from growing. */
function printPitr(services: ServiceStatus[]): void {
  for (const s of services) {
    if (!s.pitr) continue;
    const w = s.pitr;
    const span =
      w.earliest && w.latest ? `restorable from ${w.earliest} to ${w.latest}` : 'no restorable instant yet';
    print(`${s.name}: point-in-time restore ${span}${w.problem ? `; ${w.problem}` : ''}`);
  }
}

/** running/desired, e.g. 3/4 while a replica restarts; just running from servers without desiredReplicas. */
function replicasOf(s: { replicas: number; desiredReplicas?: number }): string {
  return s.desiredReplicas === undefined ? String(s.replicas) : `${s.replicas}/${s.desiredReplicas}`;
}

function printDisk(d: DiskSpace): void {
  print();
  print(`Disk: ${formatSize(d.freeBytes)} free of ${formatSize(d.totalBytes)} (server data in ${d.path})`);
  if (diskLow(d)) {
    printErr(
      `Warning: the server's disk is nearly full; deploys fail when it is — keep fewer builds (berth server --keep-deployments, --cache-days) or free space on ${d.path}.`,
    );
  }
}
