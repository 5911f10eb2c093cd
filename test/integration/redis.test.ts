import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis as IORedis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness, uniqueProject } from '../helpers/berth.js';
import { needs, sandboxed } from '../helpers/optional-tools.js';

/** The process ids under pid (its children, theirs, …), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    try {
      for (const task of fs.readdirSync(`/proc/${p}/task`)) {
        const text = fs.readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (!text) continue;
        const children = text.split(/\s+/).map(Number);
        out.push(...children);
        queue.push(...children);
      }
    } catch {
      /* gone */
    }
  }
  return out;
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

const suite = needs('redis-server', 'managed Redis');

/**
 * Managed Redis (issue 18): `berth add --database redis` runs the host's redis-server as a supervised data
 * service; an app (ioredis + BullMQ, built from the npm registry) with REDIS_URL=${{Redis.REDIS_URL}} keeps its
 * data and its queue there through restarts, a kill -9 of the daemon and a kill -9 of redis-server itself.
 */
describe.skipIf(suite.skip)(suite.title, () => {
  const berth = new BerthHarness();
  // /etc/hosts is shared by every daemon on the machine: a project name of its own.
  const project = uniqueProject('rd');
  const web = ['-p', project, '-s', 'web'];
  const rd = ['-p', project, '-s', 'Redis'];
  const host = () => berth.hostFor('web', project);
  let vars: Record<string, string> = {};
  const clients: IORedis[] = [];
  /** A client the test talks to Redis with directly (at its private address, as an app would). */
  const direct = (url = vars.REDIS_URL) => {
    const c = new IORedis(url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };

  const engineRow = () => {
    const d = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true, fileMustExist: true });
    try {
      return d
        .prepare("SELECT id, state, restarts, handle_json FROM workloads WHERE owner_kind = 'data-service'")
        .all() as { id: string; state: string; restarts: number; handle_json: string | null }[];
    } finally {
      d.close();
    }
  };
  /** redis-server's host pid, under the workload's flock (and sandbox). */
  const redisPid = (): number => {
    const handle = JSON.parse(engineRow()[0].handle_json ?? 'null') as { pid: number } | null;
    if (!handle) throw new Error('the engine has no process handle');
    const found = descendants(handle.pid).find((p) => comm(p) === 'redis-server');
    if (!found) throw new Error(`no redis-server under ${handle.pid}`);
    return found;
  };
  const volume = () => {
    const volumes = path.join(berth.dataDir, 'volumes');
    const [serviceDir] = fs.readdirSync(volumes);
    const [envDir] = fs.readdirSync(path.join(volumes, serviceDir));
    return path.join(volumes, serviceDir, envDir);
  };
  const post = (p: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: berth.httpPort, path: p, method: 'POST', headers: { host: host() } },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const getJson = async (p: string) => {
    const res = await berth.get(host(), p);
    expect(res.status, res.body).toBe(200);
    return JSON.parse(res.body) as string[];
  };
  const status = async () => {
    const r = await berth.cli(['status', '--json', '-p', project]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { services: { name: string; kind: string; state: string | null }[] };
    return s.services.find((x) => x.name === 'Redis');
  };
  const running = () =>
    waitFor('Redis to run', async () => (await status())?.state === 'running', {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  /** A key written and acknowledged through a fresh client. */
  const ack = async (key: string, value: string) => {
    const c = direct();
    await c.connect();
    expect(await c.set(key, value)).toBe('OK');
    c.disconnect();
  };
  const read = async (key: string) => {
    const c = direct();
    await c.connect();
    const v = await c.get(key);
    c.disconnect();
    return v;
  };

  beforeAll(async () => {
    berth.hostsFile = '/etc/hosts';
    await berth.start();
    for (const cmd of [
      ['init', '--name', project],
      ['add', '--service', 'web', '-p', project],
    ]) {
      const r = await berth.cli(cmd);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await berth.stop();
  });

  it('provisions Redis with `berth add --database redis` and shows it in status', async () => {
    const add = await berth.cli(['add', '--database', 'redis', '-p', project]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe(
      [
        `Created Redis (Redis 7) in project ${project}, environment production: running at redis.production.${project}.internal:6379`,
        "Reference it from an app: berth variables set 'REDIS_URL=${{Redis.REDIS_URL}}' -s <app>",
        'Open redis-cli: berth connect Redis',
        '',
      ].join('\n'),
    );
    expect(await status()).toMatchObject({ name: 'Redis', kind: 'redis', state: 'running' });
    expect((await berth.cli(['status', '-p', project])).stdout).toMatch(/Redis\s+redis\s+running/);

    // Its config file in its own volume: the password, persistence on, readable by its owner only.
    const conf = fs.readFileSync(path.join(volume(), 'redis.conf'), 'utf8');
    expect(conf).toMatch(/^requirepass [A-Za-z0-9]{32}$/m);
    expect(conf).toContain('appendonly yes\nappendfsync everysec\nsave 3600 1 300 100 60 10000\n');
    expect(fs.statSync(path.join(volume(), 'redis.conf')).mode & 0o777).toBe(0o600);
    // redis-server runs as the volume's owner: the service's own uid when sandboxed, never root.
    const owner = fs.statSync(volume()).uid;
    expect(fs.statSync(`/proc/${redisPid()}`).uid).toBe(owner);
    if (sandboxed) expect(owner).toBeGreaterThanOrEqual(2_000_000);
    // It holds its volume's lock: a second one over the same data would fail at once.
    const lock = path.join(volume(), 'engine.lock');
    expect(spawnSync('flock', ['--nonblock', '--conflict-exit-code', '73', lock, 'true']).status).toBe(73);

    const again = await berth.cli(['add', '--database', 'redis', '-p', project]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `Error: Service "Redis" already exists in project "${project}"; pick another name with --service.\n`,
    );
  });

  it("provides Railway's variables, shown by `berth variables -s Redis`", async () => {
    const r = await berth.cli(['variables', '--json', ...rd]);
    expect(r.code, r.stderr).toBe(0);
    vars = JSON.parse(r.stdout) as Record<string, string>;
    const privateHost = `redis.production.${project}.internal`;
    expect(vars).toMatchObject({ REDISHOST: privateHost, REDISPORT: '6379', REDISUSER: 'default' });
    expect(vars.REDISPASSWORD).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(vars.REDIS_URL).toBe(`redis://default:${vars.REDISPASSWORD}@${privateHost}:6379`);
    expect(vars.REDIS_PUBLIC_URL).toBeUndefined();
  });

  it('refuses a wrong password and a client without one', async () => {
    // No password: its connection opens (no ready check, which would need one), every command is refused.
    const c = new IORedis(`redis://${vars.REDISHOST}:6379`, { lazyConnect: true, enableReadyCheck: false });
    c.on('error', () => {});
    clients.push(c);
    await c.connect();
    await expect(c.ping()).rejects.toThrow(/^NOAUTH Authentication required/);
    await expect(c.auth('default', 'not-the-password')).rejects.toThrow(/^WRONGPASS/);
    await expect(c.get('items')).rejects.toThrow(/^NOAUTH/);
    // ioredis with a wrong password in the URL never gets a connection.
    const wrong = direct(vars.REDIS_URL.replace(vars.REDISPASSWORD, 'not-the-password'));
    await expect(wrong.connect().then(() => wrong.ping())).rejects.toThrow();
    const right = direct();
    await right.connect();
    expect(await right.ping()).toBe('PONG');
  });

  it('refuses the Redis file-write attack (CONFIG SET dir/dbfilename, MODULE LOAD, DEBUG) even with the password', async () => {
    const c = direct();
    await c.connect();
    await expect(c.config('SET', 'dir', '/root/.ssh')).rejects.toThrow(/protected config/);
    await expect(c.config('SET', 'dbfilename', 'authorized_keys')).rejects.toThrow(/protected config/);
    await expect(c.call('MODULE', 'LOAD', '/tmp/evil.so')).rejects.toThrow(/MODULE command not allowed/);
    await expect(c.call('DEBUG', 'SLEEP', '0')).rejects.toThrow(/DEBUG command not allowed/);
    expect(await c.config('GET', 'dir')).toEqual(['dir', volume()]);
  });

  it('runs an ioredis + BullMQ app through REDIS_URL=${{Redis.REDIS_URL}}: data and a job round trip', async () => {
    const set = await berth.cli([
      'variables',
      'set',
      'REDIS_URL=${{Redis.REDIS_URL}}',
      '--skip-deploys',
      ...web,
    ]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', berth.app('redis-app', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const env = JSON.parse((await berth.get(host(), '/env')).body) as { host: string };
    expect(env.host).toBe(`redis.production.${project}.internal`);
    expect(await post('/items?name=first')).toBe(201);
    expect(await post('/items?name=second')).toBe(201);
    expect(await getJson('/items')).toEqual(['first', 'second']);
    for (const name of ['a', 'b', 'c']) expect(await post(`/jobs?name=${name}`)).toBe(201);
    const results = await waitFor(
      'the worker to process the jobs',
      async () => {
        const r = await getJson('/results');
        return r.length === 3 ? r : null;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect([...results].sort()).toEqual(['a:done', 'b:done', 'c:done']);
  });

  it('answers through `berth connect Redis -- …`, tunnelled over the API connection', async () => {
    const ping = await berth.cli(['connect', 'Redis', '-p', project, '--', 'PING']);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toBe('PONG\n');
    const items = await berth.cli(['connect', 'Redis', '-p', project, '--', 'LRANGE', 'items', '0', '-1']);
    expect(items.stdout).toBe('first\nsecond\n');
    const missing = await berth.cli(['connect', 'Redis', '-p', project], { env: { PATH: '/nonexistent' } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'Error: redis-cli is not installed on this machine; install the Redis client (Debian/Ubuntu: apt-get install redis-tools, macOS: brew install redis) and run berth connect again\n',
    );
  });

  it('keeps acknowledged writes across `berth restart -s Redis` (SIGTERM: save, then exit)', async () => {
    const before = redisPid();
    // Written and acknowledged right before the restart, with no wait for the everysec fsync; and a job queued
    // (delayed) before it, which the worker processes after it.
    await ack('before-restart', 'kept');
    expect(await post('/jobs?name=queued-before-restart&delay=1500')).toBe(201);
    const r = await berth.cli(['restart', ...rd]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      'Redis restarted: shut down with SIGTERM (Redis saves a snapshot and fsyncs its append-only file first, so acknowledged writes are kept), then started again\n',
    );
    expect(redisPid()).not.toBe(before);
    const logs = (await berth.cli(['logs', '-n', '500', ...rd])).stdout;
    expect(logs).toContain('Received SIGTERM scheduling shutdown');
    expect(logs).toContain('DB saved on disk');
    // Each line carries Redis's own time (`24141:M 06 Dec 2026 23:49:44.291 * …`, UTC).
    const json = (await berth.cli(['logs', '--json', '-n', '500', ...rd])).stdout.trim().split('\n');
    const ready = json
      .map((l) => JSON.parse(l) as { time: string; message: string })
      .find((l) => l.message.includes('Ready to accept connections'));
    const m = /(\d\d) (\w{3}) (\d{4}) (\d\d:\d\d:\d\d\.\d{3})/.exec(ready?.message ?? '');
    expect(m, ready?.message).not.toBeNull();
    expect(ready?.time).toBe(new Date(`${m?.[1]} ${m?.[2]} ${m?.[3]} ${m?.[4]} UTC`).toISOString());
    expect(await read('before-restart')).toBe('kept');
    await waitFor(
      'the job queued before the restart to be processed',
      async () => (await getJson('/results')).includes('queued-before-restart:done'),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(await getJson('/items')).toEqual(['first', 'second']);
  });

  it('adopts the running Redis after a daemon restart and after kill -9 of the daemon', async () => {
    const pid = redisPid();
    await berth.stopDaemon();
    await berth.startDaemon();
    await running();
    expect(redisPid()).toBe(pid);
    await berth.killDaemon();
    // Redis keeps serving while the daemon is gone.
    await ack('daemon-dead', 'kept');
    await berth.startDaemon();
    await running();
    expect(redisPid()).toBe(pid);
    expect(engineRow()).toHaveLength(1);
    expect(await read('daemon-dead')).toBe('kept');
  });

  it('restarts redis-server by policy after kill -9, with every write that reached its append-only file', async () => {
    const pid = redisPid();
    const restarts = engineRow()[0].restarts;
    await ack('before-crash', 'marker-7f3a91');
    // Redis writes the AOF before it answers (fsync follows within 1 s, everysec): a kill -9 of the process
    // loses nothing the kernel has. Wait until the write is in the file, then kill.
    const aofDir = path.join(volume(), 'appendonlydir');
    await waitFor(
      'the write to reach the append-only file',
      async () =>
        fs
          .readdirSync(aofDir)
          .filter((f) => f.endsWith('.incr.aof'))
          .some((f) => fs.readFileSync(path.join(aofDir, f), 'utf8').includes('marker-7f3a91')),
      { timeoutMs: 5_000, intervalMs: 20 },
    );
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'Redis to be restarted',
      async () => {
        const row = engineRow()[0];
        return row.state === 'running' && row.restarts === restarts + 1 ? row : null;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(redisPid()).not.toBe(pid);
    expect(await read('before-crash')).toBe('marker-7f3a91');
    expect(await read('before-restart')).toBe('kept');
    // The app's own connections come back by themselves.
    await waitFor('the app to read again', async () => (await berth.get(host(), '/items')).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    expect(await getJson('/items')).toEqual(['first', 'second']);
    const logs = await berth.cli(['logs', ...rd]);
    expect(logs.stdout).toMatch(/\[berth\] Redis of Redis \(production\) exited .*; restarting it in 0\.5s/);
  });

  it('changes settings with CONFIG SET + CONFIG REWRITE, refusing what Berth owns', async () => {
    const r = await berth.cli(['redis', 'config', 'set', 'maxmemory-policy', 'allkeys-lru', '-p', project]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      'Set maxmemory-policy = allkeys-lru on Redis: applied at once (CONFIG SET, no restart) and kept in its config file (CONFIG REWRITE)\n',
    );
    const viaDb = await berth.cli(['db', 'config', 'set', 'maxmemory=64mb', ...rd]);
    expect(viaDb.code, viaDb.stderr).toBe(0);
    expect(viaDb.stdout).toContain('Set maxmemory = 67108864 on Redis');
    // It lasts across a restart (the config file keeps it; Berth's own lines are rewritten around it).
    expect((await berth.cli(['restart', ...rd])).code).toBe(0);
    const c = direct();
    await c.connect();
    expect(await c.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
    expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);

    const owned = await berth.cli(['redis', 'config', 'set', 'requirepass', 'mine', '-p', project]);
    expect(owned.code).toBe(1);
    expect(owned.stderr).toBe(
      'Error: requirepass is set by Berth (where Redis listens, keeps its data and how it authenticates) and cannot be changed.\n',
    );
    const dir = await berth.cli(['db', 'config', 'set', 'dir=/tmp', ...rd]);
    expect(dir.stderr).toContain('dir is set by Berth');
    const unknown = await berth.cli(['redis', 'config', 'set', 'maxmemory-polcy', 'x', '-p', project]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      `Error: Redis has no setting "maxmemory-polcy" it can change at run time; \`berth connect Redis -- CONFIG GET '*'\` lists them.\n`,
    );
    const bad = await berth.cli(['redis', 'config', 'set', 'maxmemory-policy', 'sometimes', '-p', project]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Error: Redis refused maxmemory-policy = sometimes: ');
    expect(await c.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
    // Back to a store's policy (BullMQ wants noeviction).
    expect(
      (await berth.cli(['redis', 'config', 'set', 'maxmemory-policy', 'noeviction', '-p', project])).code,
    ).toBe(0);
    const ext = await berth.cli(['db', 'extensions', ...rd]);
    expect(ext.stderr).toBe("Error: Redis has no extensions; `berth db extensions` lists PostgreSQL's.\n");
  });

  it("opens and closes a public port on the server's host (REDIS_PUBLIC_URL)", async () => {
    const on = await berth.cli(['db', 'public', 'on', '--json', ...rd]);
    expect(on.code, on.stderr).toBe(0);
    const { publicPort } = JSON.parse(on.stdout) as { publicPort: number };
    const v = JSON.parse((await berth.cli(['variables', '--json', ...rd])).stdout) as Record<string, string>;
    expect(v.REDIS_PUBLIC_URL).toBe(`redis://default:${v.REDISPASSWORD}@localhost:${publicPort}`);
    const viaPublic = `redis://default:${v.REDISPASSWORD}@127.0.0.1:${publicPort}`;
    await waitFor(
      'the public port to answer',
      async () => {
        const c = direct(viaPublic);
        try {
          await c.connect();
          return (await c.get('before-restart')) === 'kept';
        } catch {
          return false;
        } finally {
          c.disconnect();
        }
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const off = await berth.cli(['db', 'public', 'off', ...rd]);
    expect(off.stdout).toContain('Redis is private');
    await waitFor(
      'the public port to close',
      async () => {
        const c = direct(viaPublic);
        const ok = await c.connect().then(
          () => true,
          () => false,
        );
        c.disconnect();
        return !ok;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  });

  it('is deleted after a final backup (an RDB snapshot), its volume kept', async () => {
    const del = await berth.cli(['service', 'delete', '-y', ...rd]);
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(del.stdout).toMatch(/Final backup \S+ of Redis \(production\) is verified\./);
    expect(del.stdout).toMatch(/The volume stays at /);
  });
});

describe('managed Redis without the redis-server package', () => {
  const berth = new BerthHarness();

  beforeAll(async () => {
    berth.daemonEnv = { BERTH_REDIS_SERVER: '/nonexistent/redis-server' };
    await berth.start();
    const r = await berth.cli(['init', '--name', 'nordis']);
    expect(r.code, r.stderr).toBe(0);
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('names the Debian package in one sentence and creates nothing', async () => {
    const r = await berth.cli(['add', '--database', 'redis', '-p', 'nordis']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error: Redis is not installed on the Berth server; install the Debian package redis-server (apt-get install redis-server) and try again.\n',
    );
    const status = JSON.parse((await berth.cli(['status', '--json', '-p', 'nordis'])).stdout) as {
      services: unknown[];
    };
    expect(status.services).toEqual([]);
  });
});
