/**
 * Static sites escaping their deployment by symlink: a build that turns the site's root into a symlink to the
 * data dir made the public edge serve `admin-token` and `master.key`. The edge now serves a file only when its
 * real path is inside the deployment's own `app/` directory — whatever the build linked: the root, a directory
 * in it, or a file. Real deploys through the real server and its edge (both drivers).
 */

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';
import { EDGE_KINDS } from '../helpers/edges.js';

/** A static site whose build runs `buildCommand`; its Staticfile serves `root`. */
function site(dir: string, root: string, buildCommand: string, files: Record<string, string> = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Staticfile'), `root: ${root}\n`);
  fs.writeFileSync(path.join(dir, 'railway.json'), JSON.stringify({ build: { buildCommand } }));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe.each(EDGE_KINDS)('static site symlink escape (%s edge)', (kind) => {
  const berth = new BerthHarness();
  let token: string;

  beforeAll(async () => {
    berth.serverArgs = ['--edge', kind];
    await berth.start();
    token = berth.token;
    const data = berth.dataDir;
    // The whole root is a link to the data dir.
    const rootLink = site(path.join(berth.dir, 'apps', 'rootlink'), 'site', `ln -s ${data} site`);
    // A real root whose build links a file and a directory out of it.
    const inner = site(
      path.join(berth.dir, 'apps', 'innerlink'),
      'public',
      `mkdir -p public && ln -s ${path.join(data, 'admin-token')} public/token.html && ln -s ${data} public/data` +
        ` && ln -s ${path.join(data, 'admin-token')} public/index.html && echo ok > public/ok.txt`,
    );
    for (const [dir, service] of [
      [rootLink, 'rootlink'],
      [inner, 'innerlink'],
    ]) {
      const up = await berth.cli(['up', dir, '-p', 'sym', '-s', service]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('a root linked to the data dir serves none of it', async () => {
    const host = berth.hostFor('rootlink', 'sym');
    for (const p of ['/admin-token', '/master.key', '/', '/state.db', '/edge/', '/edge/routes.json']) {
      const res = await berth.get(host, p);
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain(token);
    }
  });

  it('a file or directory linked out of the root is not served', async () => {
    const host = berth.hostFor('innerlink', 'sym');
    expect((await berth.get(host, '/ok.txt')).body).toBe('ok\n');
    for (const p of ['/token.html', '/token', '/data/admin-token', '/data', '/data/', '/']) {
      const res = await berth.get(host, p);
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain(token);
    }
  });
});
