import type { Command } from 'commander';
import { type ContextFlags, resolveTarget } from '../context.js';
import { followDeployment, waitForRestart } from '../follow.js';
import { print, printJsonLine } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, serviceKind, withContextOptions } from './shared.js';

/** rollback, redeploy, restart: POST the route, then follow like `up` unless --detach. */

interface LifecycleFlags extends ContextFlags, JsonFlag {
  detach?: boolean;
  yes?: boolean;
}

function common(cmd: Command): Command {
  return withContextOptions(
    cmd
      .option('-d, --detach', 'return right away instead of following the deployment')
      .option('--json', 'print NDJSON events instead of formatted lines'),
  );
}

async function follow(deploymentId: string, opts: LifecycleFlags, verb: string): Promise<void> {
  const client = makeClient();
  if (opts.json) printJsonLine({ type: 'deployment', deploymentId });
  else print(`${verb} deployment ${deploymentId}`);
  if (opts.detach) return;
  const result = await followDeployment(client, deploymentId, { json: opts.json });
  process.exitCode = result.exitCode;
}

/** `redeploy` and its alias `deployment redeploy`. */
export function redeployCommand(cmd: Command): Command {
  return common(
    cmd
      .description("build and deploy the latest deployment's source again")
      .option(
        '-y, --yes',
        'do not ask for confirmation (berth never asks; accepted for Railway compatibility)',
      ),
  ).action(async (opts: LifecycleFlags) => {
    const res = await makeClient().redeploy(resolveTarget(contextFlags(opts)));
    await follow(res.deploymentId, opts, 'Redeploying as');
  });
}

export function registerLifecycle(program: Command): void {
  common(
    program
      .command('rollback')
      .description('deploy an earlier deployment again (default: the previous successful one)')
      .argument('[deployment]', 'deployment id to roll back to'),
  ).action(async (deploymentId: string | undefined, opts: LifecycleFlags) => {
    const res = await makeClient().rollback(resolveTarget(contextFlags(opts)), deploymentId);
    await follow(res.deploymentId, opts, 'Rolling back with');
  });

  redeployCommand(program.command('redeploy'));

  common(
    program
      .command('restart')
      .description("restart the active deployment's replicas one at a time, without a rebuild"),
  ).action(async (opts: LifecycleFlags) => {
    const client = makeClient();
    const target = resolveTarget(contextFlags(opts));
    if ((await serviceKind(client, target)) !== 'app') {
      // A database restarts in place: fast shutdown, then start; the answer comes once it accepts connections.
      const ds = await client.restartDataService(target);
      if (opts.json) printJsonLine({ type: 'data-service', ...ds });
      else print(ds.message ?? `${ds.service} restarted`);
      return;
    }
    const res = await client.restart(target);
    if (opts.json) printJsonLine({ type: 'deployment', deploymentId: res.deploymentId });
    else print(`Restarting deployment ${res.deploymentId}`);
    if (opts.detach) return;
    // A server may restart by rolling out a new deployment (follow it like `up`) or restart the
    // active one's replicas in place (it stays SUCCESS: wait until every replica runs again).
    const detail = await client.deployment(res.deploymentId);
    const result =
      detail.status === 'SUCCESS'
        ? await waitForRestart(client, res.deploymentId, { json: opts.json })
        : await followDeployment(client, res.deploymentId, { json: opts.json });
    process.exitCode = result.exitCode;
  });
}
