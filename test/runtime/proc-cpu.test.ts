import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../src/lib/wait.js';
import { cpuTicksByGroup, groupsCpuNs, readProcStat } from '../../src/runtime/proc.js';
import { killGroup } from '../helpers/tmp.js';

/** A /proc/<pid>/stat line: fields after the command are state, ppid, pgrp, ..., utime (14) to cstime (17). */
function stat(
  pid: number,
  comm: string,
  state: string,
  pgrp: number,
  times: [number, number, number, number],
) {
  const middle = [state, 1, pgrp, pgrp, 0, -1, 4194304, 0, 0, 0, 0, ...times, 20, 0, 1, 0, 12345];
  return `${pid} (${comm}) ${middle.join(' ')} 0 0\n`;
}

describe('CPU time of process groups from one /proc scan', () => {
  it('sums utime, stime, cutime and cstime of the live members of each wanted group', () => {
    const stats = [
      stat(100, 'node', 'S', 100, [10, 5, 1, 1]),
      stat(101, 'worker', 'R', 100, [20, 0, 0, 0]),
      stat(200, 'sh', 'S', 200, [3, 3, 0, 0]),
      stat(300, 'other', 'R', 300, [999, 999, 0, 0]), // not asked for
    ];
    expect(cpuTicksByGroup(stats, new Set([100, 200]))).toEqual(
      new Map([
        [100, 37],
        [200, 6],
      ]),
    );
  });

  it('counts a command name with spaces and parentheses by the fields after its last ")"', () => {
    const stats = [stat(100, 'my (odd) app 7 8 9', 'S', 100, [4, 4, 0, 0])];
    expect(cpuTicksByGroup(stats, new Set([100]))).toEqual(new Map([[100, 8]]));
  });

  it('leaves out zombies and dead members; a group with none alive is absent', () => {
    const stats = [
      stat(100, 'node', 'Z', 100, [50, 50, 0, 0]),
      stat(101, 'child', 'S', 100, [1, 0, 0, 0]),
      stat(200, 'gone', 'Z', 200, [7, 7, 0, 0]),
      stat(201, 'dead', 'X', 200, [7, 7, 0, 0]),
    ];
    expect(cpuTicksByGroup(stats, new Set([100, 200, 400]))).toEqual(new Map([[100, 1]]));
  });

  it('reads the real /proc: a running group is found; unsafe and unused ids are not', async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const pgid = child.pid as number;
    try {
      await waitFor('the child to run', () => readProcStat(pgid) !== null);
      // Above pid_max (at most 2^22), so never a group.
      const ns = groupsCpuNs([pgid, 0, 1, -1, 2 ** 22 + 1]);
      expect([...ns.keys()]).toEqual([pgid]);
      expect(ns.get(pgid)).toBeGreaterThanOrEqual(0);
      expect(groupsCpuNs([])).toEqual(new Map());
    } finally {
      killGroup(pgid);
    }
  });
});
