import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

const MiB = 1024 * 1024;
const LOG_MB = 200;

function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
}

function logLine(message: string): string {
  return `${JSON.stringify({ type: 'log', time: new Date().toISOString(), phase: 'deploy', stream: 'stdout', level: 'info', message })}\n`;
}

describe('`berth logs -n 10` of a deployment with a huge log', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'bigl', '-s', 'web'];
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('answers the last lines without loading the file into the daemon', async () => {
    const up = await berth.cli(['up', berth.app('lifecycle', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');

    // A log as big as one left by a Berth without rotation (or a raised --deployment-log-mb): written to the
    // deployment's log file directly, 200 MiB of app lines, then ten the test will look for.
    const file = path.join(berth.dataDir, 'logs', `${d.id}.ndjson`);
    let block = '';
    for (let i = 0; block.length < MiB; i++) block += logLine(`filler ${i} ${'y'.repeat(200)}`);
    const fd = fs.openSync(file, 'a');
    try {
      for (let written = 0; written < LOG_MB * MiB; written += block.length) fs.writeSync(fd, block);
      for (let i = 0; i < 10; i++) fs.writeSync(fd, logLine(`the end ${i}`));
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.statSync(file).size).toBeGreaterThan(LOG_MB * MiB);

    const daemon = berth.daemon?.pid as number;
    // Resets the daemon's peak RSS (VmHWM) to its current RSS, so the peak measured below is this request's.
    fs.writeFileSync(`/proc/${daemon}/clear_refs`, '5');
    const rssBefore = vm(daemon, 'VmRSS');
    const logs = await berth.cli(['logs', d.id, '-n', '10', ...scope]);
    expect(logs.code, logs.stderr).toBe(0);
    const lines = logs.stdout.trim().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines.map((l) => /the end (\d)/.exec(l)?.[1])).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);

    // Loading the file (let alone splitting it into lines) would add hundreds of MB.
    expect(vm(daemon, 'VmHWM') - rssBefore).toBeLessThan(30 * MiB);
    expect(vm(daemon, 'VmRSS') - rssBefore).toBeLessThan(30 * MiB);
  });
});
