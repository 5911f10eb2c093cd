import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PrivateNetwork } from '../../src/edge/private-net.js';
import type { PrivateEndpoint, RouteTarget } from '../../src/edge/routing-table.js';
import { freePort } from '../../src/lib/net.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A TCP server that answers, once the client half-closes, with `<name>:<everything received>`. */
async function upstream(name: string): Promise<RouteTarget> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('end', () => s.end(`${name}:${got}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  return { id: name, host: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
}

/** Sends `text`, half-closes, and resolves with the whole answer ('' when the edge closed at once). */
function exchange(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, allowHalfOpen: true });
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.end(text);
  });
}

async function network(targets: RouteTarget[], host = '127.77.250.1') {
  const pn = new PrivateNetwork(() => {});
  cleanups.push(() => pn.close(true));
  const endpoint: PrivateEndpoint = {
    name: 'api.production.t.internal',
    host,
    port: await freePort(),
    deploymentId: 'd1',
    targets,
  };
  return { pn, endpoint, problems: await pn.apply([endpoint]) };
}

describe('private network forwarding', () => {
  it('forwards TCP both ways with half-close, round-robin over the replicas', async () => {
    const { endpoint, problems, pn } = await network([await upstream('a'), await upstream('b')]);
    expect(problems).toEqual([]);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await exchange(endpoint.host, endpoint.port, `hi${i}`));
    expect(answers.sort()).toEqual(['a:hi1', 'a:hi3', 'b:hi0', 'b:hi2'].sort());
    expect(pn.targetStats().get('a')).toEqual({ active: 0, total: 2 });
  });

  it('closes connections at once when the service has no healthy replica', async () => {
    const { endpoint } = await network([]);
    expect(await exchange(endpoint.host, endpoint.port, 'anyone?')).toBe('');
  });

  it('moves a connection to another replica when one refuses it', async () => {
    const dead: RouteTarget = { id: 'dead', host: '127.0.0.1', port: await freePort() };
    const live = await upstream('live');
    const { endpoint } = await network([dead, live]);
    for (let i = 0; i < 3; i++) expect(await exchange(endpoint.host, endpoint.port, 'x')).toBe('live:x');
  });

  it('keeps the listener across table swaps and sends new connections to the new targets', async () => {
    const { pn, endpoint } = await network([await upstream('old')]);
    expect(await exchange(endpoint.host, endpoint.port, '1')).toBe('old:1');
    expect(await pn.apply([{ ...endpoint, targets: [await upstream('new')] }])).toEqual([]);
    expect(await exchange(endpoint.host, endpoint.port, '2')).toBe('new:2');
    await pn.apply([]);
    await expect(exchange(endpoint.host, endpoint.port, '3')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('reports an address it cannot listen on instead of failing the whole table', async () => {
    const taken = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => taken.listen(port, '127.77.250.2', r));
    cleanups.push(() => taken.close());
    const pn = new PrivateNetwork(() => {});
    cleanups.push(() => pn.close(true));
    const problems = await pn.apply([
      { name: 'busy.production.t.internal', host: '127.77.250.2', port, deploymentId: 'd', targets: [] },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^busy\.production\.t\.internal \(127\.77\.250\.2:\d+\): .*EADDRINUSE/);
  });
});
