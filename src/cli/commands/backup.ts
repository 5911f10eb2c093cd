import type { Command } from 'commander';
import type { ApiClient, BackupView } from '../client.js';
import { confirm } from '../confirm.js';
import { type ContextFlags, requireProject, resolvePartialTarget, type Target } from '../context.js';
import { CliError } from '../errors.js';
import { formatSize, print, printErr, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, pickDatabase, withContextOptions } from './shared.js';

/** `berth backup …`: a database's verified backups (-s, or the environment's only database). */

async function databaseTarget(client: ApiClient, opts: ContextFlags): Promise<Target> {
  const partial = resolvePartialTarget({ ...contextFlags(opts), service: undefined });
  const project = requireProject(partial);
  const service = opts.service ?? (await pickDatabase(client, project, partial.environment));
  return { project, environment: partial.environment, service };
}

/** What list --json prints: the four fields, plus the reason and whose backup it is. */
function listed(b: BackupView) {
  return {
    id: b.id,
    createdAt: b.createdAt,
    sizeBytes: b.sizeBytes,
    verified: b.verified,
    error: b.error,
    service: b.service,
    ...(b.environment !== undefined ? { environment: b.environment } : {}),
    ...(b.deletedName ? { deletedName: b.deletedName, prunedAfter: b.prunedAfter } : {}),
    status: b.status,
  };
}

function outcome(b: BackupView): string {
  if (b.status === 'running') return 'running';
  return b.verified ? 'verified' : `failed: ${b.error ?? 'no reason recorded'}`;
}

function keepDays(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`--keep-days takes a whole number of days, not "${value}"`);
  return n;
}

export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description(
      "a database's backups: pg_dump archives (PostgreSQL) or RDB snapshots (Redis), each read back and verified",
    );

  withContextOptions(
    backup
      .command('list')
      .description(
        'list the database’s backups, newest first (--all: every database of the environment, deleted ones too)',
      )
      .option('--all', 'every backup of the environment, including those of deleted databases')
      .option('--everywhere', 'every backup on the server, deleted environments’ too (admin token)')
      .option('--json', 'print an array of {id, createdAt, sizeBytes, verified, error, …}'),
  ).action(async (opts: ContextFlags & JsonFlag & { all?: boolean; everywhere?: boolean }) => {
    const client = makeClient();
    let list: BackupView[];
    if (opts.everywhere) {
      list = await client.allBackups();
    } else if (opts.all) {
      const partial = resolvePartialTarget({ ...contextFlags(opts), service: undefined });
      list = await client.environmentBackups(requireProject(partial), partial.environment);
    } else {
      list = await client.backups(await databaseTarget(client, opts));
    }
    if (opts.json) return printJson(list.map(listed));
    const wide = opts.all || opts.everywhere;
    if (list.length === 0) return print('No backups yet; take one with `berth backup create`');
    printTable(
      [
        'id',
        'created',
        ...(wide ? ['database'] : []),
        ...(opts.everywhere ? ['environment'] : []),
        'size',
        'outcome',
      ],
      list.map((b) => [
        b.id,
        b.createdAt,
        ...(wide
          ? [
              b.service ??
                (b.deletedName ? `${b.deletedName} (deleted)` : `(deleted ${b.serviceId.slice(0, 8)})`),
            ]
          : []),
        ...(opts.everywhere ? [b.environment ?? '(deleted)'] : []),
        b.sizeBytes === null ? '' : formatSize(b.sizeBytes),
        outcome(b),
      ]),
    );
    const [first] = list;
    if (!wide && first.service === null && first.deletedName) {
      print(
        `${first.deletedName} was deleted; its backups are pruned after ${first.prunedAfter ?? 'its keep window'}`,
      );
    }
  });

  withContextOptions(
    backup
      .command('create')
      .description('back the database up now and wait until the archive is verified (exit 1 if it fails)')
      .option('--json', 'print the backup'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const client = makeClient();
    const t = await databaseTarget(client, opts);
    const b = await client.createBackup(t);
    if (opts.json) printJson(listed(b));
    else if (b.verified) {
      print(
        `Backup ${b.id} of ${t.service} is verified (${formatSize(b.sizeBytes ?? 0)}, read back and checked)`,
      );
    }
    if (!b.verified) {
      if (!opts.json) printErr(`Backup ${b.id} of ${t.service} failed: ${b.error ?? 'no reason recorded'}`);
      process.exitCode = 1;
    }
  });

  withContextOptions(
    backup
      .command('restore')
      .description(
        'restore a backup into a new database service (--to; the source is never touched) or over its own database (--in-place, after a backup of its current state)',
      )
      .argument('<backupId>')
      .option('--to <service>', 'the new database service to create and restore into')
      .option('--in-place', 'restore over the database the backup came from')
      .option('-y, --yes', 'do not ask for confirmation (--in-place)')
      .option('--json', 'print the server’s answer'),
  ).action(
    async (
      backupId: string,
      opts: ContextFlags & JsonFlag & { to?: string; inPlace?: boolean; yes?: boolean },
    ) => {
      if (!opts.to === !opts.inPlace) {
        throw new CliError(
          'Say where to restore: --to NEW_SERVICE (a new database) or --in-place (over its own database)',
        );
      }
      const client = makeClient();
      const partial = resolvePartialTarget({ ...contextFlags(opts), service: undefined });
      const project = requireProject(partial);
      if (opts.inPlace) {
        await confirm(
          `replace the database's current contents with backup ${backupId} (a backup of the current state is taken first)`,
          opts.yes,
        );
      }
      const r = await client.restoreBackup(
        project,
        partial.environment,
        backupId,
        opts.to ? { to: opts.to } : { inPlace: true },
      );
      if (opts.json) return printJson(r);
      print(r.message);
    },
  );

  withContextOptions(
    backup
      .command('schedule')
      .description(
        'when the database is backed up (five cron fields, UTC) and how many days archives are kept',
      )
      .argument('<cron>', 'e.g. "0 */6 * * *" (every 6 hours, the default)')
      .option(
        '--keep-days <days>',
        'days archives are kept (the newest verified one always stays)',
        keepDays,
        30,
      )
      .option('--json', 'print the server’s answer'),
  ).action(async (cron: string, opts: ContextFlags & JsonFlag & { keepDays: number }) => {
    const client = makeClient();
    const t = await databaseTarget(client, opts);
    const s = await client.setBackupSchedule(t, { cron, keepDays: opts.keepDays });
    if (opts.json) return printJson(s);
    print(
      `${t.service} is backed up at "${s.cron}" (UTC), archives kept ${s.keepDays} days; next run ${s.nextRunAt ?? 'not scheduled'}`,
    );
  });
}
