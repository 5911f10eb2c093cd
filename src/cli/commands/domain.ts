import fs from 'node:fs';
import type { Command } from 'commander';
import { domainKey } from '../../api/contract/index.js';
import type { ServiceDomains } from '../client.js';
import { type ContextFlags, resolveTarget } from '../context.js';
import { CliError } from '../errors.js';
import { formatAge, print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/** `domain [DOMAIN]` (show the generated domain, or add a custom one), `domain list`, `domain delete DOMAIN`. */

function targetOf(cmd: Command) {
  return resolveTarget(contextFlags(cmd.optsWithGlobals<ContextFlags>()));
}

function certificateText(c: ServiceDomains['custom'][number]['certificate']): string {
  if (c === null) return 'HTTP only';
  if (c.status === 'issued') return `${c.source} until ${c.notAfter?.slice(0, 10)}`;
  if (c.status === 'failed') return `failed: ${c.error}`;
  if (c.status === 'pending') return 'being issued';
  return 'none (upload one with `berth domain cert`)';
}

function printDomains(d: ServiceDomains): void {
  const g = d.generated;
  printTable(
    ['domain', 'kind', 'url', 'certificate', 'added'],
    [
      [g.hostname, 'generated', g.httpsUrl ?? g.url, g.httpsUrl ? 'local CA' : 'HTTP only', ''],
      ...d.custom.map((c) => [
        c.hostname,
        'custom',
        c.httpsUrl ?? c.url,
        certificateText(c.certificate),
        formatAge(c.createdAt),
      ]),
    ],
  );
}

export function registerDomain(program: Command): void {
  const group = withContextOptions(
    program
      .command('domain')
      .description("show the service's generated domain, or add a custom domain to it")
      .argument('[domain]', 'a custom domain to add, like shop.example.com')
      .option(
        '--no-https-redirect',
        'keep answering plain HTTP on this domain instead of redirecting to HTTPS',
      )
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (domain: string | undefined, opts: JsonFlag & { httpsRedirect: boolean }, cmd: Command) => {
    const t = targetOf(cmd);
    const client = makeClient();
    if (!domain) {
      const d = await client.domains(t);
      if (opts.json) printJson(d);
      else print(d.generated.url);
      return;
    }
    const d = await client.addDomain(t, domain, opts.httpsRedirect);
    if (opts.json) {
      printJson(d);
      return;
    }
    const added = d.custom.find((c) => c.hostname === domainKey(domain));
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
      .command('cert')
      .description('serve a custom domain with your own certificate instead of an automatic one')
      .argument('<domain>', 'the custom domain')
      .requiredOption('--cert <file>', 'PEM certificate chain, leaf first')
      .requiredOption('--key <file>', 'PEM private key'),
  ).action(async (domain: string, opts: { cert: string; key: string }, cmd: Command) => {
    const t = targetOf(cmd);
    const read = (file: string, what: string) => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch (err) {
        const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new CliError(`Cannot read the ${what} file ${file}: ${why}`);
      }
    };
    const pem = { cert: read(opts.cert, 'certificate'), key: read(opts.key, 'key') };
    const d = await makeClient().uploadCertificate(t, domain, pem);
    const c = d.custom.find((x) => x.hostname === domainKey(domain));
    print(
      `${domain} now serves your certificate (valid until ${c?.certificate?.notAfter?.slice(0, 10)}): ${c?.httpsUrl ?? ''}`,
    );
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
