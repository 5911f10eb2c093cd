import type { Command } from 'commander';
import { ApiClient } from '../client.js';
import { adminTokenPath, dataDir, readConfig, resolveToken, resolveUrl, updateConfig } from '../context.js';
import { CliError } from '../errors.js';
import { print } from '../output.js';
import { withContextOptions } from './shared.js';

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
    await client.listProjects();
    // Only what was passed explicitly is saved: a default URL stays a default (so `up` can autostart).
    updateConfig((c) => {
      if (opts.url) c.url = url;
      if (opts.token) c.token = opts.token;
    });
    print(`Logged in to ${url}`);
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
