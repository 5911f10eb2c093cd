import type { Command } from 'commander';
import type { ServiceSourcePatch, ServiceSummary } from '../client.js';
import { type ContextFlags, resolveTarget } from '../context.js';
import { CliError } from '../errors.js';
import { print, printJson } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/** `service update`: where a service lives in a (mono)repository. */

export interface SourceFlags {
  rootDirectory?: string;
  configPath?: string;
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
    );
}

/** Empty strings clear a setting; options not given stay as they are. */
export function sourcePatch(opts: SourceFlags): ServiceSourcePatch {
  const patch: ServiceSourcePatch = {};
  if (opts.rootDirectory !== undefined)
    patch.rootDirectory = opts.rootDirectory === '' ? null : opts.rootDirectory;
  if (opts.configPath !== undefined) patch.configPath = opts.configPath === '' ? null : opts.configPath;
  return patch;
}

function describe(s: ServiceSummary): string {
  return `root directory ${s.rootDirectory ?? '(repo root)'}, config path ${s.configPath ?? '(railway.toml in the root directory)'}`;
}

export function registerService(program: Command): void {
  const group = program.command('service').description("change a service's settings");
  sourceOptions(
    withContextOptions(
      group
        .command('update')
        .description(
          'set where the service lives in the repository: git pushes deploy every service that has a root directory or config path',
        )
        .option('--json', 'print the server’s answer unchanged'),
    ),
  ).action(async (opts: ContextFlags & SourceFlags & JsonFlag) => {
    const target = resolveTarget(contextFlags(opts));
    const patch = sourcePatch(opts);
    if (Object.keys(patch).length === 0) {
      throw new CliError('Pass --root-directory and/or --config-path to say what to change');
    }
    const updated = await makeClient().updateService(target.project, target.service, patch);
    if (opts.json) printJson(updated);
    else print(`Updated service ${updated.name}: ${describe(updated)}`);
  });
}
