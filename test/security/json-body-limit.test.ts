import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/webhooks/signature.js';
import { BerthHarness } from '../helpers/berth.js';

/**
 * Attack: every JSON route buffered and parsed bodies of up to 512 MiB (the upload cap), so a token
 * holder could make the daemon hold hundreds of MB per request. Now JSON routes take 1 MiB (413 past
 * it); only the webhook route takes more (GitHub's payloads go up to 25 MB) and the upload route streams.
 */
describe('a huge JSON body', () => {
  const berth = new BerthHarness();
  const secret = 'a-webhook-secret-for-json-tests';
  const post = async (p: string, body: string, headers: Record<string, string> = {}) => {
    const res = await request(`${berth.url}${p}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${berth.token}`, 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    await berth.start();
    const r = await berth.cli(['init', '--name', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const w = await berth.cli(['webhook', '-p', 'json', '--secret', secret]);
    expect(w.code, w.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('is refused with 413 on JSON routes', async () => {
    const big = JSON.stringify({ name: 'big', padding: 'x'.repeat(2 * 1024 * 1024) });
    const res = await post('/v1/projects', big);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      error: {
        code: 'payload_too_large',
        message: 'The request body is larger than the 1 MiB this route accepts; send less.',
      },
    });
    // A normal body still goes through.
    expect((await post('/v1/projects', JSON.stringify({ name: 'small' }))).status).toBe(201);
  });

  it('still lets a signed webhook carry a few MB', async () => {
    const body = JSON.stringify({
      ref: 'refs/tags/v1',
      after: 'a'.repeat(40),
      padding: 'y'.repeat(3 * 1024 * 1024),
    });
    const res = await post('/v1/webhooks/github?project=json', body, {
      'x-github-event': 'push',
      'x-hub-signature-256': signBody(secret, body),
    });
    expect(res.status).toBe(202);
    expect(res.body.ignored).toMatch(/is not a branch/);
  });
});
