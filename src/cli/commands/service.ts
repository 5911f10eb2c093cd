import type { Command } from 'commander';
import type {
  ServiceSettingsPatch,
  ServiceSettingsView,
  ServiceSourcePatch,
  ServiceSummary,
} from '../client.js';
import { type ContextFlags, requireProject, resolvePartialTarget, resolveTarget } from '../context.js';
import { CliError } from '../errors.js';
import { print, printJson } from '../output.js';
import { registerServiceInspect } from './browse.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';
import { registerServiceDelete } from './teardown.js';

/** `service update`: where a service lives in a (mono)repository. */

export interface SourceFlags {
  rootDirectory?: string;
  configPath?: string;
  repo?: string;
  branch?: string;
  waitForChecks?: boolean;
}

export function sourceOptions(cmd: Command): Command {
  return cmd
    .option(
      '--root-directory <dir>',
      'the directory of the repository the service builds from ("" clears it; default: the repo root)',
    )
    .option(
      '--config-path <file>',
      'its railway.toml/json, from the repository root (e.g. apps/api/railway.worker.toml; "" clears it)',
    )
    .option(
      '--repo <url>',
      'a remote repository the service tracks: webhooks fetch and deploy it ("" clears it)',
    )
    .option('--branch <branch>', "the tracked repository's branch that deploys to production (default: main)")
    .option('--wait-for-checks', 'hold webhook deployments in WAITING until a commit status says success')
    .option('--no-wait-for-checks', 'deploy webhook pushes right away');
}

/** Build and deploy settings per environment (Railway's dashboard settings). */
export interface SettingsFlags {
  startCommand?: string;
  buildCommand?: string;
  preDeployCommand?: string;
  cron?: string;
  healthcheckPath?: string;
  replicas?: string;
  watchPatterns?: string[];
}

function settingsOptions(cmd: Command): Command {
  return cmd
    .option('--start-command <cmd>', 'deploy.startCommand in this environment ("" clears it)')
    .option('--build-command <cmd>', 'build.buildCommand in this environment ("" clears it)')
    .option('--pre-deploy-command <cmd>', 'deploy.preDeployCommand, run before each deploy ("" clears it)')
    .option('--cron <schedule>', 'deploy.cronSchedule (UTC), e.g. "0 * * * *" ("" clears it)')
    .option('--healthcheck-path <path>', 'deploy.healthcheckPath, e.g. /health ("" clears it)')
    .option('--replicas <n>', 'deploy.numReplicas ("" clears it)')
    .option('--watch-patterns <patterns...>', 'build.watchPatterns for git pushes ("" clears them)');
}

/** Empty strings clear a setting; options not given stay as they are. Throws a CliError for a bad number. */
export function settingsPatch(opts: SettingsFlags): ServiceSettingsPatch {
  const patch: ServiceSettingsPatch = {};
  const text = (v: string | undefined) => (v === undefined ? undefined : v === '' ? null : v);
  if (opts.startCommand !== undefined) patch.startCommand = text(opts.startCommand);
  if (opts.buildCommand !== undefined) patch.buildCommand = text(opts.buildCommand);
  if (opts.preDeployCommand !== undefined)
    patch.preDeployCommand = opts.preDeployCommand === '' ? null : [opts.preDeployCommand];
  if (opts.cron !== undefined) patch.cronSchedule = text(opts.cron);
  if (opts.healthcheckPath !== undefined) patch.healthcheckPath = text(opts.healthcheckPath);
  if (opts.replicas !== undefined) {
    if (opts.replicas === '') patch.numReplicas = null;
    else if (/^\d+$/.test(opts.replicas)) patch.numReplicas = Number(opts.replicas);
    else throw new CliError(`--replicas takes a whole number, not "${opts.replicas}"`);
  }
  if (opts.watchPatterns !== undefined) {
    const patterns = opts.watchPatterns.filter((p) => p !== '');
    patch.watchPatterns = patterns.length === 0 ? null : patterns;
  }
  return patch;
}

const SETTING_NAMES: Record<string, string> = {
  buildCommand: 'build command',
  watchPatterns: 'watch patterns',
  startCommand: 'start command',
  preDeployCommand: 'pre-deploy command',
  cronSchedule: 'cron',
  healthcheckPath: 'healthcheck path',
  numReplicas: 'replicas',
};

function describeSettings(s: ServiceSettingsView): string {
  const parts = Object.entries(s).map(
    ([k, v]) => `${SETTING_NAMES[k] ?? k} ${Array.isArray(v) ? v.join(' ') : String(v)}`,
  );
  return parts.length ? parts.join(', ') : 'none set';
}

/** Empty strings clear a setting; options not given stay as they are. */
export function sourcePatch(opts: SourceFlags): ServiceSourcePatch {
  const patch: ServiceSourcePatch = {};
  if (opts.rootDirectory !== undefined)
    patch.rootDirectory = opts.rootDirectory === '' ? null : opts.rootDirectory;
  if (opts.configPath !== undefined) patch.configPath = opts.configPath === '' ? null : opts.configPath;
  if (opts.repo !== undefined) patch.repoUrl = opts.repo === '' ? null : opts.repo;
  if (opts.branch !== undefined) patch.repoBranch = opts.branch === '' ? null : opts.branch;
  if (opts.waitForChecks !== undefined) patch.waitForChecks = opts.waitForChecks;
  return patch;
}

