import zlib from 'node:zlib';
import { Header } from 'tar';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

interface Entry {
  path: string;
  type: 'File' | 'SymbolicLink' | 'CharacterDevice';
  body?: string;
  linkpath?: string;
}

/** A gzipped tar written header by header, so it can hold what no honest `tar c` writes. */
function tarGz(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const head = Buffer.alloc(512);
    new Header({
      path: e.path,
      type: e.type,
      size: body.length,
      linkpath: e.linkpath,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
    }).encode(head, 0);
    blocks.push(head, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(blocks));
}

/**
 * Attack: upload a source whose tar holds an entry that would land outside the build tree (a `..` path,
 * an absolute path, a symlink escaping it) or a device file. Extraction refused them, but the deployment
 * said "internal error". Now it fails naming the entry and why, through the real upload route and deploy.
 */
describe('a source archive with a bad entry', () => {
  const berth = new BerthHarness();
  const server = {
    path: 'server.js',
    type: 'File',
    body: 'require("http").createServer().listen(process.env.PORT)',
  } as const;

  /** Uploads the archive as `berth up` would and returns the deployment's final reason. */
  const deploy = async (archive: Buffer): Promise<string | null> => {
    const res = await request(
      `${berth.url}/v1/projects/bad/environments/production/services/web/up?create=1`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${berth.token}`, 'content-type': 'application/gzip' },
        body: archive,
      },
    );
    const { deploymentId } = (await res.body.json()) as { deploymentId: string };
    expect(res.statusCode).toBe(201);
    const d = await waitFor('the deployment to fail', async () => {
      const r = await request(`${berth.url}/v1/deployments/${deploymentId}`, {
        headers: { authorization: `Bearer ${berth.token}` },
      });
      const body = (await r.body.json()) as { status: string; reason: string | null };
      return body.status === 'FAILED' || body.status === 'SUCCESS' ? body : null;
    });
    expect(d.status).toBe('FAILED');
    return d.reason;
  };

  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('names a path climbing out with ..', async () => {
    expect(await deploy(tarGz([server, { path: '../escape.txt', type: 'File', body: 'x' }]))).toBe(
      'the source archive\'s entry "../escape.txt" was refused: it points outside the source tree; remove it from the source and deploy again',
    );
  });

  it('names an absolute path', async () => {
    expect(await deploy(tarGz([server, { path: '/tmp/absolute.txt', type: 'File', body: 'x' }]))).toBe(
      'the source archive\'s entry "/tmp/absolute.txt" was refused: its path is absolute; remove it from the source and deploy again',
    );
  });

  it('names a symlink escaping the tree, and one to an absolute path', async () => {
    expect(
      await deploy(tarGz([server, { path: 'data', type: 'SymbolicLink', linkpath: '../../../../etc' }])),
    ).toBe(
      'the source archive\'s entry "data" (a link to "../../../../etc") was refused: it points outside the source tree; remove it from the source and deploy again',
    );
    expect(
      await deploy(tarGz([server, { path: 'secret', type: 'SymbolicLink', linkpath: '/etc/passwd' }])),
    ).toBe(
      'the source archive\'s entry "secret" (a link to "/etc/passwd") was refused: its link target is absolute; remove it from the source and deploy again',
    );
  });

  it('names a device file', async () => {
    expect(await deploy(tarGz([server, { path: 'null', type: 'CharacterDevice' }]))).toBe(
      'the source archive\'s entry "null" was refused: it is a CharacterDevice, which a source cannot contain; remove it from the source and deploy again',
    );
  });

  it('says when the upload is not a tar at all', async () => {
    expect(await deploy(zlib.gzipSync(Buffer.from('just some text, not a tar archive')))).toMatch(
      /^the source is not a valid gzipped tar archive \(.+\); upload it again$/,
    );
  });
});
