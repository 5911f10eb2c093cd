import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ServiceStatus } from '../client.js';
import {
  type ContextFlags,
  readConfig,
  requireProject,
  resolvePartialTarget,
  resolveTarget,
} from '../context.js';
import { CliError } from '../errors.js';
import { formatAge, print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/** list, open, service list, service status: looking at what exists. */

/** The program that opens a URL in a browser here, or null where none can (no display, a server). */
export function browserOpener(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string | null {
  const onPath = (name: string) =>
    (env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, name)));
  if (platform === 'darwin') return onPath('open') ? 'open' : null;
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return null;
  return onPath('xdg-open') ? 'xdg-open' : null;
}

async function serviceStatus(opts: ContextFlags): Promise<ServiceStatus> {
  const t = resolveTarget(contextFlags(opts));
  const status = await makeClient().status(t.project, t.environment);
  const s = status.services.find((x) => x.name === t.service);
  if (!s) {
    throw new CliError(
      `Service "${t.service}" does not exist in project "${t.project}"; see the services with \`berth service list\``,
    );
  }
  return s;
}

export function registerBrowse(program: Command): void {
  program
    .command('list')
    .alias('ls')
    .description('list the projects on the server')
    .option('--json', 'print [{"id","name","createdAt"}]')
    .action(async (opts: JsonFlag) => {
      const projects = await makeClient().listProjects();
      if (opts.json) return printJson(projects);
      if (projects.length === 0) return print('No projects yet; deploy one with `berth up`');
      printTable(
        ['project', 'created', 'id'],
        projects.map((p) => [p.name, formatAge(p.createdAt), p.id]),
      );
    });

  withContextOptions(
    program
      .command('open')
      .description("print the service's URL and open it in a browser where there is one")
      .option('--print', 'only print the URL'),
  ).action(async (opts: ContextFlags & { print?: boolean }) => {
    const s = await serviceStatus(opts);
    if (!s.url) throw new CliError(`Service "${s.name}" has no URL`);
    print(s.url);
    const opener = opts.print ? null : browserOpener(process.env, process.platform);
    if (!opener) return;
    const child = spawn(opener, [s.url], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
  });
}

export function registerServiceInspect(group: Command): void {
  withContextOptions(
    group
      .command('list')
      .alias('ls')
      .description("list the project's services with their status in this environment")
      .option('--json', 'print the services with their status'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const config = readConfig();
    const t = resolvePartialTarget(contextFlags(opts), config);
    const status = await makeClient(config).status(requireProject(t), t.environment);
    if (opts.json) return printJson(status.services);
    if (status.services.length === 0) return print('No services yet; deploy one with `berth up`');
    printTable(
      ['service', 'status', 'replicas', 'url'],
      status.services.map((s) => [s.name, s.status ?? 'NO DEPLOYMENTS', s.replicas, s.url]),
    );
  });

  withContextOptions(
    group
      .command('status')
      .description("show one service's latest deployment status, replicas and URL")
      .option('--json', 'print {"name","status","url","deploymentId","replicas"}'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const s = await serviceStatus(opts);
    if (opts.json) return printJson(s);
    print(`Service: ${s.name}`);
    print(`Status: ${s.status ?? 'NO DEPLOYMENTS'}`);
    print(`Active deployment: ${s.deploymentId ?? 'none'}`);
    print(`Replicas running: ${s.replicas}`);
    print(`URL: ${s.url}`);
  });
}
