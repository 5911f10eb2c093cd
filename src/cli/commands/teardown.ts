import type { Command } from 'commander';
import { confirm } from '../confirm.js';
import {
  type ContextFlags,
  readConfig,
  requireProject,
  resolvePartialTarget,
  resolveTarget,
  updateConfig,
} from '../context.js';
import { CliError } from '../errors.js';
import { print, printJson } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/** down, service delete, delete: taking things away, each confirmed unless -y. */

interface TeardownFlags extends ContextFlags, JsonFlag {
  yes?: boolean;
  deleteData?: boolean;
  skipFinalBackup?: boolean;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Links to a deleted project (or service) would point at nothing: they go with it. */
function forgetLinks(project: string, service?: string): void {
  updateConfig((c) => {
    for (const [dir, link] of Object.entries(c.links)) {
      if (link.project !== project) continue;
      if (service === undefined) delete c.links[dir];
      else if (link.service === service) delete link.service;
    }
  });
}

function deleteOptions(cmd: Command): Command {
  return cmd
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--delete-data', "also delete a data service's volume (otherwise it stays on disk)")
    .option('--skip-final-backup', 'delete a database without the final backup otherwise taken first')
    .option('--json', 'print the server’s answer');
}

export function registerServiceDelete(group: Command): void {
  deleteOptions(
    withContextOptions(
      group
        .command('delete')
        .alias('rm')
        .description(
          'delete a service in every environment: replicas, routes, domains, certificates, deployments, variables and files',
        ),
    ),
  ).action(async (opts: TeardownFlags) => {
    const t = resolveTarget(contextFlags(opts));
    await confirm(`delete service "${t.service}" of project "${t.project}" in every environment`, opts.yes);
    const res = await makeClient().deleteService(t.project, t.service, opts.deleteData, opts.skipFinalBackup);
    forgetLinks(t.project, res.name);
    if (opts.json) return printJson(res);
    print(
      `Deleted service ${res.name}: ${plural(res.deployments, 'deployment')} and ${plural(res.filesRemoved, 'file')} removed`,
    );
    for (const note of res.notes ?? []) print(note);
  });
}

export function registerTeardown(program: Command): void {
  withContextOptions(
    program
      .command('down')
      .description(
        "remove the service's active deployment (its URL stops answering); the service and its variables stay",
      )
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'print the server’s answer'),
  ).action(async (opts: TeardownFlags) => {
    const t = resolveTarget(contextFlags(opts));
    await confirm(`take down the active deployment of ${t.service} (${t.environment})`, opts.yes);
    const res = await makeClient().down(t);
    if (opts.json) return printJson(res);
    print(
      `Removed deployment ${res.deploymentId} of ${t.service} (${t.environment}); \`berth up\` or \`berth redeploy\` deploys it again`,
    );
  });

  deleteOptions(
    withContextOptions(
      program
        .command('delete')
        .description(
          'delete a project: every service, environment, deployment, domain, certificate, token and file of it',
        ),
    ),
  ).action(async (opts: TeardownFlags) => {
    const project = requireProject(resolvePartialTarget(contextFlags(opts), readConfig()));
    if (opts.service) throw new CliError('To delete one service, use `berth service delete -s <service>`');
    await confirm(`delete project "${project}" and everything in it`, opts.yes);
    const res = await makeClient().deleteProject(project, opts.deleteData, opts.skipFinalBackup);
    forgetLinks(res.name);
    if (opts.json) return printJson(res);
    print(
      `Deleted project ${res.name}: ${plural(res.services.length, 'service')}, ${plural(res.environments.length, 'environment')}, ${plural(res.deployments, 'deployment')} and ${plural(res.filesRemoved, 'file')} removed`,
    );
    for (const note of res.notes ?? []) print(note);
  });
}
