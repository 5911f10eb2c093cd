import { type Command, InvalidArgumentError } from 'commander';
import { ApiClient } from '../client.js';
import {
  type CliConfig,
  type ContextFlags,
  dataDir,
  readConfig,
  resolveToken,
  resolveUrl,
} from '../context.js';
import { CliError } from '../errors.js';

/** Pieces every command file uses: the -p/-e/-s flags, an API client, number parsing. */

export interface JsonFlag {
  json?: boolean;
}

export function withContextOptions(cmd: Command): Command {
  return cmd
    .option('-p, --project <project>', 'project name or id (default: the linked project)')
    .option(
      '-e, --environment <environment>',
      'environment name or id (default: the linked one, else production)',
    )
    .option('-s, --service <service>', 'service name or id (default: the linked service)');
}

export function contextFlags(opts: ContextFlags): ContextFlags {
  return { project: opts.project, environment: opts.environment, service: opts.service };
}

export function makeClient(config: CliConfig = readConfig()): ApiClient {
  const { url } = resolveUrl(config);
  return new ApiClient(url, resolveToken(config), dataDir());
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Expected a positive whole number.');
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new InvalidArgumentError('Expected a port number between 0 and 65535.');
  }
  return n;
}

/** A service's kind (app, or a data service's engine), from the environment's status (project tokens reach it). */
export async function serviceKind(
  client: ApiClient,
  t: { project: string; environment: string; service: string },
): Promise<string> {
  const status = await client.status(t.project, t.environment);
  const s = status.services.find((x) => x.name === t.service);
  return s?.kind ?? 'app';
}

/** The environment's database when none is named: the only non-app service, else a sentence. */
export async function pickDatabase(
  client: ApiClient,
  project: string,
  environment: string,
  engine?: string,
): Promise<string> {
  const status = await client.status(project, environment);
  const databases = status.services.filter(
    (s) => s.kind && s.kind !== 'app' && s.kind !== 'bucket' && (!engine || s.kind === engine),
  );
  if (databases.length === 1) return databases[0].name;
  if (databases.length === 0) {
    throw new CliError(
      `Environment ${environment} of project ${project} has no ${engine ?? 'database'}; add one with \`berth add --database ${engine ?? 'postgres'}\``,
    );
  }
  throw new CliError(
    `Environment ${environment} has several databases (${databases.map((d) => d.name).join(', ')}); name one with --service, e.g. --service ${databases[0].name}`,
  );
}
