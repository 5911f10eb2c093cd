import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProcStat } from '../../src/runtime/proc.js';
import { BerthHarness } from '../helpers/berth.js';
import { needsCgroups, needsSandbox } from '../helpers/optional-tools.js';

/**
 * A tenant's replica runs in a cgroup of its own that holds its memory, CPU and process limits. Its code writes
 * its own pid into the cgroup.procs (and tasks) of the hierarchy's root and of its cgroup's parent, for memory,
 * cpu and pids: were one write to take, the process would run without its limits. The sandbox's read-only view
 * of /sys and its unprivileged uid refuse every one.
 */
interface Escape {
  pid: number;
  attempts: { controller: string; target: string; file: string; value: string; result: string }[];
  cgroup: string;
}

const sandbox = needsSandbox('a sandboxed replica cannot move itself out of its cgroup');
const suite = sandbox.skip ? sandbox : needsCgroups(sandbox.title);

/** The v1 (or v2) line of /proc/<pid>/cgroup for a controller: "memory" → its path in that hierarchy. */
function cgroupOf(text: string, controller: string): string | undefined {
  for (const line of text.trim().split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m?.[1].split(',').includes(controller)) return m[2];
  }
  return /^0::(.*)$/m.exec(text)?.[1];
}

/** Host pids of every process in process group pgid (the replica's: bwrap leads it). */
function groupMembers(pgid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => readProcStat(pid)?.pgrp === pgid);
}

/** The pid a process has in its innermost pid namespace (the last NSpid field of its status). */
function innerPid(pid: number): number | null {
  try {
    const m = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1].trim().split(/\s+/).at(-1)) : null;
  } catch {
    return null;
  }
}

describe.skipIf(suite.skip)(suite.title, () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'escape', '-s', 'web'];
  beforeAll(async () => {
    await berth.start();
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('every write into the root’s or the parent’s cgroup.procs fails, and the process stays in its cgroup', async () => {
    expect((await berth.cli(['init', '--name', 'escape'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'web', '-p', 'escape'])).code).toBe(0);
    const up = await berth.cli(['up', berth.app('cgroup-escape'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [d] = await berth.settledDeployments(scope);
    expect(d.status).toBe('SUCCESS');

    const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const row = db.prepare("SELECT handle_json FROM workloads WHERE owner_kind = 'replica'").get() as {
      handle_json: string;
    };
    db.close();
    const h = JSON.parse(row.handle_json) as { pid: number; cgroup: { dirs: string[] } };
    const dirOf = (c: string) => h.cgroup.dirs.find((x) => x.includes(`/${c}/`)) as string;

    const res = await berth.get(berth.hostFor('web', 'escape'), '/escape');
    expect(res.status).toBe(200);
    const report = JSON.parse(res.body) as Escape;

    // Both targets in all three controllers were tried, each with the pid and with "0" (the writer itself).
    for (const c of ['memory', 'cpu', 'pids']) {
      for (const target of ['root', 'parent']) {
        expect(report.attempts.filter((a) => a.controller === c && a.target === target).length).toBe(4);
      }
    }
    const moved = report.attempts.filter((a) => a.result === 'moved');
    expect(moved, JSON.stringify(moved)).toEqual([]);
    for (const a of report.attempts) expect(a.result).toMatch(/^E[A-Z]+$/);

    // Seen from the host: the replica's node process (found by its pid inside the sandbox) is where it started.
    const node = groupMembers(h.pid).find(
      (pid) =>
        innerPid(pid) === report.pid &&
        fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('server.js'),
    );
    expect(node, 'the replica’s node process among its group').toBeDefined();
    const own = fs.readFileSync(`/proc/${node}/cgroup`, 'utf8');
    for (const c of ['memory', 'cpu', 'pids']) {
      const mine = cgroupOf(own, c) as string;
      expect(dirOf(c).endsWith(mine), `${c}: ${mine} is not ${dirOf(c)}`).toBe(true);
      expect(fs.readFileSync(path.join(dirOf(c), 'cgroup.procs'), 'utf8').split('\n')).toContain(
        String(node),
      );
    }
    // What the process itself sees agrees.
    for (const c of ['memory', 'cpu', 'pids']) expect(cgroupOf(report.cgroup, c)).toBe(cgroupOf(own, c));
  }, 120_000);
});
