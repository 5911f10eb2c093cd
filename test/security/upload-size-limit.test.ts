import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { RawRequest, requestHead } from '../helpers/raw-http.js';

/**
 * Attack: `berth up`'s upload route promised a 512 MiB cap but a streamed (chunked) body never met it,
 * so any token holder could fill the disk (560 MB was stored). Now the upload is counted as it streams:
 * past the cap (1 MiB here, set for the test) the answer is 413, the connection closes, and nothing stays
 * on disk — neither a source snapshot nor a temp file — nor is a project or deployment created.
 */
describe('an upload larger than the cap', () => {
  const berth = new BerthHarness();
  const cap = 1024 * 1024;
  const upPath = (project: string) =>
    `/v1/projects/${project}/environments/production/services/web/up?create=1`;
  const leftovers = () =>
    ['sources', path.join('tmp', 'uploads')].flatMap((d) => {
      try {
        return fs.readdirSync(path.join(berth.dataDir, d));
      } catch {
        return [];
      }
    });
  const projects = async () => {
    const res = await request(`${berth.url}/v1/projects`, {
      headers: { authorization: `Bearer ${berth.token}` },
    });
    return ((await res.body.json()) as { name: string }[]).map((p) => p.name);
  };

  beforeAll(async () => {
    berth.daemonEnv = { BERTH_MAX_UPLOAD_BYTES: String(cap) };
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('stops a chunked body at the cap with 413 and keeps nothing', async () => {
    const req = new RawRequest(
      berth.apiPort,
      requestHead('POST', upPath('big'), {
        host: '127.0.0.1',
        authorization: `Bearer ${berth.token}`,
        'content-type': 'application/gzip',
        'transfer-encoding': 'chunked',
      }),
    );
    const piece = Buffer.alloc(64 * 1024, 7);
    // Up to three times the cap; the server answers (and closes) long before.
    for (let sent = 0; sent < 3 * cap; sent += piece.length) {
      if (!req.chunk(piece)) break;
      await new Promise((r) => setImmediate(r));
    }
    const res = await req.response;
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.message).toBe(
      'The upload is larger than the 1 MiB this server accepts; leave build output and large files out (.gitignore) and try again.',
    );
    await req.closed;
    expect(leftovers()).toEqual([]);
    expect(await projects()).not.toContain('big');
  });

  it('refuses a declared Content-Length over the cap before reading the body', async () => {
    const req = new RawRequest(
      berth.apiPort,
      requestHead('POST', upPath('declared'), {
        host: '127.0.0.1',
        authorization: `Bearer ${berth.token}`,
        'content-type': 'application/gzip',
        'content-length': String(600 * 1024 * 1024),
      }),
    );
    req.write(Buffer.alloc(1024));
    const res = await req.response;
    expect(res.status).toBe(413);
    await req.closed;
    expect(leftovers()).toEqual([]);
  });

  it('still takes an upload under the cap', async () => {
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), '-p', 'small', '-s', 'web']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect((await berth.get(berth.hostFor('web', 'small'))).body).toBe('v1');
    expect(fs.readdirSync(path.join(berth.dataDir, 'tmp', 'uploads'))).toEqual([]);
  });
});
