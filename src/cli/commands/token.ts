import type { Command } from 'commander';
import { type ContextFlags, readConfig, requireProject, resolvePartialTarget } from '../context.js';
import { formatAge, print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/**
 * `token create|list|delete`: project tokens for CI, Railway's RAILWAY_TOKEN. A token deploys and reads one
 * environment of one project; `BERTH_TOKEN=<it>` (or `RAILWAY_TOKEN`) and `berth up -s api` need no link or -p.
 */
export function registerToken(program: Command): void {
  const group = program
    .command('token')
    .description('project tokens for CI: deploy and read one environment of one project');

  withContextOptions(
    group
      .command('create')
      .description('create a token for an environment (default production); it is printed once')
      .option('--name <name>', 'a name to tell tokens apart (default: environment and date)')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: ContextFlags & JsonFlag & { name?: string }) => {
    const config = readConfig();
    const t = resolvePartialTarget(contextFlags(opts), config);
    const created = await makeClient(config).createToken(requireProject(t), {
      environment: t.environment,
      name: opts.name,
    });
    if (opts.json) return printJson(created);
    print(created.token);
    process.stderr.write(
      `Token "${created.name}" for the ${created.environment} environment; it is not shown again. Use it as BERTH_TOKEN (or RAILWAY_TOKEN) in CI.\n`,
    );
  });

  withContextOptions(
    group
      .command('list')
      .description("the project's tokens (names and environments, never the secrets)")
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const config = readConfig();
    const tokens = await makeClient(config).listTokens(
      requireProject(resolvePartialTarget(contextFlags(opts), config)),
    );
    if (opts.json) return printJson(tokens);
    if (tokens.length === 0)
      return print('No tokens yet; create one with `berth token create -e <environment>`');
    printTable(
      ['name', 'environment', 'created', 'last used', 'id'],
      tokens.map((t) => [
        t.name,
        t.environment,
        formatAge(t.createdAt),
        t.lastUsedAt ? formatAge(t.lastUsedAt) : 'never',
        t.id,
      ]),
    );
  });

  withContextOptions(
    group.command('delete').description('revoke a token at once').argument('<token>', 'its name or id'),
  ).action(async (token: string, opts: ContextFlags) => {
    const config = readConfig();
    await makeClient(config).deleteToken(
      requireProject(resolvePartialTarget(contextFlags(opts), config)),
      token,
    );
    print(`Revoked token ${token}`);
  });
}
