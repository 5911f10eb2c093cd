import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis as IORedis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupView as ListedBackup } from '../../src/api/contract/index.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';

/**
 * Redis backups (issue 18) through the real CLI, a real server and real redis-server: RDB snapshots on the
 * Postgres backups' machinery — create, restore into a new service (exactly the keys of the snapshot, the
 * source untouched), restore in place (asked first, after a backup of the state before), a damaged archive
 * refused and recorded, a final backup when the service is deleted.
 */
const suite = needs('redis-server', 'berth backup of Redis');
describe.skipIf(suite.skip)(suite.title, () => {
  const berth = new BerthHarness();
  const project = `rb${process.pid}`;
  const p = ['-p', project];
  const clients: IORedis[] = [];

  const ok = async (args: string[]) => {
    const r = await berth.cli(args);
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  };
  /** A client at the service's private address (from the server's hosts file), as an app would reach it. */
  const client = async (service: string) => {
    const vars = JSON.parse(await ok(['variables', '--json', '-s', service, ...p])) as Record<string, string>;
    const line = fs
      .readFileSync(berth.hostsFile, 'utf8')
      .split('\n')
      .find((l) => l.split(/\s+/).includes(vars.REDISHOST));
    const ip = line?.split(/\s+/)[0];
    expect(ip, `${vars.REDISHOST} in ${berth.hostsFile}`).toBeTruthy();
    const c = new IORedis({
      host: ip,
      port: Number(vars.REDISPORT),
      username: vars.REDISUSER,
      password: vars.REDISPASSWORD,
      maxRetriesPerRequest: 1,
    });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  /** Every key and its value, sorted: what "exactly these keys" is compared on. */
  const dump = async (service: string) => {
    const c = await client(service);
    const keys = (await c.keys('*')).sort();
    const values = keys.length > 0 ? await c.mget(...keys) : [];
    c.disconnect();
    return keys.map((k, i) => `${k}=${values[i]}`);
  };
  const list = async (service = 'Redis') =>
    JSON.parse(await ok(['backup', 'list', '--json', '-s', service, ...p])) as ListedBackup[];
  const create = async () => {
    const out = await ok(['backup', 'create', '-s', 'Redis', ...p]);
    const id = /Backup (\S+) of Redis is verified/.exec(out)?.[1];
    expect(id, out).toBeTruthy();
    return id as string;
  };

  let first: string[] = [];
  let snapshot = '';

  beforeAll(async () => {
    await berth.start();
    await ok(['init', '--name', project]);
    await ok(['add', '--database', 'redis', ...p]);
    const c = await client('Redis');
    const pipe = c.pipeline();
    for (let i = 1; i <= 500; i++) pipe.set(`first:${i}`, `value ${i}`);
    await pipe.exec();
    c.disconnect();
    first = await dump('Redis');
    expect(first).toHaveLength(500);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await berth.stop();
  });

  it('backup create takes a verified RDB snapshot that backup list shows', async () => {
    snapshot = await create();
    const [b] = await list();
    expect(b).toMatchObject({ id: snapshot, verified: true, error: null, service: 'Redis' });
    expect(b.sizeBytes).toBeGreaterThan(0);
    const stored = (
      fs.readdirSync(path.join(berth.dataDir, 'backups'), { recursive: true }) as string[]
    ).find((f) => f.endsWith(`${snapshot}.rdb`));
    expect(stored).toMatch(/^redis_rdb\//);
  });

  it('restore --to a new service has exactly the keys of the snapshot; the source keeps its later writes', async () => {
    const c = await client('Redis');
    await c.set('later:1', 'after the backup');
    await c.del('first:1', 'first:2');
    c.disconnect();
    const source = await dump('Redis');
    const out = await ok(['backup', 'restore', snapshot, '--to', 'RedisCopy', ...p]);
    expect(out).toContain('the source database was not touched');
    expect(await dump('RedisCopy')).toEqual(first);
    expect(await dump('Redis')).toEqual(source);
    // The copy is a Redis of its own: writes to it do not reach the source.
    const copy = await client('RedisCopy');
    await copy.set('only-in-copy', '1');
    copy.disconnect();
    expect(await dump('Redis')).toEqual(source);
  });

  it('restore --in-place asks first, then takes a backup of the current state and brings the snapshot back', async () => {
    const before = await dump('Redis');
    expect(before).not.toEqual(first);
    const refused = await berth.cli(['backup', 'restore', snapshot, '--in-place', ...p]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Nothing was changed: pass -y');
    expect(await dump('Redis')).toEqual(before);

    const r = JSON.parse(await ok(['backup', 'restore', snapshot, '--in-place', '-y', '--json', ...p])) as {
      preRestoreBackupId: string;
      message: string;
    };
    expect(await dump('Redis')).toEqual(first);
    expect(r.message).toContain('(500 keys): Redis was stopped (saving first), its data set aside');
    const pre = (await list()).find((b) => b.id === r.preRestoreBackupId);
    expect(pre).toMatchObject({ verified: true });
    // The backup taken first holds the state the restore replaced.
    await ok(['backup', 'restore', r.preRestoreBackupId, '--to', 'RedisBefore', ...p]);
    expect(await dump('RedisBefore')).toEqual(before);
    // Restored in place, it still persists: a restart keeps the restored keys (the AOF was rebuilt from them).
    await ok(['restart', '-s', 'Redis', ...p]);
    expect(await dump('Redis')).toEqual(first);
  });

  it('a damaged archive is refused with the reason, recorded as failed, and nothing is created or touched', async () => {
    const id = await create();
    const files = fs.readdirSync(path.join(berth.dataDir, 'backups'), { recursive: true }) as string[];
    const full = path.join(berth.dataDir, 'backups', files.find((f) => f.endsWith(`${id}.rdb`)) as string);
    const bytes = fs.readFileSync(full);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(full, bytes);
    const before = await dump('Redis');
    for (const how of [
      ['--to', 'Broken'],
      ['--in-place', '-y'],
    ]) {
      const r = await berth.cli(['backup', 'restore', id, ...how, ...p]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Backup ${id} cannot be restored`);
      expect(r.stderr).toContain('SHA-256');
    }
    const status = JSON.parse(await ok(['status', '--json', ...p])) as { services: { name: string }[] };
    expect(status.services.map((s) => s.name)).not.toContain('Broken');
    expect(await dump('Redis')).toEqual(before);
    expect((await list()).find((b) => b.id === id)).toMatchObject({
      verified: false,
      error:
        "The stored snapshot's SHA-256 differs from what was written, so its bytes changed in the backup target.",
    });
  });

  it('a schedule shows in berth status, and deleting the service takes a final backup', async () => {
    await ok(['backup', 'schedule', '0 2 * * *', '--keep-days', '3', '-s', 'Redis', ...p]);
    // The last backup is the damaged one: status says so, with the reason.
    expect(await ok(['status', ...p])).toMatch(
      /Redis\s+\S+\s+failed: The stored snapshot's SHA-256 differs .*\s0 2 \* \* \* \(keep 3 days\)/,
    );
    const out = await ok(['service', 'delete', '-s', 'Redis', '-y', ...p]);
    const id = /Final backup (\S+) of Redis \(production\) is verified/.exec(out)?.[1];
    expect(id, out).toBeTruthy();
    expect(out).toContain('The backups of Redis are kept 3 days (its retention), then pruned.');
    await ok(['backup', 'restore', id as string, '--to', 'RedisRevived', ...p]);
    expect(await dump('RedisRevived')).toEqual(first);
  });

  it("a deleted database's backups are listed by its name, then pruned by the sweep once its keep window passed", async () => {
    const listed = (await list()) as ListedBackup[];
    expect(listed.length).toBeGreaterThan(2);
    expect(listed.every((b) => b.service === null && b.deletedName === 'Redis')).toBe(true);
    const pruneAt = Date.parse(listed[0].prunedAfter ?? '');
    expect(pruneAt - Date.now()).toBeGreaterThan(2.9 * 86_400_000);
    expect(pruneAt - Date.now()).toBeLessThanOrEqual(3 * 86_400_000);
    expect(await ok(['backup', 'list', '-s', 'Redis', ...p])).toContain(
      'Redis was deleted; its backups are pruned after',
    );
    // Four days later (the deletion moved back while the server is down): the sweep at start prunes them.
    await berth.stopDaemon();
    const db = new Database(path.join(berth.dataDir, 'state.db'));
    try {
      db.prepare("UPDATE deleted_databases SET deleted_at = ? WHERE name = 'Redis'").run(
        new Date(Date.now() - 4 * 86_400_000).toISOString(),
      );
    } finally {
      db.close();
    }
    await berth.startDaemon();
    // The sweep runs beside the start, not before it: its end is when the deleted name is no longer known.
    const after = await waitFor('the sweep at start', async () => {
      const r = await berth.cli(['backup', 'list', '--json', '-s', 'Redis', ...p]);
      return r.code === 0 ? null : r;
    });
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('Redis');
    const stored = fs.readdirSync(path.join(berth.dataDir, 'backups'), { recursive: true }) as string[];
    for (const b of listed) expect(stored.some((f) => f.includes(b.id))).toBe(false);
    // The copies made from them are services of their own, untouched.
    expect(await dump('RedisRevived')).toEqual(first);
  });
});
