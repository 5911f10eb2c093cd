import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { type ContextFlags, requireProject, resolvePartialTarget, type Target } from '../context.js';
import { CliError } from '../errors.js';
import { printErr } from '../output.js';
import { contextFlags, makeClient, pickDatabase, withContextOptions } from './shared.js';

/**
 * `berth connect [SERVICE] [-- CLIENT_ARGS…]`: the user's own psql or redis-cli (by the database's engine)
 * against a database, through a tunnel over the API's authenticated HTTP connection (an Upgrade per client
 * connection), so the database port never has to be public. The CLI listens on an ephemeral loopback port and
 * points the client at it, the password in the client's environment (PGPASSWORD, REDISCLI_AUTH), not in argv.
 */

const TUNNEL_UPGRADE = 'berth-tcp';

export const PSQL_MISSING =
  'psql is not installed on this machine; install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client, macOS: brew install libpq) and run berth connect again';

export const REDIS_CLI_MISSING =
  'redis-cli is not installed on this machine; install the Redis client (Debian/Ubuntu: apt-get install redis-tools, macOS: brew install redis) and run berth connect again';

interface LocalClient {
  program: string;
  missing: string;
  args(port: number, userArgs: string[]): string[];
  env(port: number): Record<string, string>;
}

/** The local client for a database's engine, pointed at the tunnel's loopback port. */
export function localClient(
  engine: string,
  ds: { username: string; database: string },
  variables: Record<string, string>,
): LocalClient {
  if (engine === 'redis') {
    return {
      program: 'redis-cli',
      missing: REDIS_CLI_MISSING,
      args: (port, userArgs) => ['-h', '127.0.0.1', '-p', String(port), ...userArgs],
      env: () => ({ REDISCLI_AUTH: variables.REDISPASSWORD ?? '' }),
    };
  }
  return {
    program: 'psql',
    missing: PSQL_MISSING,
    args: (_port, userArgs) => userArgs,
    env: (port) => ({
      PGHOST: '127.0.0.1',
      PGPORT: String(port),
      PGUSER: variables.PGUSER ?? ds.username,
      PGPASSWORD: variables.PGPASSWORD ?? '',
      PGDATABASE: variables.PGDATABASE ?? ds.database,
      PGSSLMODE: 'disable',
      PGAPPNAME: 'berth connect',
    }),
  };
}

/** The first `name` on PATH that is executable, or null. */
export function findOnPath(name: string, pathVar = process.env.PATH ?? ''): string | null {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** psql's arguments: what follows `--` on the command line. */
export function splitConnectArgs(
  operands: string[],
  argv: string[],
): { service?: string; psqlArgs: string[] } {
  const dd = argv.indexOf('--');
  const psqlArgs = dd >= 0 ? argv.slice(dd + 1) : [];
  const before = operands.slice(0, Math.max(0, operands.length - psqlArgs.length));
  return { service: before[0], psqlArgs };
}

/** Opens one tunnel per local connection; the first refusal is reported through onError. */
function tunnelServer(client: ApiClient, t: Target, onError: (message: string) => void): net.Server {
  const base = new URL(client.url);
  const lib = base.protocol === 'https:' ? https : http;
  const seg = encodeURIComponent;
  const pathname = `${base.pathname.replace(/\/$/, '')}/v1/projects/${seg(t.project)}/environments/${seg(t.environment)}/services/${seg(t.service)}/connect`;
  return net.createServer((local) => {
    local.pause();
    local.on('error', () => local.destroy());
    const req = lib.request({
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port,
      path: pathname,
      method: 'GET',
      headers: { ...client.authHeaders(), connection: 'Upgrade', upgrade: TUNNEL_UPGRADE },
    });
    req.on('upgrade', (_res, remote, head) => {
      remote.on('error', () => local.destroy());
      remote.setNoDelay(true);
      if (head.length > 0) local.write(head);
      local.pipe(remote);
      remote.pipe(local);
      local.resume();
      local.once('close', () => remote.destroy());
      remote.once('close', () => local.destroy());
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        let message = `The Berth server answered HTTP ${res.statusCode} to the tunnel request`;
        try {
          const parsed = JSON.parse(body) as { error?: { message?: string } };
          if (parsed.error?.message) message = parsed.error.message;
        } catch {
          /* not JSON */
        }
        if (res.statusCode === 401) message = `The Berth server refused the token: ${message}`;
        onError(message);
        local.destroy();
      });
    });
    req.on('error', (err) => {
      onError(`The tunnel to ${client.url} failed: ${err.message}`);
      local.destroy();
    });
    req.end();
  });
}

export function registerConnect(program: Command): void {
  withContextOptions(
    program
      .command('connect')
      .description(
        "open psql (PostgreSQL) or redis-cli (Redis) against a database, tunnelled over the API's authenticated connection (arguments after -- go to the client, e.g. -- -c 'SELECT 1', or -- PING)",
      )
      .argument('[service]', 'the database service (default: the environment’s only database)')
      .argument('[clientArgs...]', 'after --: arguments for psql or redis-cli')
      .allowExcessArguments(true),
  ).action(async (service: string | undefined, rest: string[], opts: ContextFlags) => {
    const split = splitConnectArgs(
      [service, ...rest].filter((x): x is string => x !== undefined),
      process.argv,
    );
    const partial = resolvePartialTarget({ ...contextFlags(opts), service: undefined });
    const project = requireProject(partial);
    const client = makeClient();
    const name = split.service ?? opts.service ?? (await pickDatabase(client, project, partial.environment));
    const target: Target = { project, environment: partial.environment, service: name };
    const ds = await client.dataService(target);
    const variables = await client.variables(target);
    const local = localClient(ds.engine, ds, variables);
    const program = findOnPath(local.program);
    if (!program) throw new CliError(local.missing);
    let refused: string | null = null;
    const server = tunnelServer(client, target, (m) => {
      refused ??= m;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    const child = spawn(program, local.args(port, split.psqlArgs), {
      stdio: 'inherit',
      env: { ...process.env, ...local.env(port) },
    });
    const code = await new Promise<number>((resolve) => {
      child.once('error', (err) => {
        refused ??= `${local.program} could not start: ${err.message}`;
        resolve(1);
      });
      child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    server.close();
    if (refused !== null && code !== 0) printErr(`Error: ${refused}`);
    process.exitCode = code;
  });
}
