import type { Command } from 'commander';
import type { ServiceDomains } from '../client.js';
import { type ContextFlags, resolveTarget } from '../context.js';
import { formatAge, print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/** `domain [DOMAIN]` (show the generated domain, or add a custom one), `domain list`, `domain delete DOMAIN`. */

function targetOf(cmd: Command) {
  return resolveTarget(contextFlags(cmd.optsWithGlobals<ContextFlags>()));
}

function printDomains(d: ServiceDomains): void {
  printTable(
    ['domain', 'kind', 'url', 'added'],
    [
      [d.generated.hostname, 'generated', d.generated.url, ''],
      ...d.custom.map((c) => [c.hostname, 'custom', c.url, formatAge(c.createdAt)]),
    ],
  );
}

export function registerDomain(program: Command): void {
  const group = withContextOptions(
    program
      .command('domain')
      .description("show the service's generated domain, or add a custom domain to it")
      .argument('[domain]', 'a custom domain to add, like shop.example.com')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (domain: string | undefined, opts: JsonFlag, cmd: Command) => {
    const t = targetOf(cmd);
    const client = makeClient();
    if (!domain) {
      const d = await client.domains(t);
      if (opts.json) printJson(d);
      else print(d.generated.url);
      return;
    }
    const d = await client.addDomain(t, domain);
    if (opts.json) {
      printJson(d);
      return;
    }
    const added = d.custom.find((c) => c.hostname === domain.trim().replace(/\.$/, '').toLowerCase());
    print(`Added ${added?.hostname ?? domain} to ${t.service} (${t.environment}): ${added?.url ?? ''}`);
    print(`Point its DNS (an A/AAAA record, or a CNAME to ${d.generated.hostname}) at this server.`);
  });

  withContextOptions(
    group
      .command('list')
      .description("the service's generated and custom domains")
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: JsonFlag, cmd: Command) => {
    const d = await makeClient().domains(targetOf(cmd));
    if (opts.json) printJson(d);
    else printDomains(d);
  });

  withContextOptions(
    group
      .command('delete')
      .alias('remove')
      .description('remove a custom domain')
      .argument('<domain>', 'the domain'),
  ).action(async (domain: string, _opts: unknown, cmd: Command) => {
    const t = targetOf(cmd);
    await makeClient().deleteDomain(t, domain);
    print(`Removed ${domain} from ${t.service} (${t.environment})`);
  });
}
