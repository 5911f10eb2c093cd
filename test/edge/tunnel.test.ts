/** The answer that opens an Upgrade tunnel (src/edge/tunnel.ts); the tunnels themselves: test/security/upgrade-tunnel-bypass. */

import { describe, expect, it } from 'vitest';
import { switchesProtocols } from '../../src/edge/tunnel.js';

describe('switchesProtocols', () => {
  it.each([
    ['HTTP/1.1 101 Switching Protocols\r\n\r\n', true],
    ['HTTP/1.0 101\r\n\r\n', true],
    ['HTTP/1.1 101 \r\n\r\n', true],
    ['HTTP/1.1 200 OK\r\n\r\n', false],
    ['HTTP/1.1 1010 x\r\n\r\n', false],
    ['HTTP/1.1 400 Bad Request\r\n\r\n', false],
    ['HTTP/2 101\r\n\r\n', false],
    [' HTTP/1.1 101\r\n\r\n', false],
  ])('%j → %s', (answer, opens) => {
    expect(switchesProtocols(Buffer.from(answer, 'latin1'))).toBe(opens);
  });
});
