import type { Command } from 'commander';
import {
  findLink,
  type Link,
  readConfig,
  requireProject,
  resolvePartialTarget,
  tildify,
} from '../context.js';
import { CliError } from '../errors.js';
import { formatAge, print, printJson, printTable } from '../output.js';
import { registerEnvironmentEdit } from './environment-edit.js';
import { saveLink } from './project.js';
import { type JsonFlag, makeClient } from './shared.js';

/** `environment` (alias `env`): `new`, `list`, `delete`, and `environment NAME` to switch this directory's link. */

interface ProjectFlag {
  project?: string;
}

function projectOption(cmd: Command): Command {
  return cmd.option('-p, --project <project>', 'project name or id (default: the linked project)');
}

/** The project from -p (given to the group or the subcommand), else the directory's link. */
function projectOf(cmd: Command): string {
  const { project } = cmd.optsWithGlobals<ProjectFlag>();
  return requireProject(resolvePartialTarget({ project }));
}

export function registerEnvironment(program: Command): void {
  const group = projectOption(
    program
      .command('environment')
      .alias('env')
      .description("create or list the project's environments, or switch this directory to one")
      .argument('[name]', 'the environment to link this directory to'),
  ).action(async (name: string | undefined, opts: ProjectFlag) => {
    if (!name) {
      throw new CliError(
        'Pass the environment to switch to, like `berth environment staging`; see them with `berth environment list`',
      );
    }
    const config = readConfig();
    const cwd = process.cwd();
    const project = requireProject(resolvePartialTarget({ project: opts.project }, config, cwd));
    const detail = await makeClient(config).getProject(project);
    const env = detail.environments.find((e) => e.name === name || e.id === name);
    if (!env) {
      throw new CliError(
        `Environment "${name}" does not exist in project "${detail.name}"; create it with \`berth environment new ${name}\``,
      );
    }
    // Re-point the directory's existing link when it is for this project; otherwise link cwd afresh.
    const found = findLink(config, cwd);
    const sameProject =
      found !== undefined && (found.link.project === detail.name || found.link.project === detail.id);
    const dir = sameProject ? found.dir : cwd;
    const link: Link = sameProject
      ? { ...found.link, project: detail.name, environment: env.name }
      : { project: detail.name, environment: env.name };
    saveLink(dir, link);
    print(
      `Switched ${tildify(dir)} to environment ${env.name} of ${detail.name}${link.service ? `, service ${link.service}` : ''}`,
    );
  });

  registerEnvironmentEdit(group);

  projectOption(
    group
      .command('new')
      .description("create an environment, optionally copying another's variables and deploying its services")
      .argument('<name>', 'the new environment’s name')
      .option(
        '-d, --duplicate <environment>',
        'copy the variables (not sealed ones) of this environment and deploy its services',
      ),
  ).action(async (name: string, opts: { duplicate?: string }, cmd: Command) => {
    const project = projectOf(cmd);
    const created = await makeClient().createEnvironment(
      project,
      opts.duplicate ? { name, duplicate: opts.duplicate } : { name },
    );
    print(
      `Created environment ${created.name} in project ${project}${opts.duplicate ? ` from ${opts.duplicate}` : ''}`,
    );
    const ids = created.deploymentIds ?? [];
    if (ids.length > 0) print(`Deploying: ${ids.join(', ')}`);
  });

  projectOption(
    group
      .command('list')
      .alias('ls')
      .description("list the project's environments")
      .option('--json', 'print the server’s answer unchanged'),
  ).action(async (opts: JsonFlag, cmd: Command) => {
    const project = projectOf(cmd);
    const envs = await makeClient().listEnvironments(project);
    if (opts.json) {
      printJson(envs);
      return;
    }
    const found = findLink(readConfig(), process.cwd());
    const linked = found?.link.project === project ? found.link.environment : undefined;
    printTable(
      ['name', 'kind', 'branch', 'created'],
      envs.map((e) => [
        e.name === linked ? `${e.name} (linked)` : e.name,
        e.kind,
        e.branch,
        formatAge(e.createdAt),
      ]),
    );
  });

  projectOption(
    group
      .command('delete')
      .alias('rm')
      .description(
        'delete an environment: stop its services, remove its routes, variables, deployments and files (not production)',
      )
      .argument('<name>', 'the environment to delete')
      .option('--skip-final-backup', 'delete its databases without the final backup otherwise taken first')
      .option('--json', 'print the server’s answer unchanged'),
  ).action(async (name: string, opts: JsonFlag & { skipFinalBackup?: boolean }, cmd: Command) => {
    const project = projectOf(cmd);
    const res = await makeClient().deleteEnvironment(project, name, opts.skipFinalBackup);
    if (opts.json) {
      printJson(res);
      return;
    }
    print(
      `Deleted environment ${res.name} of ${project}: ${res.deployments} deployment${res.deployments === 1 ? '' : 's'} removed, ${res.filesRemoved} file${res.filesRemoved === 1 ? '' : 's'} freed`,
    );
    for (const note of res.notes ?? []) print(note);
  });
}
