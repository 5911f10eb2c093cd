import type { Command } from 'commander';
import { type ContextFlags, resolveTarget } from '../context.js';
import { formatAge, print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, positiveInt, withContextOptions } from './shared.js';

interface ListFlags extends ContextFlags, JsonFlag {
  limit?: number;
}

async function listDeployments(opts: ListFlags): Promise<void> {
  const target = resolveTarget(contextFlags(opts));
  const list = await makeClient().deployments(target, opts.limit ?? 20);
  if (opts.json) {
    printJson(
      list.map((d) => ({ id: d.id, status: d.status, createdAt: d.createdAt, reason: d.reason ?? null })),
    );
    return;
  }
  if (list.length === 0) {
    print(`Service ${target.service} has no deployments yet; deploy it with \`berth up\``);
    return;
  }
  printTable(
    ['id', 'status', 'created', 'kind', 'reason'],
    list.map((d) => [d.id, d.status, formatAge(d.createdAt), d.kind, d.reason]),
  );
}

function listCommand(cmd: Command): Command {
  return withContextOptions(
    cmd
      .option('--json', 'print [{"id","status","createdAt","reason"}] newest first')
      .option('--limit <n>', 'how many deployments to show (default 20)', positiveInt),
  ).action(listDeployments);
}

export function registerDeployments(program: Command): void {
  listCommand(program.command('deployments').description("list the service's deployments, newest first"));

  const group = program.command('deployment').description('list or cancel deployments');
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
