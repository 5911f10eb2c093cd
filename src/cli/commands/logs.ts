import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { type ContextFlags, resolveTarget } from '../context.js';
import { CliError } from '../errors.js';
import { formatLogEvent, print } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, positiveInt, withContextOptions } from './shared.js';

interface LogsFlags extends ContextFlags, JsonFlag {
  build?: boolean;
  follow?: boolean;
  lines?: number;
}

/** The service's latest SUCCESS deployment, else its latest one. */
async function defaultDeployment(client: ApiClient, flags: ContextFlags): Promise<string> {
  const target = resolveTarget(flags);
  const list = await client.deployments(target, 100);
  const chosen = list.find((d) => d.status === 'SUCCESS') ?? list[0];
  if (!chosen) {
    throw new CliError(`Service ${target.service} has no deployments yet; deploy it with \`berth up\``);
  }
  return chosen.id;
}

export function registerLogs(program: Command): void {
  withContextOptions(
    program
      .command('logs')
      .description("print a deployment's logs (default: the latest successful deployment's runtime logs)")
      .argument('[deployment]', 'deployment id')
      .option('-b, --build', 'show the build log instead of the runtime log')
      .option('-f, --follow', 'keep streaming new lines')
      .option('-n, --lines <n>', 'how many of the last lines to show (default 200)', positiveInt)
      .option('--json', 'print NDJSON lines as the server sends them'),
  ).action(async (deploymentArg: string | undefined, opts: LogsFlags) => {
    const client = makeClient();
    const id = deploymentArg ?? (await defaultDeployment(client, contextFlags(opts)));
    const stream = client.logs(id, {
      build: opts.build,
      deploy: !opts.build,
      lines: opts.lines,
      follow: opts.follow,
    });
    for await (const { raw, event } of stream) {
      if (opts.json) print(raw);
      else print(event ? formatLogEvent(event, { prefixBuild: false }) : raw);
    }
  });
}
