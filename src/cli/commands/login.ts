import type { Command } from 'commander';
import { ApiClient, type Whoami } from '../client.js';
import { adminTokenPath, dataDir, readConfig, resolveToken, resolveUrl, updateConfig } from '../context.js';
import { CliError } from '../errors.js';
import { print, printJson } from '../output.js';
import { type JsonFlag, makeClient, withContextOptions } from './shared.js';

interface LoginFlags {
  url?: string;
  token?: string;
}

export function registerLogin(program: Command): void {
  withContextOptions(
    program
      .command('login')
      .description('save the server URL and API token (checked against the server first)')
      .option('--url <url>', 'server URL, e.g. http://my-host:7070')
      .option(
        '--token <token>',
        'API token (a local server writes its admin token to <data-dir>/admin-token)',
      ),
  ).action(async (opts: LoginFlags) => {
    const config = readConfig();
    let url = resolveUrl(config).url;
    if (opts.url) {
      try {
        url = new URL(opts.url).href.replace(/\/+$/, '');
      } catch {
        throw new CliError(`The URL "${opts.url}" is not valid; pass something like http://127.0.0.1:7070`);
      }
    }
    const token = opts.token ?? resolveToken(config);
    if (!token) {
      throw new CliError(`Pass --token <token> (a local server's admin token is in ${adminTokenPath()})`);
    }
    const client = new ApiClient(url, token, dataDir());
    // A bad token answers 401, which the client reports as "The token was rejected by <url>; …".
    const who = await client.whoami();
    // Only what was passed explicitly is saved: a default URL stays a default (so `up` can autostart).
    updateConfig((c) => {
      if (opts.url) c.url = url;
      if (opts.token) c.token = opts.token;
    });
    print(`Logged in to ${url} (${describeToken(who)})`);
  });

  program
    .command('whoami')
    .description('which server and token the CLI uses, and what the token may reach')
    .option('--json', 'print the server’s JSON answer')
    .action(async (opts: JsonFlag) => {
      const config = readConfig();
      const who = await makeClient(config).whoami();
      if (opts.json) return printJson(who);
      print(`${describeToken(who)} on ${resolveUrl(config).url}`);
    });

  withContextOptions(program.command('logout').description('forget the saved server URL and token')).action(
    () => {
      updateConfig((c) => {
        delete c.url;
        delete c.token;
      });
      print('Logged out');
    },
  );
}

function describeToken(who: Whoami): string {
  return who.kind === 'admin'
    ? 'admin token'
    : `project token "${who.token}" for the ${who.environment} environment of ${who.project}`;
}
