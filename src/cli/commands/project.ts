import path from 'node:path';
import type { Command } from 'commander';
import {
  type ContextFlags,
  DEFAULT_ENVIRONMENT,
  findLink,
  type Link,
  readConfig,
  requireProject,
  resolvePartialTarget,
  resolveUrl,
  tildify,
  updateConfig,
} from '../context.js';
import { CliError } from '../errors.js';
import { print } from '../output.js';
import { createBucket } from './bucket.js';
import { type SourceFlags, sourceOptions, sourcePatch } from './service.js';
import { contextFlags, makeClient, withContextOptions } from './shared.js';

/** init, link, unlink, add: which project/environment/service a directory belongs to. */

function describeLink(link: Link): string {
  return `${link.project} (${link.environment})${link.service ? `, service ${link.service}` : ''}`;
}

export function saveLink(dir: string, link: Link): void {
  updateConfig((c) => {
    c.links[path.resolve(dir)] = link;
  });
}

export function registerProject(program: Command): void {
  withContextOptions(
    program
      .command('init')
      .alias('new')
      .description('create a project and link this directory to it')
      .option('--name <name>', 'project name (default: this directory’s name)'),
  ).action(async (opts: ContextFlags & { name?: string }) => {
    const cwd = process.cwd();
    const name = opts.name ?? opts.project ?? path.basename(cwd);
    const client = makeClient();
    const created = await client.createProject(name);
    const link: Link = { project: created.name, environment: opts.environment ?? DEFAULT_ENVIRONMENT };
    if (opts.service) link.service = opts.service;
    saveLink(cwd, link);
    print(`Created project ${created.name}`);
    print(`Linked ${tildify(cwd)} to ${describeLink(link)}`);
    const remote = `${resolveUrl().url}/git/${encodeURIComponent(created.name)}.git`;
    print('');
    print('Deploy with git push (main/master deploy to production):');
    print(`  git remote add berth ${remote}`);
    print(`  git config http.${remote}.extraHeader "Authorization: Bearer <token>"`);
    print(`  (or put the token in the URL: ${remote.replace('://', '://berth:<token>@')})`);
    print('  git push berth main');
  });

  withContextOptions(
    program
      .command('link')
      .description('link this directory to a project, environment and (optionally) service'),
  ).action(async (opts: ContextFlags) => {
    if (!opts.project) throw new CliError('Pass the project to link with -p <project>');
    const client = makeClient();
    const project = await client.getProject(opts.project);
    const envWanted = opts.environment ?? DEFAULT_ENVIRONMENT;
    const env = project.environments.find((e) => e.name === envWanted || e.id === envWanted);
    if (!env) throw new CliError(`Environment "${envWanted}" does not exist in project "${project.name}"`);
    const link: Link = { project: project.name, environment: env.name };
    if (opts.service) {
      const svc = project.services.find((s) => s.name === opts.service || s.id === opts.service);
      if (!svc) {
        throw new CliError(
          `Service "${opts.service}" does not exist in project "${project.name}"; create it with \`berth add --service ${opts.service}\``,
        );
      }
      link.service = svc.name;
    }
    const cwd = process.cwd();
    saveLink(cwd, link);
    print(`Linked ${tildify(cwd)} to ${describeLink(link)}`);
  });

  withContextOptions(program.command('unlink').description('remove the link of this directory')).action(
    () => {
      const found = findLink(readConfig(), process.cwd());
      if (!found) {
        print('This directory is not linked to a project');
        return;
      }
      updateConfig((c) => {
        delete c.links[found.dir];
      });
      print(`Unlinked ${tildify(found.dir)} from ${describeLink(found.link)}`);
    },
  );

  sourceOptions(
    withContextOptions(
      program
        .command('add')
        .description(
          'add an empty service to the project (-s/--service names it), or a database with --database postgres|redis',
        )
        .option(
          '-d, --database <engine>',
          'add a database service (postgres or redis) to the environment, provisioned and running (default name Postgres or Redis)',
        )
        .option('--bucket <name>', 'add an object storage bucket (as `berth bucket create NAME`)'),
    ),
  ).action(async (opts: ContextFlags & SourceFlags & { database?: string; bucket?: string }) => {
    if (opts.database !== undefined) return addDatabase(opts);
    if (opts.bucket !== undefined) return createBucket(opts.bucket, false, opts);
    if (!opts.service) throw new CliError("Pass the new service's name with --service <name>");
    const config = readConfig();
    const cwd = process.cwd();
    const target = resolvePartialTarget({ ...contextFlags(opts), service: undefined }, config, cwd);
    const project = requireProject(target);
    const created = await makeClient(config).createService(project, opts.service, sourcePatch(opts));
    print(`Created service ${created.name} in project ${project}`);
    const found = findLink(config, cwd);
    if (found && !found.link.service && found.link.project === project) {
      const link = { ...found.link, service: created.name };
      saveLink(found.dir, link);
      print(`Linked ${tildify(found.dir)} to ${describeLink(link)}`);
    }
  });
}

interface DatabaseKind {
  engine: 'postgres' | 'redis';
  name: string;
  label: string;
  /** The variable an app references first, and the client `berth connect` opens. */
  variable: string;
  client: string;
}

const POSTGRES: DatabaseKind = {
  engine: 'postgres',
  name: 'Postgres',
  label: 'PostgreSQL',
  variable: 'DATABASE_URL',
  client: 'psql',
};
const REDIS: DatabaseKind = {
  engine: 'redis',
  name: 'Redis',
  label: 'Redis',
  variable: 'REDIS_URL',
  client: 'redis-cli',
};
const DATABASE_NAMES: Record<string, DatabaseKind> = {
  postgres: POSTGRES,
  postgresql: POSTGRES,
  redis: REDIS,
};

/** `berth add --database postgres|redis [--service NAME]`: a database in the linked (or given) environment. */
async function addDatabase(opts: ContextFlags & SourceFlags & { database?: string }): Promise<void> {
  const kind = DATABASE_NAMES[(opts.database ?? '').toLowerCase()];
  if (!kind) throw new CliError(`--database takes postgres or redis, not "${opts.database}"`);
  if (opts.rootDirectory !== undefined || opts.configPath !== undefined || opts.repo !== undefined) {
    throw new CliError('A database has no source: drop --root-directory, --config-path and --repo');
  }
  const config = readConfig();
  const target = resolvePartialTarget({ ...contextFlags(opts), service: undefined }, config);
  const project = requireProject(target);
  const name = opts.service ?? kind.name;
  const ds = await makeClient(config).addDataService(project, target.environment, {
    engine: kind.engine,
    name,
  });
  print(
    `Created ${ds.service} (${kind.label} ${ds.version}) in project ${project}, environment ${ds.environment}: ${ds.state} at ${ds.privateHost}:${ds.port}`,
  );
  print(
    `Reference it from an app: berth variables set '${kind.variable}=\${{${ds.service}.${kind.variable}}}' -s <app>`,
  );
  print(`Open ${kind.client}: berth connect ${ds.service}`);
}
