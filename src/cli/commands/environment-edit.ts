import type { Command } from 'commander';
import type { ServiceSettingsPatch } from '../client.js';
import { readConfig, requireProject, resolvePartialTarget } from '../context.js';
import { CliError } from '../errors.js';
import { print, printJson } from '../output.js';
import { type JsonFlag, makeClient } from './shared.js';

/**
 * `environment edit --service-config SERVICE PATH VALUE`: Railway's dot paths for the settings Berth stores per
 * service and environment (the same ones `berth service update` sets).
 */

type SettingKey = keyof ServiceSettingsPatch;
type Kind = 'text' | 'list' | 'integer';

/** Railway's dot path → Berth's setting and how its value is read. */
export const SERVICE_CONFIG_PATHS: Record<string, [SettingKey, Kind]> = {
  'build.buildCommand': ['buildCommand', 'text'],
  'build.watchPatterns': ['watchPatterns', 'list'],
  'deploy.startCommand': ['startCommand', 'text'],
  'deploy.preDeployCommand': ['preDeployCommand', 'list'],
  'deploy.cronSchedule': ['cronSchedule', 'text'],
  'deploy.healthcheckPath': ['healthcheckPath', 'text'],
  'deploy.numReplicas': ['numReplicas', 'integer'],
};

/** "" or null clears; a list takes a JSON array or one item; an integer takes digits. */
function parseValue(dotPath: string, kind: Kind, value: string): string | string[] | number | null {
  if (value === '' || value === 'null') return null;
  if (kind === 'integer') {
    if (!/^\d+$/.test(value)) throw new CliError(`${dotPath} takes a whole number, not "${value}"`);
    return Number(value);
  }
  if (kind === 'list') {
    if (!value.trimStart().startsWith('[')) return [value];
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new CliError(`${dotPath} takes a JSON array of strings or one string, not ${value}`);
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      throw new CliError(`${dotPath} takes a JSON array of strings or one string, not ${value}`);
    }
    return parsed.length === 0 ? null : parsed;
  }
  return value;
}

/** Groups `SERVICE PATH VALUE` triples into one settings patch per service, in the order given. */
export function serviceConfigPatches(args: string[]): Map<string, ServiceSettingsPatch> {
  if (args.length === 0 || args.length % 3 !== 0) {
    throw new CliError(
      'Pass --service-config as SERVICE PATH VALUE, like --service-config web deploy.startCommand "node server.js"',
    );
  }
  const patches = new Map<string, ServiceSettingsPatch>();
  for (let i = 0; i < args.length; i += 3) {
    const [service, dotPath, value] = args.slice(i, i + 3);
    const known = SERVICE_CONFIG_PATHS[dotPath];
    if (!known) {
      throw new CliError(
        `Berth does not store ${dotPath}; the paths it takes are ${Object.keys(SERVICE_CONFIG_PATHS).join(', ')} (set the rest in railway.toml)`,
      );
    }
    const patch = patches.get(service) ?? {};
    Object.assign(patch, { [known[0]]: parseValue(dotPath, known[1], value) });
    patches.set(service, patch);
  }
  return patches;
}

export function registerEnvironmentEdit(group: Command): void {
  group
    .command('edit')
    .description("change services' settings in an environment by Railway's dot paths (from the next deploy)")
    .option('-p, --project <project>', 'project name or id (default: the linked project)')
    .option('-e, --environment <environment>', 'the environment (default: the linked one, else production)')
    .option('--service-config <args...>', 'SERVICE PATH VALUE, e.g. web deploy.startCommand "node server.js"')
    .option('--json', 'print the settings of each service changed')
    .action(
      async (
        opts: JsonFlag & { project?: string; environment?: string; serviceConfig?: string[] },
        cmd: Command,
      ) => {
        const { project: groupProject } = cmd.optsWithGlobals<{ project?: string }>();
        const config = readConfig();
        const t = resolvePartialTarget(
          { project: opts.project ?? groupProject, environment: opts.environment },
          config,
        );
        const project = requireProject(t);
        const patches = serviceConfigPatches(opts.serviceConfig ?? []);
        const client = makeClient(config);
        const results: Record<string, unknown> = {};
        for (const [service, patch] of patches) {
          const settings = await client.setServiceSettings(
            { project, environment: t.environment, service },
            patch,
          );
          results[service] = settings;
          if (!opts.json) {
            const set = Object.entries(settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
            print(
              `Settings of ${service} in ${t.environment}: ${set.length ? set.join(', ') : 'none set'} (from the next deployment)`,
            );
          }
        }
        if (opts.json) printJson(results);
      },
    );
}
