import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Pool, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../src/edge/haproxy/driver.js';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface Snapshot {
  requests: number;
  status: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  active: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
}

const drivers = findHaproxy() === null ? (['builtin'] as const) : (['builtin', 'haproxy'] as const);

/**
 * `berth metrics` and `berth logs --http` through a real daemon, each edge driver and a deployed app: the
 * built-in edge counts itself; on HAProxy the helper edge counts HAProxy's per-request log lines.
 */
describe.each(drivers)('request metrics and access logs: %s', (kind) => {
  const berth = new BerthHarness();
  const web = ['-p', 'met', '-s', 'web'];
  let host = '';
  let headersBody = '';

  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
    expect((await berth.cli(['init', '--name', 'met'])).code).toBe(0);
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...web]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    host = berth.hostFor('web', 'met');
    // the mix: 6 × 200 "v1", 3 × 404 and 2 × 500 ("status NNN"), 1 × /headers (the app echoes its headers)
    for (let i = 0; i < 6; i++) expect(await berth.get(host, '/')).toMatchObject({ status: 200, body: 'v1' });
    for (let i = 0; i < 3; i++) expect((await berth.get(host, `/status/404?i=${i}`)).status).toBe(404);
    for (let i = 0; i < 2; i++) expect((await berth.get(host, '/status/500')).status).toBe(500);
    headersBody = (await berth.get(host, '/headers')).body;
  });
  afterAll(() => berth.stop());

  it('berth metrics --json: exact counts, classes and bytes of the active deployment', async () => {
    const r = await berth.cli(['metrics', '--json', ...web]);
    expect(r.stderr).toBe('');
    const m = JSON.parse(r.stdout) as { deploymentId: string; current: Snapshot; totals: Snapshot };
    const [latest] = await berth.settledDeployments(web);
    expect(m.deploymentId).toBe(latest.id);
    expect(m.current).toMatchObject({
      requests: 12,
      status: { '1xx': 0, '2xx': 7, '3xx': 0, '4xx': 3, '5xx': 2 },
      bytesIn: 0,
      bytesOut: 6 * 2 + 5 * 'status 404'.length + Buffer.byteLength(headersBody),
      active: 0,
    });
    expect(m.current.latencyMs.p50).toBeGreaterThan(0);
    expect(m.current.latencyMs.p50).toBeLessThanOrEqual(m.current.latencyMs.p99);
    expect(m.totals).toEqual(m.current);
  });

  it('berth metrics prints a table per service, and for the environment without -s', async () => {
    const one = await berth.cli(['metrics', ...web]);
    expect(one.stderr).toBe('');
    expect(one.stdout).toMatch(/REQUESTS\s+2XX\s+3XX\s+4XX\s+5XX\s+P50 MS\s+P95 MS\s+P99 MS/);
    expect(one.stdout).toMatch(/current \(\w{8}\)\s+12\s+7\s+0\s+3\s+2\s/);
    // from a directory without a link, so no service is implied
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-unlinked-'));
    const all = await berth.cli(['metrics', '-p', 'met'], { cwd: elsewhere });
    fs.rmSync(elsewhere, { recursive: true, force: true });
    expect(all.stderr).toBe('');
    expect(all.stdout).toMatch(/\nweb\s+12\s+7\s+0\s+3\s+2\s/);
  });

  it('berth logs --http: searchable by status and path, with the request id the app saw', async () => {
    const boom = await berth.cli(['logs', '--http', '--status', '5xx', '--json', ...web]);
    expect(boom.stderr).toBe('');
    const lines = boom.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ method: 'GET', path: '/status/500', status: 500, host, service: 'web' });

    const seen = (JSON.parse(headersBody) as Record<string, string>)['x-request-id'];
    const h = await berth.cli(['logs', '--http', '--path', '/headers', '--json', ...web]);
    expect(JSON.parse(h.stdout)).toMatchObject({ path: '/headers', status: 200, requestId: seen });

    const text = await berth.cli(['logs', '--http', '--status', '404', '-n', '2', ...web]);
    const rows = text.stdout.trim().split('\n');
    expect(rows).toHaveLength(2);
    // oldest of the last two first, like tail
    expect(rows[0]).toMatch(/ GET \/status\/404\?i=1 404 [\d.]+ms 10B /);
    expect(rows[1]).toMatch(/ GET \/status\/404\?i=2 404 /);
  });

  it("deletes an environment's access logs with the environment", async () => {
    // HAProxy's helper edge writes them in its own state dir.
    const logs = path.join(
      berth.dataDir,
      'edge',
      ...(kind === 'haproxy' ? ['haproxy', 'static'] : []),
      'access-logs',
    );
    const created = await berth.cli(['environment', 'new', 'qa', '--duplicate', 'production', '-p', 'met']);
    expect(created.code, created.stderr).toBe(0);
    const qa = ['-p', 'met', '-e', 'qa', '-s', 'web'];
    expect((await berth.settledDeployments(qa))[0].status).toBe('SUCCESS');
    expect((await berth.get(berth.hostFor('web', 'met', 'qa'), '/qa-only')).status).toBe(200);
    const qaLog = await berth.cli(['logs', '--http', '--json', ...qa]);
    expect(JSON.parse(qaLog.stdout)).toMatchObject({ path: '/qa-only' });
    expect(fs.readdirSync(logs)).toHaveLength(2);

    expect((await berth.cli(['environment', 'delete', 'qa', '-p', 'met'])).code).toBe(0);
    expect(fs.readdirSync(logs)).toHaveLength(1);
    // production's log is untouched
    const prod = await berth.cli(['logs', '--http', '-n', '1', '--json', ...web]);
    expect(JSON.parse(prod.stdout)).toMatchObject({ path: '/headers' });
  });

  it('refuses a bad status filter and filters without --http, in one sentence each', async () => {
    const bad = await berth.cli(['logs', '--http', '--status', '5x', ...web]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('status "5x" is neither a status class like 5xx nor a status code like 404');
    const stray = await berth.cli(['logs', '--status', '500', ...web]);
    expect(stray.code).toBe(1);
    expect(stray.stderr).toContain('--status filters the access log; add --http');
  });

  it("logs upload sizes, declared or chunked, and the client's own request id", async () => {
    const post = async (p: string, body: string | Readable, id: string) => {
      const res = await request(`http://127.0.0.1:${berth.httpPort}${p}`, {
        method: 'POST',
        headers: { host, 'x-request-id': id },
        body,
        reset: true,
      });
      await res.body.text();
      return res.statusCode;
    };
    async function* chunks() {
      yield 'abc';
      yield 'defgh';
    }
    expect(await post('/upload?declared', 'x'.repeat(1000), 'client "id" |1|')).toBe(200);
    expect(await post('/upload?chunked', Readable.from(chunks()), 'client-2')).toBe(200);
    // An edge records a request once its answer is sent, maybe just after the client has it.
    const lines = await waitFor('both uploads in the access log', async () => {
      const r = await berth.cli(['logs', '--http', '--json', '--path', '/upload', ...web]);
      const found = r.stdout
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l));
      return found.length === 2 ? found : null;
    });
    expect(lines.map((l) => [l.method, l.path, l.status, l.bytesIn, l.bytesOut, l.requestId])).toEqual([
      ['POST', '/upload?declared', 200, 1000, 'got 1000'.length, 'client "id" |1|'],
      ['POST', '/upload?chunked', 200, 8, 'got 8'.length, 'client-2'],
    ]);
  });

  it.skipIf(kind !== 'haproxy')(
    'says so when HAProxy dropped log lines while the helper edge was stopped',
    async () => {
      const helperPid = Number(
        fs.readFileSync(path.join(berth.dataDir, 'edge', 'haproxy', 'static', 'edge.pid'), 'utf8'),
      );
      const before = JSON.parse((await berth.cli(['metrics', '--json', ...web])).stdout);
      expect(before.lost).toEqual({ requests: 0, accessLogLines: 0 });
      process.kill(helperPid, 'SIGSTOP');
      try {
        // ~200 bytes a line: the 64 kB pipe is full after a few hundred
        const pool = new Pool(`http://127.0.0.1:${berth.httpPort}`, { connections: 10 });
        const one = async () => {
          const res = await pool.request({ path: '/', method: 'GET', headers: { host } });
          await res.body.dump();
        };
        for (let i = 0; i < 100; i++) await Promise.all(Array.from({ length: 10 }, one));
        await pool.close();
      } finally {
        process.kill(helperPid, 'SIGCONT');
      }
      const r = await berth.cli(['metrics', ...web]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /^Note: the edge served \d+ requests it could not count \(its request log fell behind\), so these figures are low\.\n$/,
      );
      // every request is either counted (once the helper has read what the pipe held) or reported lost
      const after = await waitFor('the helper to catch up', async () => {
        const m = JSON.parse((await berth.cli(['metrics', '--json', ...web])).stdout);
        return m.totals.requests + m.lost.requests === before.totals.requests + 1000 ? m : null;
      });
      expect(after.lost.requests).toBeGreaterThan(0);
    },
  );
});
