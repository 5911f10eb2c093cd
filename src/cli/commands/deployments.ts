import type { Command } from 'commander';
import type { DeploymentSummary } from '../client.js';
import { type ContextFlags, resolveTarget } from '../context.js';
import { formatAge, print, printJson, printTable } from '../output.js';
import { redeployCommand } from './lifecycle.js';
import { contextFlags, type JsonFlag, makeClient, positiveInt, withContextOptions } from './shared.js';
import { upCommand } from './up.js';

interface ListFlags extends ContextFlags, JsonFlag {
  limit?: number;
}

async function listDeployments(opts: ListFlags): Promise<void> {
  const target = resolveTarget(contextFlags(opts));
  const list = await makeClient().deployments(target, opts.limit ?? 20);
  if (opts.json) {
    printJson(
      list.map((d) => ({
        id: d.id,
        status: d.status,
        createdAt: d.createdAt,
        reason: d.reason ?? null,
        gitSha: d.gitSha ?? null,
        gitBranch: d.gitBranch ?? null,
        gitMessage: d.gitMessage ?? null,
        message: d.message ?? null,
      })),
    );
    return;
  }
  if (list.length === 0) {
    print(`Service ${target.service} has no deployments yet; deploy it with \`berth up\``);
    return;
  }
  printTable(
    ['id', 'status', 'created', 'kind', 'commit / message', 'reason'],
    list.map((d) => [d.id, d.status, formatAge(d.createdAt), d.kind, commitText(d), d.reason]),
  );
}

/** `a1b2c3d main "Fix login"`, the subject cut to fit a table; an upload's `-m` message otherwise. */
function commitText(d: DeploymentSummary): string {
  if (!d.gitSha) return d.message && d.kind === 'up' ? `"${cut(d.message.split('\n')[0])}"` : '';
  const subject = cut((d.gitMessage ?? '').split('\n')[0]);
  return `${d.gitSha.slice(0, 7)} ${d.gitBranch ?? ''}${subject ? ` "${subject}"` : ''}`;
}

const cut = (text: string) => (text.length > 40 ? `${text.slice(0, 39)}…` : text);

function listCommand(cmd: Command): Command {
  return withContextOptions(
    cmd
      .option(
        '--json',
        'print [{"id","status","createdAt","reason","gitSha","gitBranch","gitMessage","message"}] newest first',
      )
      .option('--limit <n>', 'how many deployments to show (default 20)', positiveInt),
  ).action(listDeployments);
}

export function registerDeployments(program: Command): void {
  listCommand(program.command('deployments').description("list the service's deployments, newest first"));

  const group = program.command('deployment').description('list, start, redeploy or cancel deployments');
  upCommand(group.command('up'));
  redeployCommand(group.command('redeploy'));
  listCommand(
    group
      .command('list', { isDefault: true })
      .alias('ls')
      .description("list the service's deployments, newest first"),
  );
  withContextOptions(
    group
      .command('cancel')
      .description('cancel a queued, building or deploying deployment')
      .argument('<deployment>', 'deployment id'),
  ).action(async (id: string) => {
    const res = await makeClient().cancel(id);
    print(`Cancelled deployment ${res.id} (now ${res.status})`);
  });
}
