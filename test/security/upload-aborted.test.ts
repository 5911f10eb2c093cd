import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';
import { RawRequest, requestHead } from '../helpers/raw-http.js';

/**
 * Attack: start `berth up` uploads and cut them off halfway, again and again; each one used to leave its
 * temp file behind. Now a cut-off upload's file is removed as soon as the connection drops.
 */
describe('an upload cut off halfway', () => {
  const berth = new BerthHarness();
  const uploads = () => path.join(berth.dataDir, 'tmp', 'uploads');

  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('leaves no temp file and no deployment behind', async () => {
    const req = new RawRequest(
      berth.apiPort,
      requestHead('POST', '/v1/projects/cut/environments/production/services/web/up?create=1', {
        host: '127.0.0.1',
        authorization: `Bearer ${berth.token}`,
        'content-type': 'application/gzip',
        'transfer-encoding': 'chunked',
      }),
    );
    req.chunk(Buffer.alloc(256 * 1024, 1));
    // The upload is being written to disk...
    await waitFor('the upload to reach the disk', () => {
      const files = fs.readdirSync(uploads());
      return files.length === 1 && fs.statSync(path.join(uploads(), files[0])).size > 0;
    });
    // ...when the client goes away.
    req.destroy();
    await waitFor('the temp file to be removed', () => fs.readdirSync(uploads()).length === 0);
    expect(fs.existsSync(path.join(berth.dataDir, 'sources'))).toBe(false);
    const r = await berth.cli(['deployments', '--json', '-p', 'cut', '-s', 'web']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Project "cut" does not exist/);
  });
});
