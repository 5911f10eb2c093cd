import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { type ContextFlags, requireProject, resolvePartialTarget, type Target } from '../context.js';
import { parseDurationSeconds } from '../duration.js';
import { CliError } from '../errors.js';
import { print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, pickDatabase, withContextOptions } from './shared.js';

/** `berth db …`: a database's public port, settings and extensions (-s, or the environment's only database). */

async function databaseTarget(client: ApiClient, opts: ContextFlags, engine?: string): Promise<Target> {
  const partial = resolvePartialTarget({ ...contextFlags(opts), service: undefined });
  const project = requireProject(partial);
  const service = opts.service ?? (await pickDatabase(client, project, partial.environment, engine));
  return { project, environment: partial.environment, service };
}

export function registerDb(program: Command): void {
  const db = program
    .command('db')
    .description("a database's public port, pooler, branches, settings and extensions");

  withContextOptions(
    db
      .command('public')
      .description(
        "on: reachable on the server's public host at a port of its own (DATABASE_PUBLIC_URL, REDIS_PUBLIC_URL); off: private only (the default)",
      )
      .argument('<on|off>')
      .option('--json', 'print the server’s answer unchanged'),
  ).action(async (state: string, opts: ContextFlags & JsonFlag) => {
    if (state !== 'on' && state !== 'off')
      throw new CliError(`berth db public takes on or off, not "${state}"`);
    const client = makeClient();
    const ds = await client.setDataPublic(await databaseTarget(client, opts), state === 'on');
    if (opts.json) return printJson(ds);
    print(
      ds.publicPort === null
        ? `${ds.service} is private: reached only at ${ds.privateHost}:${ds.port} and through \`berth connect\``
        : `${ds.service} is public at ${ds.publicHost}:${ds.publicPort} (${ds.engine === 'redis' ? 'REDIS_PUBLIC_URL' : 'DATABASE_PUBLIC_URL'}; \`berth variables -s ${ds.service}\` shows it)`,
    );
  });

  withContextOptions(
    db
      .command('pooler')
      .description(
        'on: PgBouncer in transaction mode in front of the database (DATABASE_URL_POOLED, port 6432); off: no pooler (the default)',
      )
      .argument('<on|off>')
      .option('--json', 'print the server’s answer unchanged'),
  ).action(async (state: string, opts: ContextFlags & JsonFlag) => {
    if (state !== 'on' && state !== 'off')
      throw new CliError(`berth db pooler takes on or off, not "${state}"`);
    const client = makeClient();
    const ds = await client.setDataPooler(await databaseTarget(client, opts), state === 'on');
    if (opts.json) return printJson(ds);
    print(ds.message ?? '');
  });

  withContextOptions(
    db
      .command('sleep')
      .description(
        'scale to zero: stop the database after --after without a client connection (e.g. 10m); the next connection starts it again. `off`: never sleep (the default)',
      )
      .argument('[off]')
      .option('--after <duration>', 'idle period: 90s, 10m, 2h')
      .option('--json', 'print the server’s answer unchanged'),
  ).action(async (state: string | undefined, opts: ContextFlags & JsonFlag & { after?: string }) => {
    if (state !== undefined && state !== 'off')
      throw new CliError(`berth db sleep takes --after DURATION or off, not "${state}"`);
    if (state === undefined && opts.after === undefined)
      throw new CliError('berth db sleep needs --after DURATION (e.g. --after 10m), or off');
    const after = state === 'off' ? null : parseDurationSeconds(opts.after ?? '');
    if (state !== 'off' && after === null)
      throw new CliError(`--after takes a duration like 90s, 10m or 2h, not "${opts.after}"`);
    const client = makeClient();
    const s = await client.setDataSleep(await databaseTarget(client, opts), after);
    if (opts.json) return printJson(s);
    print(s.message);
  });

  withContextOptions(
    db
      .command('branch')
      .description(
        'a writable copy of a database, as it is now, as a new database service with its own credentials (the source keeps running, untouched)',
      )
      .argument('<name>', 'the new service')
      .option('--from <service>', 'the database to copy (default: the environment’s only database)')
      .option('--at <time>', 'a past instant to branch from (RFC 3339; recovered from the WAL archive)')
      .option('--json', 'print the server’s answer unchanged'),
  ).action(async (name: string, opts: ContextFlags & JsonFlag & { from?: string; at?: string }) => {
    const client = makeClient();
    const target = await databaseTarget(client, { ...opts, service: opts.from ?? opts.service });
    const ds = await client.branchDatabase(target, {
      name,
      ...(opts.at !== undefined ? { at: opts.at } : {}),
    });
    if (opts.json) return printJson(ds);
    print(ds.message ?? `Created ${ds.service}`);
  });

  withContextOptions(
    db
      .command('restore')
      .description(
        'point-in-time restore: a new database service recovered from the WAL archive to an instant and promoted (the source keeps running, untouched); --list-window shows the instants it can reach',
      )
      .option('--time <time>', 'the instant, RFC 3339 with its zone, e.g. 2026-11-22T10:15:03Z')
      .option('--name <service>', 'the new database service')
      .option(
        '--list-window',
        'the earliest and latest restorable instants, WAL shipping and the last base backup',
      )
      .option('--window-days <n>', 'how many days back restores reach (default 7)')
      .option('--base-backups <cron>', 'when base backups run, five cron fields in UTC (default daily)')
      .option(
        '--tail-seconds <n>',
        'how often the WAL being written is shipped: about the most a lost volume loses (default 1; 0 ships finished WAL files only, one per archive_timeout)',
      )
      .option('--json', 'print the server’s answer unchanged'),
  ).action(
    async (
      opts: ContextFlags &
        JsonFlag & {
          time?: string;
          name?: string;
          listWindow?: boolean;
          windowDays?: string;
          baseBackups?: string;
          tailSeconds?: string;
        },
    ) => {
      const client = makeClient();
      const configuring =
        opts.windowDays !== undefined || opts.baseBackups !== undefined || opts.tailSeconds !== undefined;
      if (!opts.listWindow && !configuring && (opts.time === undefined || opts.name === undefined)) {
        throw new CliError(
          'berth db restore needs --time TIME and --name NEW (or --list-window to see the instants it can reach)',
        );
      }
      const target = await databaseTarget(client, opts, 'postgres');
      if (opts.listWindow || configuring) {
        const windowDays = wholeNumber('--window-days', 'days', opts.windowDays);
        const tailSeconds = wholeNumber('--tail-seconds', 'seconds', opts.tailSeconds);
        const w = configuring
          ? await client.setPitrSettings(target, {
              ...(windowDays !== undefined ? { windowDays } : {}),
              ...(tailSeconds !== undefined ? { tailSeconds } : {}),
              ...(opts.baseBackups !== undefined ? { baseBackupCron: opts.baseBackups } : {}),
            })
          : await client.pitrWindow(target);
        if (opts.json) return printJson(w);
        const ranges = w.ranges.map((r) => `from ${r.earliest} to ${r.latest}`).join(' or ');
        print(
          w.earliest && w.latest
            ? `${w.service} can be restored to any instant ${ranges} (window ${w.windowDays} days${w.ranges.length > 1 ? '; WAL is missing between those ranges' : ''})`
            : `${w.service} has no restorable instant yet: the first base backup is taken once archiving starts (window ${w.windowDays} days)`,
        );
        const last = w.lastBaseBackup;
        print(
          `base backups: ${w.baseBackupCron} (UTC)${w.nextBaseBackupAt ? `, next ${w.nextBaseBackupAt}` : ''}${w.baseBackupRunning ? ', one running now' : ''}; last: ${last ? `${last.status} ${last.createdAt}${last.error ? ` — ${last.error}` : ''}` : 'none yet'}`,
        );
        print(
          `WAL shipping: ${w.shippingError ? `failing — ${w.shippingError}` : 'working'}${w.tailSeconds > 0 ? `, the WAL being written every ${w.tailSeconds}s` : ', finished WAL files only'}${w.waitingWalFiles > 0 ? `, ${w.waitingWalFiles} file(s) waiting` : ''}${w.lastShippedAt ? `; last shipped ${w.lastShippedAt}` : ''}`,
        );
        return;
      }
      const ds = await client.restoreToTime(target, { time: opts.time as string, name: opts.name as string });
      if (opts.json) return printJson(ds);
      print(ds.message ?? `Created ${ds.service}`);
    },
  );

  const config = db
    .command('config')
    .description("a database's settings (the engine's own names: PostgreSQL's, or Redis's CONFIG ones)");
  withContextOptions(
    config
      .command('set')
      .description(
        'PostgreSQL: ALTER SYSTEM SET each KEY=VALUE, then reload or restart as the setting needs (the output says which); Redis: CONFIG SET, then CONFIG REWRITE',
      )
      .argument('<assignments...>', 'KEY=VALUE, e.g. work_mem=64MB or maxmemory-policy=allkeys-lru')
      .option('--json', 'print the server’s answers'),
  ).action(async (assignments: string[], opts: ContextFlags & JsonFlag) => {
    const parsed = assignments.map((a) => {
      const eq = a.indexOf('=');
      if (eq <= 0) throw new CliError(`"${a}" is not KEY=VALUE; write e.g. work_mem=64MB`);
      return { key: a.slice(0, eq).trim(), value: a.slice(eq + 1) };
    });
    const client = makeClient();
    const target = await databaseTarget(client, opts);
    for (const p of parsed) {
      const r = await client.setDataConfig(target, p);
      if (opts.json) printJson(r);
      else print(r.message);
    }
  });

  withContextOptions(
    db
      .command('extensions')
      .description(
        'extensions the database can create (and has), and how to get well-known ones the server lacks',
      )
      .option('--json', 'print the server’s answer unchanged'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const client = makeClient();
    const r = await client.dataExtensions(await databaseTarget(client, opts));
    if (opts.json) return printJson(r);
    printTable(
      ['extension', 'version', 'installed', 'description'],
      r.available.map((e) => [e.name, e.defaultVersion, e.installedVersion ?? '', e.comment]),
    );
    for (const m of r.missing) print(`\n${m.hint}`);
  });
}

/** `berth redis config set KEY VALUE`: the issue's spelling of `berth db config set KEY=VALUE` for a Redis. */
export function registerRedis(program: Command): void {
  const redis = program.command('redis').description("a Redis database's settings");
  const config = redis.command('config').description("a Redis database's settings (Redis's CONFIG names)");
  withContextOptions(
    config
      .command('set')
      .description('CONFIG SET KEY VALUE (at once, no restart), then CONFIG REWRITE so it survives restarts')
      .argument('<key>', 'e.g. maxmemory-policy')
      .argument('<value>', 'e.g. allkeys-lru')
      .option('--json', 'print the server’s answer'),
  ).action(async (key: string, value: string, opts: ContextFlags & JsonFlag) => {
    const client = makeClient();
    const target = await databaseTarget(client, opts, 'redis');
    const r = await client.setDataConfig(target, { key, value });
    if (opts.json) printJson(r);
    else print(r.message);
  });
}

/** A flag's whole number (undefined when the flag is absent), or one sentence saying what it takes. */
function wholeNumber(flag: string, unit: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()))
    throw new CliError(`${flag} takes a whole number of ${unit}, not "${value}"`);
  return Number(value);
}
