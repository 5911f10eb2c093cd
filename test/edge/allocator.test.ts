/** The edge's malloc choice (src/edge/allocator.ts): jemalloc preloaded when installed, unless opted out. */

import { describe, expect, it } from 'vitest';
import { edgeEnv, findJemalloc, JEMALLOC_CONF } from '../../src/edge/allocator.js';

describe('edge allocator', () => {
  it('preloads jemalloc when installed, before an LD_PRELOAD already set; BERTH_EDGE_JEMALLOC=0 opts out', () => {
    const lib = findJemalloc();
    const env = edgeEnv({ PATH: '/usr/bin', LD_PRELOAD: '/opt/other.so' });
    if (lib === null) {
      expect(env.LD_PRELOAD).toBe('/opt/other.so');
    } else {
      expect(env.LD_PRELOAD).toBe(`${lib}:/opt/other.so`);
      expect(edgeEnv({ PATH: '/usr/bin' })).toMatchObject({ LD_PRELOAD: lib, MALLOC_CONF: JEMALLOC_CONF });
      expect(edgeEnv({ MALLOC_CONF: 'narenas:1' }).MALLOC_CONF).toBe('narenas:1');
    }
    const optedOut = { PATH: '/usr/bin', BERTH_EDGE_JEMALLOC: '0' };
    expect(edgeEnv(optedOut)).toBe(optedOut);
  });
});
