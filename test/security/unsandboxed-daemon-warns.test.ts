import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import { CLI } from '../helpers/berth.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

/**
 * Attack surface left open on purpose: a server that is not root cannot give users' code users of its own,
 * so that code shares the daemon's privileges. The operator must hear it once, at start, with what to do.
 */
describe('a server that cannot sandbox says user code shares its privileges', () => {
  const tmp = makeTmpDir('berth-nonroot-');
  const pids: number[] = [];
  // Root runs the server as nobody; anyone else already is not root.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

  afterAll(() => {
    for (const pid of pids) killGroup(pid);
    const edgePid = path.join(tmp.dir, 'data', 'edge', 'edge.pid');
    if (fs.existsSync(edgePid)) killGroup(Number(fs.readFileSync(edgePid, 'utf8')));
    tmp.cleanup();
  });

  it('warns once at start, naming the fix', async () => {
    if ('uid' in asUser) fs.chownSync(tmp.dir, 65534, 65534);
    const logFile = path.join(tmp.dir, 'server.log');
    const log = fs.openSync(logFile, 'a');
    const daemon = spawn(
      process.execPath,
      [
        CLI,
        'server',
        '--data-dir',
        path.join(tmp.dir, 'data'),
        '--api-port',
        String(await freePort()),
        '--http-port',
        String(await freePort()),
        '--no-https',
        '--edge',
        'builtin',
      ],
      {
        ...asUser,
        detached: true,
        stdio: ['ignore', log, log],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: tmp.dir,
          BERTH_HOSTS_FILE: path.join(tmp.dir, 'hosts'),
        },
      },
    );
    fs.closeSync(log);
    pids.push(daemon.pid as number);
    const text = await waitFor(
      'the server to start',
      () => {
        const t = fs.readFileSync(logFile, 'utf8');
        return t.includes('is running') ? t : null;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const warnings = text.split('\n').filter((l) => l.includes("user code shares the daemon's privileges"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('the server does not run as root');
    expect(warnings[0]).toContain('Run `berth server` as root with bubblewrap installed');
  });
});
