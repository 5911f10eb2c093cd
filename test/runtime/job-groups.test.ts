import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { JobGroups, runOnce } from '../../src/runtime/index.js';
import { groupAlive } from '../../src/runtime/proc.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

let tmp: { dir: string; cleanup: () => void };
let pids: number[] = [];

beforeEach(() => {
  tmp = makeTmpDir('berth-jobs-');
  pids = [];
});
afterEach(() => {
  for (const p of pids) killGroup(p);
  tmp.cleanup();
});

/** A detached group like a build command's: a shell with a background child, both sleeping. */
function startGroup(): number {
  const child = spawn('/bin/sh', ['-c', 'sleep 60 & sleep 60'], { detached: true, stdio: 'ignore' });
  child.unref();
  const pid = child.pid as number;
  pids.push(pid);
  return pid;
}

describe('JobGroups', () => {
  it('kills the groups a previous daemon recorded and left running, children included', async () => {
    const dir = path.join(tmp.dir, 'jobs');
    const pid = startGroup();
    new JobGroups(dir).track(pid);
    expect(fs.readdirSync(dir)).toEqual([String(pid)]);

    // the next daemon: a new instance over the same directory
    expect(new JobGroups(dir).killLeftovers()).toBe(1);
    await waitFor('the group to be gone', () => !groupAlive(pid));
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(new JobGroups(dir).killLeftovers()).toBe(0);
  });

  it('leaves a pid alone that now belongs to another process, and forgets untracked groups', () => {
    const dir = path.join(tmp.dir, 'jobs');
    const pid = startGroup();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, String(pid)), '1'); // another start time: not the group we recorded
    expect(new JobGroups(dir).killLeftovers()).toBe(0);
    expect(groupAlive(pid)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);

    const jobs = new JobGroups(dir);
    jobs.track(pid);
    jobs.untrack(pid);
    expect(jobs.killLeftovers()).toBe(0);
    expect(groupAlive(pid)).toBe(true);
  });

  it('runOnce records its group while the command runs and forgets it after', async () => {
    const dir = path.join(tmp.dir, 'jobs');
    const jobs = new JobGroups(dir);
    let seen: string[] = [];
    const res = await runOnce({
      command: 'echo started; sleep 0.3',
      cwd: tmp.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutMs: 10_000,
      jobs,
      onLine: () => {
        seen = fs.readdirSync(dir);
      },
    });
    expect(res.code).toBe(0);
    expect(seen).toHaveLength(1);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