function describe(s: ServiceSummary): string {
  const parts = [
    `root directory ${s.rootDirectory ?? '(repo root)'}`,
    `config path ${s.configPath ?? '(railway.toml in the root directory)'}`,
  ];
  if (s.repoUrl) parts.push(`tracks ${s.repoUrl} (${s.repoBranch ?? 'default branch'})`);
  if (s.waitForChecks) parts.push('waits for checks');
  return parts.join(', ');
}

export function registerService(program: Command): void {
  const group = program
    .command('service')
    .description("list, inspect, change or delete a project's services");
  registerServiceInspect(group);
  registerServiceDelete(group);
  settingsOptions(
    sourceOptions(
      withContextOptions(
        group
          .command('update')
          .description(
            'set where the service lives in the repository (git pushes deploy every service that has a root directory or config path), and its build and deploy settings in this environment (a committed railway.toml/json wins over each; they apply from the next deployment)',
          )
          .option('--json', 'print the server’s answers unchanged'),
      ),
    ),
  ).action(async (opts: ContextFlags & SourceFlags & SettingsFlags & JsonFlag) => {
    const target = resolveTarget(contextFlags(opts));
    const patch = sourcePatch(opts);
    const settings = settingsPatch(opts);
    if (Object.keys(patch).length === 0 && Object.keys(settings).length === 0) {
      throw new CliError(
        'Pass --root-directory, --config-path, --repo, --branch, --[no-]wait-for-checks, --start-command, --build-command, --pre-deploy-command, --cron, --healthcheck-path, --replicas or --watch-patterns to say what to change',
      );
    }
    const client = makeClient();
    const updated =
      Object.keys(patch).length > 0
        ? await client.updateService(target.project, target.service, patch)
        : null;
    const set = Object.keys(settings).length > 0 ? await client.setServiceSettings(target, settings) : null;
    if (opts.json) {
      // One answer as before when only source settings change; both when settings change too.
      printJson(set && updated ? { service: updated, settings: set } : (updated ?? set));
      return;
    }
    if (updated) print(`Updated service ${updated.name}: ${describe(updated)}`);
    if (set) {
      print(
        `Settings of ${target.service} in ${target.environment}: ${describeSettings(set)} (from the next deployment; railway.toml/json wins where it sets the same key)`,
      );
    }
  });

  withContextOptions(
    program
      .command('webhook')
      .description(
        "show or set the project's GitHub webhook: its URL, secret (HMAC-SHA256) and where commit statuses go",
      )
      .option('--secret <secret>', 'the webhook secret GitHub signs with (at least 16 characters)')
      .option('--generate-secret', 'generate a strong secret and print it once')
      .option('--status-url <url>', 'POST commit statuses (preview URLs) here ("" stops it)')
      .option(
        '--fork-prs <mode>',
        "pull requests from forks: skip (default) or build a preview that gets none of the base environment's variables",
      )
      .option('--json', 'print the server’s answer unchanged'),
  ).action(
    async (
      opts: ContextFlags &
        JsonFlag & { secret?: string; generateSecret?: boolean; statusUrl?: string; forkPrs?: string },
    ) => {
      const project = requireProject(resolvePartialTarget(contextFlags(opts)));
      if (opts.forkPrs !== undefined && opts.forkPrs !== 'build' && opts.forkPrs !== 'skip') {
        throw new CliError(`--fork-prs takes "build" or "skip", not "${opts.forkPrs}"`);
      }
      const forkPrs = opts.forkPrs as 'build' | 'skip' | undefined;
      const patch =
        opts.secret !== undefined || opts.generateSecret || opts.statusUrl !== undefined || forkPrs
          ? {
              ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
              ...(opts.generateSecret ? { generateSecret: true } : {}),
              ...(opts.statusUrl !== undefined
                ? { statusUrl: opts.statusUrl === '' ? null : opts.statusUrl }
                : {}),
              ...(forkPrs ? { forkPrs } : {}),
            }
          : undefined;
      const s = await makeClient().webhookSettings(project, patch);
      if (opts.json) {
        printJson(s);
        return;
      }
      print(
        `GitHub webhook URL: ${s.webhookUrl} (content type application/json; events: push, pull_request, status, check_suite)`,
      );
      print(
        `GitLab webhook URL: ${s.gitlabWebhookUrl} (the secret as its token; push, merge request, pipeline events)`,
      );
      print(
        s.secret
          ? `Secret (shown once): ${s.secret}`
          : `Secret: ${s.secretSet ? 'set' : 'not set; pass --secret or --generate-secret'}`,
      );
      print(`Commit statuses: ${s.statusUrl ?? 'not reported (pass --status-url)'}`);
      print(
        s.forkPrs === 'build'
          ? "Pull requests from forks: built, in previews without the base environment's variables"
          : 'Pull requests from forks: skipped (pass --fork-prs build to preview them without variables)',
      );
    },
  );
}
