import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { privateAddress, privateDomain } from '../../src/deploy/private-network.js';
import {
  claimPrivateNet,
  listeningLoopbackNets,
  removeHostsBlock,
  writeHostsBlock,
} from '../../src/lib/hosts-file.js';
import { makeTmpDir } from '../helpers/tmp.js';

/** What else on the machine listens must not decide these tests (other suites' servers hold 127.77 at times). */
const nothingListens = () => new Set<string>();
const claim = (file: string, dataDir: string, preferred?: string | null) =>
  claimPrivateNet(file, dataDir, preferred, nothingListens);

let tmp: { dir: string; cleanup: () => void };
let hosts: string;
let dataA: string;
let dataB: string;
const ORIGINAL = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n';

beforeEach(() => {
  tmp = makeTmpDir('berth-hosts-');
  hosts = path.join(tmp.dir, 'hosts');
  fs.writeFileSync(hosts, ORIGINAL);
  dataA = path.join(tmp.dir, 'a');
  dataB = path.join(tmp.dir, 'b');
  fs.mkdirSync(dataA);
  fs.mkdirSync(dataB);
});
afterEach(() => tmp.cleanup());

describe('hosts file blocks', () => {
  it('gives each data dir its own private net, and the same one again later', async () => {
    expect(await claim(hosts, dataA)).toBe('127.77');
    expect(await claim(hosts, dataB, '127.77')).toBe('127.78'); // preferred but taken
    expect(await claim(hosts, dataA)).toBe('127.77');
    const text = fs.readFileSync(hosts, 'utf8');
    expect(text.startsWith(ORIGINAL)).toBe(true);
    expect(text).toContain(`# berth begin net=127.78 data=${dataB}\n# berth end data=${dataB}\n`);
  });

  it('writes, replaces in place and removes a block, leaving the rest of the file alone', async () => {
    await claim(hosts, dataA);
    await claim(hosts, dataB);
    await writeHostsBlock(hosts, dataA, '127.77', [
      { ip: '127.77.0.1', names: ['api.production.shop.internal'] },
    ]);
    await writeHostsBlock(hosts, dataB, '127.78', [
      { ip: '127.78.0.1', names: ['db.production.other.internal'] },
    ]);
    await writeHostsBlock(hosts, dataA, '127.77', [
      { ip: '127.77.0.1', names: ['api.production.shop.internal'] },
      { ip: '127.77.0.2', names: ['web.production.shop.internal'] },
    ]);
    expect(fs.readFileSync(hosts, 'utf8')).toBe(
      `${ORIGINAL}# berth begin net=127.77 data=${dataA}\n127.77.0.1 api.production.shop.internal\n` +
        `127.77.0.2 web.production.shop.internal\n# berth end data=${dataA}\n` +
        `# berth begin net=127.78 data=${dataB}\n127.78.0.1 db.production.other.internal\n# berth end data=${dataB}\n`,
    );
    await removeHostsBlock(hosts, dataA);
    await removeHostsBlock(hosts, dataB);
    expect(fs.readFileSync(hosts, 'utf8')).toBe(ORIGINAL);
  });

  it('skips a net something on the machine already listens in', async () => {
    expect(await claimPrivateNet(hosts, dataA, '127.77', () => new Set(['127.77', '127.78']))).toBe('127.79');
  });

  it('drops the blocks of data dirs that no longer exist', async () => {
    await writeHostsBlock(hosts, dataB, '127.78', [
      { ip: '127.78.0.1', names: ['gone.production.x.internal'] },
    ]);
    fs.rmSync(dataB, { recursive: true });
    expect(await claim(hosts, dataA)).toBe('127.77');
    expect(fs.readFileSync(hosts, 'utf8')).not.toContain('gone.production');
  });

  it('serialises concurrent writers so no block is lost', async () => {
    const dirs = Array.from({ length: 6 }, (_, i) => path.join(tmp.dir, `d${i}`));
    for (const d of dirs) fs.mkdirSync(d);
    const nets = await Promise.all(dirs.map((d) => claim(hosts, d)));
    expect(new Set(nets).size).toBe(dirs.length);
    const text = fs.readFileSync(hosts, 'utf8');
    for (const d of dirs) expect(text).toContain(`data=${d}\n`);
  });

  it('finds the 127.N nets something listens in, from /proc/net/tcp', () => {
    const proc = path.join(tmp.dir, 'tcp');
    fs.writeFileSync(
      proc,
      '  sl  local_address rem_address   st\n' +
        '   0: 01004D7F:2711 00000000:0000 0A 0\n' + // 127.77.0.1:10001 LISTEN
        '   1: 0100007F:1F90 00000000:0000 0A 0\n' + // 127.0.0.1 LISTEN: not a private net
        '   2: 01005A7F:2711 0100007F:B0EB 01 0\n' + // 127.90.0.1 ESTABLISHED: not listening
        '   3: 00000000:07E8 00000000:0000 0A 0\n', // 0.0.0.0
    );
    expect(listeningLoopbackNets(proc)).toEqual(new Set(['127.77']));
    expect(listeningLoopbackNets(path.join(tmp.dir, 'missing'))).toEqual(new Set());
  });

  it('names the file and the reason when it cannot write', async () => {
    const missingDir = path.join(tmp.dir, 'no-such-dir', 'hosts');
    await expect(claimPrivateNet(missingDir, dataA)).rejects.toThrow(`cannot update ${missingDir}`);
  });
});

describe('private addresses', () => {
  it('derives a DNS-safe domain per service, environment and project', () => {
    expect(privateDomain({ service: 'API_Server', environment: 'br-feature/x', project: 'Shop' })).toBe(
      'api-server.br-feature-x.shop.internal',
    );
  });

  it('maps endpoint numbers to loopback addresses without .0/.255 and to default ports below the ephemeral range', () => {
    expect(privateAddress('127.77', 1)).toEqual({ ip: '127.77.0.1', defaultPort: 10001 });
    expect(privateAddress('127.77', 254)).toEqual({ ip: '127.77.0.254', defaultPort: 10254 });
    expect(privateAddress('127.78', 255)).toEqual({ ip: '127.78.1.1', defaultPort: 10255 });
    expect(() => privateAddress('127.77', 22_001)).toThrow(/out of range/);
  });
});
