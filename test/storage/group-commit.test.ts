import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metadata, type ObjectRecord } from '../../src/storage/metadata.js';
import { makeTmpDir } from '../helpers/tmp.js';

const tmp = makeTmpDir('berth-store-meta-');

function record(key: string): ObjectRecord {
  return {
    bucket: 'b',
    key,
    size: 1,
    etag: 'e',
    lastModified: 1,
    contentType: 'text/plain',
    headers: {},
    meta: {},
    checksum: null,
    tags: [],
    inline: Buffer.from('x'),
    segments: [],
    partsCount: 0,
  };
}

describe('group commit', () => {
  it('commits concurrent writes together; one that throws fails alone', async () => {
    const meta = new Metadata(path.join(tmp.dir, 'metadata.db'));
    try {
      const results = await Promise.allSettled([
        meta.write(() => meta.putObject(record('a'))),
        meta.write(() => {
          meta.putObject(record('rolled-back'));
          throw new Error('precondition failed');
        }),
        meta.write(() => meta.putObject(record('c'))),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(meta.getObject('b', 'a')?.key).toBe('a');
      expect(meta.getObject('b', 'c')?.key).toBe('c');
      expect(meta.getObject('b', 'rolled-back')).toBeNull();
    } finally {
      meta.close();
      tmp.cleanup();
    }
  });
});
