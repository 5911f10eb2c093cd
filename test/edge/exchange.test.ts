/**
 * The retry rules of one proxied request (src/edge/exchange.ts). The exchange itself runs in the edge tests
 * (test/edge/edge.test.ts: retries, drains, aborts) and the conformance suite.
 */

import { describe, expect, it } from 'vitest';
import { errCode, nothingSent, replayable } from '../../src/edge/exchange.js';
import { BODY_LENGTH, BODY_NONE } from '../../src/edge/forward-headers.js';

describe('retry rules', () => {
  it('reads an error code, or none', () => {
    expect(errCode(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(errCode(new Error('x'))).toBe('');
    expect(errCode(null)).toBe('');
  });

  it('treats a failed connect as nothing sent, whatever the code', () => {
    expect(nothingSent('ECONNRESET', false)).toBe(true);
    expect(nothingSent('ECONNREFUSED', true)).toBe(true);
    expect(nothingSent('ETIMEDOUT', true)).toBe(true);
    expect(nothingSent('ECONNRESET', true)).toBe(false);
    expect(nothingSent('UPSTREAM_BAD_RESPONSE', true)).toBe(false);
  });

  it('replays after a reset only what cannot have changed anything', () => {
    expect(replayable('ECONNRESET', false, BODY_NONE, 'GET')).toBe(true);
    expect(replayable('UPSTREAM_CLOSED', false, BODY_NONE, 'HEAD')).toBe(true);
    expect(replayable('EPIPE', false, BODY_NONE, 'POST')).toBe(false);
    expect(replayable('ECONNRESET', false, BODY_LENGTH, 'GET')).toBe(false);
    expect(replayable('ECONNRESET', true, BODY_LENGTH, 'POST')).toBe(true); // nothing was sent
    expect(replayable('UPSTREAM_BAD_RESPONSE', true, BODY_NONE, 'GET')).toBe(false); // not a reset
  });
});
