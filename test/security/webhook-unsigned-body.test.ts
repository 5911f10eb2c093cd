import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { RawRequest, requestHead } from '../helpers/raw-http.js';

/**
 * Attack: the webhook routes need no token, and they read (and buffered) up to 26 MB of body before
 * looking at the project or its signature, so anyone could make the daemon buffer 26 MB per request.
 * Now an unknown project, or one without a webhook secret, is answered 401 before its body is read (here:
 * while most of it was never sent) and the connection is closed; a known project's body is capped at 25 MiB.
 */
describe('an unsigned webhook with a huge body', () => {
  const berth = new BerthHarness();
  const declared = String(26 * 1000 * 1000);
  /** A webhook request declaring a 26 MB body of which only 1 KiB is ever sent. */
  const send = (route: 'github' | 'gitlab', project: string) => {
    const req = new RawRequest(
      berth.apiPort,
      requestHead('POST', `/v1/webhooks/${route}?project=${project}`, {
        host: '127.0.0.1',
        'content-type': 'application/json',
        'content-length': declared,
        'x-github-event': 'push',
        'x-gitlab-event': 'Push Hook',
      }),
    );
    req.write(Buffer.alloc(1024, 32));
    return req;
  };

  beforeAll(async () => {
    await berth.start();
    for (const args of [
      ['init', '--name', 'nosecret'],
      ['init', '--name', 'signed'],
      ['webhook', '-p', 'signed', '--secret', 'a-webhook-secret-for-body-tests'],
    ]) {
      const r = await berth.cli(args);
      expect(r.code, r.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('is answered 401 without reading the body when the project does not exist', async () => {
    for (const route of ['github', 'gitlab'] as const) {
      const req = send(route, 'nosuchproject');
      const res = await req.response;
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe('unauthorized');
      await req.closed;
    }
  });

  it('is answered 401 without reading the body when the project has no webhook secret', async () => {
    const req = send('github', 'nosecret');
    const res = await req.response;
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.message).toMatch(/signature is missing or wrong/);
    await req.closed;
  });

  it('refuses a body over 25 MiB even for a project with a secret, before reading it', async () => {
    const req = new RawRequest(
      berth.apiPort,
      requestHead('POST', '/v1/webhooks/github?project=signed', {
        host: '127.0.0.1',
        'content-type': 'application/json',
        'content-length': String(25 * 1024 * 1024 + 1),
        'x-github-event': 'push',
      }),
    );
    req.write('{');
    const res = await req.response;
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.message).toBe(
      'The request body is larger than the 25 MiB this route accepts; send less.',
    );
    req.destroy();
  });
});
