import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { type ContextFlags, resolveTarget, type Target } from '../context.js';
import { CliError } from '../errors.js';
import { formatLogEvent, print, printJsonLine, style } from '../output.js';
import {
  contextFlags,
  type JsonFlag,
  makeClient,
  positiveInt,
  serviceKind,
  withContextOptions,
} from './shared.js';

interface LogsFlags extends ContextFlags, JsonFlag {
  build?: boolean;
  follow?: boolean;
  lines?: number;
  http?: boolean;
  status?: string;
  path?: string;
  method?: string;
  requestId?: string;
}

const HTTP_ONLY = ['status', 'path', 'method', 'requestId'] as const;

/** `berth logs --http`: the service's access log through the edge, oldest of the last N first (like tail). */
async function httpLogs(client: ApiClient, opts: LogsFlags): Promise<void> {
  if (opts.build || opts.follow) {
    throw new CliError(
      '--http shows the access log, which has no build part and cannot be followed yet; drop --build/--follow',
    );
  }
  const entries = await client.httpLogs(resolveTarget(contextFlags(opts)), {
    limit: opts.lines ?? 100,
    status: opts.status,
    path: opts.path,
    method: opts.method,
    requestId: opts.requestId,
  });
  if (opts.json) {
    for (const e of entries.reverse()) printJsonLine(e);
    return;
  }
  for (const e of entries.reverse()) {
    print(
      `${e.time} ${e.method} ${e.path} ${e.status} ${e.durationMs}ms ${e.bytesOut}B ${e.requestId} ${style.dim(e.ip)}`,
    );
  }
}

/** A data service's engine output (PostgreSQL's log), oldest of the last N first; -f keeps streaming. */
async function dataLogs(client: ApiClient, target: Target, opts: LogsFlags): Promise<void> {
  if (opts.build) {
    throw new CliError(`${target.service} is a database: its log has no build part; drop --build`);
  }
  for await (const { raw, event } of client.dataLogs(target, {
    lines: opts.lines ?? 200,
    follow: opts.follow,
  })) {
    if (opts.json) print(raw);
    else print(event ? formatLogEvent(event, { prefixBuild: false }) : raw);
  }
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
      .option(
        '-n, --lines <n>',
        'how many of the last lines to show (default 200; 100 with --http)',
        positiveInt,
      )
      .option('--http', "show the service's access log (requests through the edge) instead")
      .option('--status <status>', 'with --http: a status class (5xx) or code (404)')
      .option('--path <prefix>', 'with --http: requests whose path starts with this')
      .option('--method <method>', 'with --http: requests with this method')
      .option('--request-id <id>', 'with --http: the request with this X-Request-Id')
      .option('--json', 'print NDJSON lines as the server sends them'),
  ).action(async (deploymentArg: string | undefined, opts: LogsFlags) => {
    const client = makeClient();
    if (opts.http) {
      if (deploymentArg !== undefined) {
        throw new CliError(
          "--http shows a service's access log, not a deployment's; leave out the deployment id",
        );
      }
      return httpLogs(client, opts);
    }
    const stray = HTTP_ONLY.find((k) => opts[k] !== undefined);
    if (stray !== undefined) {
      throw new CliError(
        `--${stray === 'requestId' ? 'request-id' : stray} filters the access log; add --http`,
      );
    }
    if (deploymentArg === undefined) {
      const target = resolveTarget(contextFlags(opts));
      if ((await serviceKind(client, target)) !== 'app') return dataLogs(client, target, opts);
    }
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
