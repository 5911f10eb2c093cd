import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/**
 * Attack: upload a small gzip that expands enormously (zeros compress ~1000:1, under node-tar's ratio
 * guard), or one with a huge number of tiny files, to fill the disk and inode table at extraction. Now the
 * extraction counts sizes and entries from the headers before writing (caps of 8 MiB and 300 entries here,
 * set for the test; 2 GiB and 200k by default) and the deployment fails before anything is written past them.
 */
describe('a source that expands too much', () => {
  const berth = new BerthHarness();
  const cap = 8 * 1024 * 1024;
  const extracted = (deploymentId: string) => path.join(berth.dataDir, 'artifacts', deploymentId, 'source');

  beforeAll(async () => {
    berth.daemonEnv = { BERTH_MAX_SOURCE_BYTES: String(cap), BERTH_MAX_SOURCE_ENTRIES: '300' };
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('fails at the byte cap, naming the cap, and leaves no extracted tree', async () => {
    const dir = berth.app('lifecycle', 'bomb');
    // 64 MiB of zeros (sparse on disk here, ~64 KB in the upload).
    fs.writeFileSync(path.join(dir, 'zeros.bin'), '');
    fs.truncateSync(path.join(dir, 'zeros.bin'), 64 * 1024 * 1024);
    const up = await berth.cli(['up', dir, '-p', 'bomb', '-s', 'web']);
    expect(up.code).not.toBe(0);
    const [d] = await berth.settledDeployments(['-p', 'bomb', '-s', 'web']);
    expect(d.status).toBe('FAILED');
    expect(d.reason).toBe(
      'the source expands to more than 8 MiB (at zeros.bin), more than this server extracts; leave large and generated files out (.gitignore) and deploy again',
    );
    expect(fs.existsSync(extracted(d.id))).toBe(false);
  });

  it('fails at the entry cap', async () => {
    const dir = berth.app('lifecycle', 'many');
    fs.mkdirSync(path.join(dir, 'files'));
    for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(dir, 'files', `f${i}.txt`), '');
    const up = await berth.cli(['up', dir, '-p', 'many', '-s', 'web']);
    expect(up.code).not.toBe(0);
    const [d] = await berth.settledDeployments(['-p', 'many', '-s', 'web']);
    expect(d.reason).toBe(
      'the source has more than 300 files and directories, more than this server extracts; leave generated files out (.gitignore) and deploy again',
    );
    expect(fs.existsSync(extracted(d.id))).toBe(false);
  });

  it('still deploys a source within both caps', async () => {
    const up = await berth.cli(['up', berth.app('lifecycle', 'fine'), '-p', 'fine', '-s', 'web']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect((await berth.get(berth.hostFor('web', 'fine'))).body).toBe('v1');
  });
});
