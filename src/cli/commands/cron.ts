import type { Command } from 'commander';
import type { CronRun } from '../client.js';
import { type ContextFlags, resolveTarget } from '../context.js';
import { print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, positiveInt, withContextOptions } from './shared.js';

interface RunsFlags extends ContextFlags, JsonFlag {
  limit?: number;
}

function duration(run: CronRun): string {
  if (!run.endedAt) return 'running';
  const ms = Date.parse(run.endedAt) - Date.parse(run.startedAt);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `berth cron runs | trigger`: the records of a cron service's runs, and one run now. */
export function registerCron(program: Command): void {
  const cron = program.command('cron').description("a cron service's runs: list them, or start one now");

  withContextOptions(
    cron
      .command('runs')
      .description('list the runs of a cron service, newest first (start, end, exit code, trigger, why)')
      .option('--limit <n>', 'how many runs to show (default 50)', positiveInt)
      .option('--json', 'print the server’s JSON answer (with each run’s last output lines)'),
  ).action(async (opts: RunsFlags) => {
    const runs = await makeClient().cronRuns(resolveTarget(contextFlags(opts)), opts.limit);
    if (opts.json) return printJson(runs);
    if (runs.length === 0) return print('No runs yet');
    printTable(
      ['started', 'trigger', 'status', 'exit', 'took', 'reason'],
      runs.map((r) => [r.startedAt, r.trigger, r.status, r.exitCode ?? '', duration(r), r.reason]),
    );
  });

  withContextOptions(
    cron
      .command('trigger')
      .description("run a cron service's start command once now, recorded as a manual run")
      .option('--json', 'print the run’s record as JSON'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const run = await makeClient().cronTrigger(resolveTarget(contextFlags(opts)));
    if (opts.json) printJson(run);
    else if (run.status === 'skipped') print(`Run skipped: ${run.reason}`);
    else print(`Run ${run.id} started; see it with \`berth cron runs\``);
    if (run.status === 'skipped' || run.status === 'failed') process.exitCode = 1;
  });
}
