import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/lib/pid-file.js';
import { waitFor } from '../../src/lib/wait.js';
import type { WorkloadSpec } from '../../src/runtime/driver.js';
import { ProcessDriver, type ProcessHandle } from '../../src/runtime/index.js';
import { limitsArgv, processArgv } from '../../src/runtime/process-argv.js';
import {
  backoffMs,
  decideRestart,
  type RestartPlan,
  Supervisor,
  type WorkloadHooks,
} from '../../src/runtime/supervisor.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

describe('decideRestart', () => {
  const crash = { code: 1, signal: null };
  const clean = { code: 0, signal: null };
  const killed = { code: null, signal: 'SIGKILL' as const };

  it('ON_FAILURE restarts failures (signals and unknown codes too) but not clean exits', () => {
    const p = { type: 'ON_FAILURE' as const, maxRetries: 3 };
    expect(decideRestart(p, crash, 0)).toEqual({ restart: true, attempt: 1, backoffMs: 500 });
    expect(decideRestart(p, killed, 1)).toEqual({ restart: true, attempt: 2, backoffMs: 1000 });
    expect(decideRestart(p, { code: null, signal: null }, 2)).toEqual({
      restart: true,
      attempt: 3,
      backoffMs: 2000,
    });
    expect(decideRestart(p, clean, 0)).toEqual({ restart: false, why: 'clean-exit' });
    expect(decideRestart(p, crash, 3)).toEqual({ restart: false, why: 'retries' });
  });

  it('ALWAYS restarts clean exits too; NEVER restarts nothing', () => {
    expect(decideRestart({ type: 'ALWAYS', maxRetries: 1 }, clean, 0)).toMatchObject({ restart: true });
    expect(decideRestart({ type: 'ALWAYS', maxRetries: 1 }, clean, 1)).toEqual({
      restart: false,
      why: 'retries',
    });
    expect(decideRestart({ type: 'NEVER', maxRetries: 5 }, crash, 0)).toEqual({
      restart: false,
      why: 'policy',
    });
    expect(decideRestart({ type: 'NEVER', maxRetries: 5 }, clean, 0)).toEqual({
      restart: false,
      why: 'clean-exit',
    });
  });

  it('backs off exponentially up to 30 s', () => {
    expect([1, 2, 3, 4, 7, 20].map(backoffMs)).toEqual([500, 1000, 2000, 4000, 30_000, 30_000]);
  });
});

describe('processArgv', () => {
  it('runs the user command as one sh -c argument, or a program as given', () => {
    expect(processArgv({ program: { command: 'node web.js; rm -rf x' }, cwd: '/a', prlimit: null })).toEqual([
      '/bin/sh',
      '-c',
      'node web.js; rm -rf x',
    ]);
    expect(
      processArgv({ program: { argv: ['/usr/bin/postgres', '-D', '/d'] }, cwd: '/a', prlimit: null }),
    ).toEqual(['/usr/bin/postgres', '-D', '/d']);
  });

  it('puts prlimit in front when limits are asked for, and refuses them without prlimit', () => {
    expect(
      processArgv({
        program: { command: 'x' },
        cwd: '/a',
        limits: { openFiles: 1024, fileBytes: 1e9 },
        prlimit: '/usr/bin/prlimit',
      }),
    ).toEqual([
      '/usr/bin/prlimit',
      '--nofile=1024:1024',
      '--fsize=1000000000:1000000000',
      '--',
      '/bin/sh',
      '-c',
      'x',
    ]);
    expect(() =>
      processArgv({ program: { command: 'x' }, cwd: '/a', limits: { processes: 5 }, prlimit: null }),
    ).toThrow(/need prlimit/);
    expect(() => limitsArgv('/usr/bin/prlimit', { openFiles: -1 })).toThrow(/whole number/);
    expect(limitsArgv('/usr/bin/prlimit', {})).toEqual([]);
  });
});

