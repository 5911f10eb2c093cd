import type { Command } from 'commander';
import { type ContextFlags, resolveTarget } from '../context.js';
import { print, printJson } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, positiveInt, withContextOptions } from './shared.js';

interface ScaleFlags extends ContextFlags, JsonFlag {
  replicas: number;
}

/** `berth scale --replicas N`: the active deployment's replicas, without a redeploy. */
export function registerScale(program: Command): void {
  withContextOptions(
    program
      .command('scale')
      .description(
        'add or remove replicas of the active deployment without a redeploy (new ones are health-gated, removed ones drain)',
      )
      .requiredOption('--replicas <n>', 'how many replicas to run', positiveInt)
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: ScaleFlags) => {
    const res = await makeClient().scale(resolveTarget(contextFlags(opts)), opts.replicas);
    if (opts.json) printJson(res);
    else print(`${res.running}/${res.desired} replicas running (deployment ${res.deploymentId})`);
  });
}
