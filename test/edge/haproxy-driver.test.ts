/**
 * The HAProxy driver against a real HAProxy and real upstreams, below the daemon: draining across a reload
 * (old workers' sessions count), and re-attaching from a fresh driver object without a reload.
 */

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeProcess } from '../../src/edge/edge-client.js';
import { findHaproxy, HaproxyEdge } from '../../src/edge/haproxy/driver.js';
import { LOG_FORMAT_ID } from '../../src/edge/haproxy/log-format.js';
import type { Route, RouteTarget, RoutingTable } from '../../src/edge/routing-table.js';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { needs } from '../helpers/optional-tools.js';
import { makeTmpDir } from '../helpers/tmp.js';

const binary = findHaproxy();

function upstream(name: string): Promise<{ target: RouteTarget; server: http.Server }> {
  const server = http.createServer((req, res) => {
    const ms = req.url?.startsWith('/slow') ? 1500 : 0;
    setTimeout(() => res.end(name), ms);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ target: { id: name, host: '127.0.0.1', port }, server });
    }),
  );
}

function route(service: string, targets: RouteTarget[]): Route {
  return {
    hostnames: [`${service}.localhost`],
    project: 'p',
    environment: 'production',
    service,
    deploymentId: `d-${service}`,
    kind: 'proxy',
    targets,
    staticRoot: null,
  };
}

const suite = needs('haproxy', 'HAProxy driver');
describe.skipIf(binary === null)(suite.title, () => {
  const tmp = makeTmpDir('berth-hadrv-');
  let port: number;
  let edge: HaproxyEdge;
  const ups: { target: RouteTarget; server: http.Server }[] = [];
  const opts = () => ({ stateDir: path.join(tmp.dir, 'edge'), port, host: '127.0.0.1', binary: binary! });
  const get = async (host: string, p = '/') => {
    const res = await request(`http://127.0.0.1:${port}${p}`, { headers: { host } });
    return { status: res.statusCode, body: await res.body.text() };
  };

  beforeAll(async () => {
    port = await freePort();
    ups.push(await upstream('a'), await upstream('b'));
    edge = new HaproxyEdge(opts());
    await edge.ensureRunning();
  });
  afterAll(async () => {
    await edge.stop(5000);
    for (const u of ups) u.server.close();
    tmp.cleanup();
  });

  it('waitIdle counts a request still running in the old worker after a reload', async () => {
    const [a, b] = ups.map((u) => u.target);
    const table = (version: number, routes: Route[]): RoutingTable => ({ version, routes });
    await edge.apply(table(1, [route('web', [a])]));
    const slow = get('web.localhost', '/slow');
    await waitFor(
      'the slow request to be in flight',
      async () => (await edge.stats()).targets.a?.active === 1,
    );
    // a replaced by b (runtime), and a new service (reload): the request on a now lives in the old worker
    const reloadsBefore = (await edge.procList()).master.reloads;
    await edge.apply(table(2, [route('web', [b]), route('api', [b])]));
    expect((await edge.procList()).master.reloads).toBe(reloadsBefore + 1);
    expect((await edge.procList()).oldWorkers.length).toBe(1);
    expect(await edge.waitIdle(['a'], 200)).toBe(false);
    expect(await edge.waitIdle(['a'], 5000)).toBe(true);
    expect(await slow).toEqual({ status: 200, body: 'a' });
    expect((await get('web.localhost')).body).toBe('b');
    expect((await get('api.localhost')).body).toBe('b');
  });

  it('a new driver object re-attaches without a reload and keeps the slot ids', async () => {
    const procs = await edge.procList();
    const again = new HaproxyEdge(opts());
    expect(await again.ensureRunning()).toBe(procs.master.pid);
    expect(Object.keys((await again.stats()).targets).sort()).toEqual(['a', 'b']);
    const [a, b] = ups.map((u) => u.target);
    await again.apply({ version: 3, routes: [route('web', [b, a]), route('api', [b])] });
    expect((await again.procList()).master.reloads).toBe(procs.master.reloads);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get('web.localhost')).body);
    expect([...seen].sort()).toEqual(['a', 'b']);
    edge = again;
  });

  it('refuses to be adopted on other ports: a restart with other flags does not move live traffic', async () => {
    const before = await edge.procList();
    const other = await freePort();
    await expect(new HaproxyEdge({ ...opts(), port: other }).ensureRunning()).rejects.toThrow(
      `HAProxy (pid ${before.master.pid}) already runs for ${path.join(tmp.dir, 'edge')} on ports ${port}/no HTTPS, not ${other}/no HTTPS; stop it first (berth server --stop-edge) to change them.`,
    );
    expect((await edge.procList()).master.reloads).toBe(before.master.reloads);
    expect((await get('web.localhost')).status).toBe(200);
  });

  it('after an upgrade: reloads a HAProxy configured by another template, restarts a helper of another log format', async () => {
    const stateDir = path.join(tmp.dir, 'edge', 'haproxy', 'static');
    const cfgFile = path.join(tmp.dir, 'edge', 'haproxy', 'haproxy.cfg');
    const current = await new EdgeProcess({ stateDir, port: 0 }).health();
    expect(current.haproxyLog).toBe(LOG_FORMAT_ID);
    // what an older Berth leaves: a config from another template, a helper that reads no HAProxy log at all
    const cfg = fs.readFileSync(cfgFile, 'utf8');
    fs.writeFileSync(cfgFile, cfg.replace(/^# Berth template \w+\n/, ''));
    await new EdgeProcess({ stateDir, port: 0 }).stop(5000);
    const stale = new EdgeProcess({ stateDir, port: current.port, host: '127.0.0.1' });
    await stale.ensureRunning();
    expect((await stale.health()).haproxyLog).toBeUndefined();
    const before = await edge.procList();

    const again = new HaproxyEdge(opts());
    expect(await again.ensureRunning()).toBe(before.master.pid);
    expect((await again.procList()).master.reloads).toBe(before.master.reloads + 1);
    // rewritten from the runtime state, by this template
    expect(fs.readFileSync(cfgFile, 'utf8').split('\n', 1)).toEqual(cfg.split('\n', 1));
    const helper = await new EdgeProcess({ stateDir, port: 0 }).health();
    expect(helper).toMatchObject({ haproxyLog: LOG_FORMAT_ID, port: current.port });
    expect(helper.pid).not.toBe(current.pid);
    // the reload kept the replicas the runtime API had set
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get('web.localhost')).body);
    expect([...seen].sort()).toEqual(['a', 'b']);
    // and a daemon of the same Berth re-attaches without one
    const same = new HaproxyEdge(opts());
    await same.ensureRunning();
    expect((await same.procList()).master.reloads).toBe(before.master.reloads + 1);
    edge = same;
  });
});
