import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkRepoUrl } from '../../src/webhooks/remote.js';
import { signBody, verifySignature } from '../../src/webhooks/signature.js';

describe('webhook signatures', () => {
  const body = Buffer.from('{"zen":"Keep it logically awesome."}');

  it("match GitHub's X-Hub-Signature-256 (sha256= + hex HMAC of the raw body)", () => {
    const hex = createHmac('sha256', 'secret').update(body).digest('hex');
    expect(signBody('secret', body)).toBe(`sha256=${hex}`);
    expect(verifySignature('secret', body, `sha256=${hex}`)).toBe(true);
  });

  it('refuse a wrong secret, another body, a missing or malformed header', () => {
    const good = signBody('secret', body);
    expect(verifySignature('other', body, good)).toBe(false);
    expect(verifySignature('secret', Buffer.from(`${body} `), good)).toBe(false);
    expect(verifySignature('secret', body, undefined)).toBe(false);
    expect(verifySignature('secret', body, good.replace('sha256=', 'sha1='))).toBe(false);
    expect(verifySignature('secret', body, good.slice(0, -1))).toBe(false);
  });
});

describe('repository URLs', () => {
  it('accept what git fetches, refuse options and the ext transport', () => {
    expect(checkRepoUrl(' https://github.com/a/b.git ')).toBe('https://github.com/a/b.git');
    expect(checkRepoUrl('/srv/git/app.git')).toBe('/srv/git/app.git');
    expect(() => checkRepoUrl('--upload-pack=touch /tmp/x')).toThrow(/not a repository URL/);
    expect(() => checkRepoUrl('ext::sh -c touch% /tmp/x')).toThrow(/not a repository URL/);
    expect(() => checkRepoUrl('https://x\nevil')).toThrow(/not a repository URL/);
  });
});
