/**
 * The object store driven by command-line clients nobody here wrote: Debian's awscli, rclone and s3cmd, each
 * syncing a tree up (with a file large enough for multipart), listing, copying down and deleting.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBucket, StoreHarness } from '../helpers/object-store.js';
import { needs } from '../helpers/optional-tools.js';

const run = promisify(execFile);
const bucket = makeBucket('cli-bucket-42ab');
const B = bucket.name;
// Made in beforeAll: when every client is missing, vitest runs no hook and nothing is left in /tmp.
let store: StoreHarness;
let src = '';

/** A tree with nested dirs, a space in a name, and a 12 MiB file (multipart for all three clients). */
function makeTree(root: string): void {
  const files: Record<string, Buffer> = {
    'index.html': Buffer.from('<h1>hi</h1>'),
    'docs/read me.txt': Buffer.from('spaces survive'),
    'docs/deep/a.json': Buffer.from('{"a":1}'),
    'big.bin': crypto.randomBytes(12 * 1024 * 1024),
  };
  for (const [rel, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  }
}

function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    out[path.relative(root, abs)] = crypto.createHash('md5').update(fs.readFileSync(abs)).digest('hex');
  }
  return out;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const r = await store.client(bucket).send(new ListObjectsV2Command({ Bucket: B, Prefix: prefix }));
  return (r.Contents ?? []).map((c) => c.Key!.slice(prefix.length)).sort();
}

beforeAll(async () => {
  store = new StoreHarness([bucket]);
  await store.start();
  src = path.join(store.dir, 'src');
  makeTree(src);
});
afterAll(() => store?.cleanup());

const awscli = needs('awscli', 'awscli (Debian /usr/bin/aws) syncs, lists, copies and deletes');
describe.skipIf(awscli.skip)(awscli.title, () => {
  const aws = (...args: string[]) => store.awsCli(bucket)(...args);

  it('sync up, ls, sync down, cp, rm', async () => {
    await aws('s3', 'sync', src, `s3://${B}/aws/`);
    expect(await keysUnder('aws/')).toEqual(Object.keys(treeOf(src)).sort());
    const ls = await aws('s3', 'ls', '--recursive', `s3://${B}/aws/`);
    expect(ls.stdout).toContain('aws/docs/read me.txt');
    // A second sync finds nothing to do: sizes and times agree.
    const again = await aws('s3', 'sync', src, `s3://${B}/aws/`);
    expect(again.stdout.trim()).toBe('');
    const down = path.join(store.dir, 'aws-down');
    await aws('s3', 'sync', `s3://${B}/aws/`, down);
    expect(treeOf(down)).toEqual(treeOf(src));
    await aws('s3', 'cp', `s3://${B}/aws/docs/read me.txt`, path.join(store.dir, 'one.txt'));
    expect(fs.readFileSync(path.join(store.dir, 'one.txt'), 'utf8')).toBe('spaces survive');
    await aws('s3', 'rm', '--recursive', `s3://${B}/aws/`);
    expect(await keysUnder('aws/')).toEqual([]);
  });
});

const rcloneNeeds = needs('rclone', 'rclone (provider Other) syncs, lists, copies and deletes');
describe.skipIf(rcloneNeeds.skip)(rcloneNeeds.title, () => {
  const rclone = (...args: string[]) => {
    const conf = path.join(store.dir, 'rclone.conf');
    fs.writeFileSync(
      conf,
      [
        '[berth]',
        'type = s3',
        'provider = Other',
        `access_key_id = ${bucket.accessKeyId}`,
        `secret_access_key = ${bucket.secretAccessKey}`,
        `endpoint = ${store.endpoint}`,
        'region = us-east-1',
        'force_path_style = true',
        '',
      ].join('\n'),
    );
    // A clean environment: an AWS_CA_BUNDLE meant for HTTPS would make rclone refuse the plain-HTTP endpoint.
    const env = { PATH: process.env.PATH ?? '', HOME: store.dir };
    return run('rclone', ['--config', conf, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', ...args], {
      timeout: 60_000,
      env,
    });
  };

  it('sync up, lsf, check, copy down, delete', async () => {
    await rclone('sync', src, `berth:${B}/rclone`);
    expect(await keysUnder('rclone/')).toEqual(Object.keys(treeOf(src)).sort());
    const lsf = await rclone('lsf', '-R', `berth:${B}/rclone`);
    expect(lsf.stdout).toContain('docs/read me.txt');
    await rclone('check', src, `berth:${B}/rclone`);
    const down = path.join(store.dir, 'rclone-down');
    await rclone('copy', `berth:${B}/rclone`, down);
    expect(treeOf(down)).toEqual(treeOf(src));
    await rclone('delete', `berth:${B}/rclone`);
    expect(await keysUnder('rclone/')).toEqual([]);
  });
});

const s3cmdNeeds = needs('s3cmd', 's3cmd syncs, lists, gets and deletes');
describe.skipIf(s3cmdNeeds.skip)(s3cmdNeeds.title, () => {
  const s3cmd = (...args: string[]) => {
    const conf = path.join(store.dir, 's3cfg');
    const host = `127.0.0.1:${store.port}`;
    fs.writeFileSync(
      conf,
      [
        '[default]',
        `access_key = ${bucket.accessKeyId}`,
        `secret_key = ${bucket.secretAccessKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        'use_https = False',
        'signature_v2 = False',
        'bucket_location = us-east-1',
        'multipart_chunk_size_mb = 5',
        '',
      ].join('\n'),
    );
    return run('s3cmd', ['-c', conf, ...args], {
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '', HOME: store.dir },
    });
  };

  it('sync up, ls, get, del', async () => {
    await s3cmd('sync', `${src}/`, `s3://${B}/s3cmd/`);
    expect(await keysUnder('s3cmd/')).toEqual(Object.keys(treeOf(src)).sort());
    const ls = await s3cmd('ls', '-r', `s3://${B}/s3cmd/`);
    expect(ls.stdout).toContain('s3cmd/docs/read me.txt');
    const down = path.join(store.dir, 's3cmd-down');
    await s3cmd('sync', `s3://${B}/s3cmd/`, `${down}/`);
    expect(treeOf(down)).toEqual(treeOf(src));
    await s3cmd('get', `s3://${B}/s3cmd/index.html`, path.join(store.dir, 'index-got.html'));
    expect(fs.readFileSync(path.join(store.dir, 'index-got.html'), 'utf8')).toBe('<h1>hi</h1>');
    await s3cmd('del', '--recursive', '--force', `s3://${B}/s3cmd/`);
    expect(await keysUnder('s3cmd/')).toEqual([]);
  });
});
