import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';

const MiB = 1024 * 1024;
/** What the app prints to stdout at start, far beyond every cap. */
const FLOOD_MB = 150;
/** What its build prints. */
const BUILD_FLOOD_MB = 8;

// Prints `mb` MiB of numbered 1 KiB lines, as fast as the file takes them (stdout to a file is synchronous).
const FLOOD_JS = `
const http = require('node:http');
const flood = (tag, mb) => {
  const pad = 'x'.repeat(1000);
  for (let i = 0; i < mb * 1024; i++) process.stdout.write(tag + ' ' + i + ' ' + pad + '\\n');
};
if (process.argv[2] === 'build') {
  flood('build', Number(process.env.BUILD_FLOOD_MB));
  console.log('build flood done');
} else {
  http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), () => {
    flood('run', Number(process.env.FLOOD_MB));
    let n = 0;
    setInterval(() => console.log('alive ' + n++), 100);
  });
}
`;

/** Bytes on disk (allocated blocks, so a sparse file cannot hide anything) of files whose name starts with prefix. */
function diskUse(dir: string, prefix = ''): number {
  let total = 0;
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (name.startsWith(prefix)) total += fs.statSync(path.join(dir, name)).blocks * 512;
  }
  return total;
}

function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return Number(m?.[1]) * 1024;
}

describe('an app flooding stdout (and its build flooding the build log)', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'flood', '-s', 'noisy'];
  beforeAll(async () => {
    // 2 MiB of log per deployment: a current and a rotated file of 1 MiB.
    berth.serverArgs = ['--deployment-log-mb', '2'];
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('keeps its logs and the daemon bounded, and the newest lines readable', async () => {
    const dir = path.join(berth.dir, 'apps', 'noisy');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'flood.js'), FLOOD_JS);
    fs.writeFileSync(
      path.join(dir, 'railway.toml'),
      '[build]\nbuildCommand = "node flood.js build"\n[deploy]\nstartCommand = "node flood.js run"\n',
    );
    expect((await berth.cli(['init', '--name', 'flood'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'noisy', '-p', 'flood'])).code).toBe(0);
    const set = await berth.cli([
      'variables',
      'set',
      `FLOOD_MB=${FLOOD_MB}`,
      `BUILD_FLOOD_MB=${BUILD_FLOOD_MB}`,
      '--skip-deploys',
      ...scope,
    ]);
    expect(set.code, set.stderr).toBe(0);
    const daemon = berth.daemon?.pid as number;
    const rssBefore = vm(daemon, 'VmRSS');

    const up = await berth.cli(['up', dir, '--detach', ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const logsDir = path.join(berth.dataDir, 'logs');
    const instancesDir = path.join(berth.dataDir, 'instances');
    let id = '';
    let peakLog = 0;
    // The deployment log never holds more than its cap, however fast lines come (sampled all along).
    const newest = await waitFor(
      'the newest app lines to be readable with `berth logs`',
      async () => {
        const list = JSON.parse((await berth.cli(['deployments', '--json', ...scope])).stdout) as {
          id: string;
          status: string;
        }[];
        id = list[0]?.id ?? '';
        if (id) peakLog = Math.max(peakLog, diskUse(logsDir, id));
        if (list[0]?.status !== 'SUCCESS') return null;
        const out = await berth.cli(['logs', id, '-n', '3', ...scope]);
        const alive = out.stdout.split('\n').filter((l) => /alive \d+/.test(l));
        return alive.length === 3 && Number(/alive (\d+)/.exec(alive[2])?.[1]) >= 10 ? out.stdout : null;
      },
      { timeoutMs: 90_000, intervalMs: 300 },
    );
    expect(newest).not.toContain('run 0 ');

    // Disk: the deployment's log stays within its two 1 MiB files (plus a line), the raw output files within
    // the tailer's cap, against FLOOD_MB + BUILD_FLOOD_MB written.
    expect(peakLog).toBeLessThanOrEqual(2 * MiB + 64 * 1024);
    expect(diskUse(logsDir, id)).toBeLessThanOrEqual(2 * MiB + 64 * 1024);
    expect(
      fs
        .readdirSync(logsDir)
        .filter((f) => f.startsWith(id))
        .sort(),
    ).toEqual([`${id}.1.ndjson`, `${id}.ndjson`]);
    expect(diskUse(instancesDir)).toBeLessThanOrEqual(20 * MiB);

    // The build's own flood went through the same cap: its last line may be rotated away, but what is
    // kept of the build log is its newest part.
    const build = await berth.cli(['logs', id, '--build', '-n', '1', ...scope]);
    expect(build.code, build.stderr).toBe(0);

    // The daemon did not hold the flood in memory.
    expect(vm(daemon, 'VmRSS') - rssBefore).toBeLessThan(80 * MiB);
    expect(vm(daemon, 'VmHWM')).toBeLessThan(rssBefore + 120 * MiB);
  });
});
