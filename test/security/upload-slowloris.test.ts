import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { RawRequest, requestHead } from '../helpers/raw-http.js';

/**
 * Attack: open `berth up` uploads and send their bodies a few bytes at a time (or not at all), holding a
 * connection, a file and a request open for ever. Now an upload has a deadline for the whole body and a
 * limit on pauses (3 s and 1 s here, set for the test): past either, 408, the connection closes and the
 * temp file is gone.
 */
describe('an upload that trickles', () => {
  const berth = new BerthHarness();
  const uploads = () => fs.readdirSync(path.join(berth.dataDir, 'tmp', 'uploads'));
  const open = () => {
    const req = new RawRequest(
      berth.apiPort,
      requestHead('POST', '/v1/projects/slow/environments/production/services/web/up?create=1', {
        host: '127.0.0.1',
        authorization: `Bearer ${berth.token}`,
        'content-type': 'application/gzip',
        'transfer-encoding': 'chunked',
      }),
    );
    req.chunk(Buffer.from('first bytes'));
    return req;
  };

  beforeAll(async () => {
    berth.daemonEnv = { BERTH_UPLOAD_TIMEOUT_MS: '3000', BERTH_UPLOAD_IDLE_MS: '1000' };
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('is stopped at the upload deadline even though bytes keep coming', async () => {
    const started = Date.now();
    const req = open();
    const trickle = setInterval(() => req.chunk(Buffer.from('x')), 200);
    try {
      const res = await req.response;
      expect(res.status).toBe(408);
      expect(JSON.parse(res.body).error.message).toBe(
        'The upload did not arrive within 3s and was stopped; try again on a faster connection.',
      );
      await req.closed;
    } finally {
      clearInterval(trickle);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(uploads()).toEqual([]);
  });

  it('is stopped when it stalls', async () => {
    const req = open();
    const res = await req.response;
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body).error.message).toBe(
      'The upload stalled (nothing arrived for 1s) and was stopped; try again.',
    );
    await req.closed;
    expect(uploads()).toEqual([]);
  });
});