/** The supervisor over a real ProcessDriver: restart loop, gate, log following, adoption. */
describe('Supervisor', () => {
  let tmp: { dir: string; cleanup: () => void };
  let sup: Supervisor<ProcessHandle>;

  beforeEach(() => {
    tmp = makeTmpDir('berth-supervisor-');
    sup = new Supervisor(new ProcessDriver());
  });

  afterEach(() => {
    for (const [id] of sup.offsets()) {
      const h = sup.handleOf(id);
      if (h) killGroup(h.pid);
    }
    sup.close();
    tmp.cleanup();
  });

  const spec = (command: string): WorkloadSpec => ({
    id: 'w1',
    cwd: tmp.dir,
    command,
    env: { PATH: '/usr/bin:/bin' },
    logs: { stdout: path.join(tmp.dir, 'out.log'), stderr: path.join(tmp.dir, 'err.log') },
  });

  function hooks(lines: string[], exits: unknown[] = []): WorkloadHooks {
    return { onLine: (l, s) => lines.push(`${s}: ${l}`), onExit: (info) => exits.push(info) };
  }

  it('follows output from where the log files ended, and reports an exit nobody waited for', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'out.log'), 'from an earlier run\n');
    const lines: string[] = [];
    const exits: unknown[] = [];
    await sup.start(spec('echo one; echo two >&2; exit 4'), hooks(lines, exits));
    await waitFor('the exit', () => exits.length > 0);
    expect(exits).toEqual([{ code: 4, signal: null }]);
    expect(lines.sort()).toEqual(['stderr: two', 'stdout: one']);
    expect(sup.handleOf('w1')).toBeNull();
  });

  it('restarts a crashing workload with backoff until the gate passes, then reports it healthy', async () => {
    const counter = path.join(tmp.dir, 'runs');
    // Crashes on its first run, stays up on the second.
    const cmd = `echo x >> ${counter}; [ $(wc -l < ${counter}) -ge 2 ] && exec sleep 1000; exit 1`;
    const events: string[] = [];
    const lines: string[] = [];
    let restarting = false;
    const plan: RestartPlan = {
      name: 'worker',
      policy: { type: 'ON_FAILURE', maxRetries: 3 },
      restarts: 0,
      down: async (exit, n) => void events.push(`down ${exit.code} ${n}`),
      restarting: (n) => {
        restarting = true;
        events.push(`restarting ${n}`);
      },
      wanted: () => restarting,
      respawn: async () => void (await sup.start(spec(cmd), hooks(lines))),
      gate: async () => {
        // The health probe: alive a moment after starting.
        await new Promise((r) => setTimeout(r, 200));
        if (!(await sup.isAlive('w1'))) throw new Error('not alive');
      },
      healthy: async () => void events.push('healthy'),
      settled: (failed, message) => events.push(`settled ${failed} ${message}`),
      log: (level, message) => events.push(`${level} ${message}`),
      isReportable: () => true,
    };
    const exits: unknown[] = [];
    await sup.start(spec(cmd), hooks(lines, exits));
    await waitFor('first crash', () => exits.length > 0);
    await sup.keepRunning('w1', exits[0] as { code: number; signal: null }, plan);
    expect(events).toEqual([
      'down 1 0',
      'warn worker exited with code 1; restarting it in 0.5s (restart 1 of 3)',
      'restarting 1',
      'healthy',
      'info worker is healthy again',
    ]);
    expect(await sup.isAlive('w1')).toBe(true);
    expect(await sup.stop('w1', 1000)).not.toBeNull();
  });

  it('stops what is left of a group whose leader was killed before restarting it (a kept port would fail it)', async () => {
    const childPid = path.join(tmp.dir, 'child.pid');
    // The leader (like bwrap) starts a child in its group that would hold the workload's port, then waits.
    const cmd = `sleep 1000 & echo $! > ${childPid}; wait`;
    const events: string[] = [];
    let leftoverAlive: boolean | null = null;
    const plan: RestartPlan = {
      name: 'pooler',
      policy: { type: 'ALWAYS', maxRetries: 3 },
      restarts: 0,
      down: async () => undefined,
      restarting: () => undefined,
      wanted: () => true,
      respawn: async () => {
        leftoverAlive = processAlive(Number(fs.readFileSync(childPid, 'utf8')));
        await sup.start(spec('exec sleep 1000'), hooks([]));
      },
      gate: async () => undefined,
      healthy: async () => void events.push('healthy'),
      settled: (_failed, message) => events.push(message),
      log: () => undefined,
      isReportable: () => true,
    };
    const exits: unknown[] = [];
    const h = await sup.start(spec(cmd), hooks([], exits));
    await waitFor(
      'the child',
      () => fs.existsSync(childPid) && fs.readFileSync(childPid, 'utf8').endsWith('\n'),
    );
    process.kill(h.pid, 'SIGKILL');
    await waitFor('the leader gone', () => exits.length > 0);
    await sup.keepRunning('w1', exits[0] as { code: null; signal: 'SIGKILL' }, plan);
    expect(leftoverAlive).toBe(false);
    expect(events).toEqual(['healthy']);
    expect(await sup.stop('w1', 1000)).not.toBeNull();
  });

  it('gives up after maxRetries with the reason', async () => {
    const events: string[] = [];
    const plan: RestartPlan = {
      name: 'worker',
      policy: { type: 'ON_FAILURE', maxRetries: 1 },
      restarts: 1,
      down: async () => undefined,
      restarting: () => undefined,
      wanted: () => true,
      respawn: async () => undefined,
      gate: async () => undefined,
      healthy: async () => undefined,
      settled: (failed, message) => events.push(`${failed} ${message}`),
      log: () => undefined,
      isReportable: () => true,
    };
    await sup.keepRunning('w1', { code: 2, signal: null }, plan);
    expect(events).toEqual([
      'true worker exited with code 2 and was restarted 1 times (restartPolicyMaxRetries = 1); giving up',
    ]);
  });

  it('adopts a recorded workload and resumes its output at the recorded offset', async () => {
    const first = new Supervisor(new ProcessDriver());
    const h = await first.start(spec('echo before; exec sleep 1000'), hooks([]));
    await waitFor('first line', () => fs.readFileSync(path.join(tmp.dir, 'out.log'), 'utf8') === 'before\n');
    first.close();
    const lines: string[] = [];
    const adopted = await sup.adopt(JSON.parse(JSON.stringify(h)), { stdout: 7, stderr: 0 }, hooks(lines));
    expect(adopted).toEqual(h);
    fs.appendFileSync(path.join(tmp.dir, 'out.log'), 'after\n');
    await waitFor('the new line', () => lines.length > 0);
    expect(lines).toEqual(['stdout: after']);
    expect(await sup.stop('w1', 0)).toEqual({ code: null, signal: null });
    expect(await sup.adopt(h, { stdout: 0, stderr: 0 }, hooks([]))).toBeNull();
  });
});
