import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canConnect, freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import type { RuntimeDriver, WorkloadHandle, WorkloadSpec } from '../../src/runtime/driver.js';
import {
  type ExitInfo,
  findSystemTool,
  ProcessDriver,
  type Sandbox,
  sandboxDecision,
} from '../../src/runtime/index.js';
import { readProcStat } from '../../src/runtime/proc.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

/**
 * One runtime driver contract, run over every driver (and over ProcessDriver inside the bubblewrap sandbox
 * when the host allows it): what the supervisor and every owner of workloads rely on.
 */
interface DriverCase {
  name: string;
  make: () => RuntimeDriver;
  /** Why this case cannot run here, or null. */
  skip: () => string | null;
  /** Adapts a spec to the case (the sandboxed variant adds its sandbox; the dir is the test's temp dir). */
  prepare: (spec: WorkloadSpec, dir: string) => WorkloadSpec;
}

/** The uid the sandboxed variant runs as (far above real users, like Berth's own range). */
const SANDBOX_UID = 2_099_001;

function sandboxSkip(): string | null {
  const d = sandboxDecision({
    mode: 'auto',
    isRoot: process.getuid?.() === 0,
    bwrap: findSystemTool('bwrap'),
    setpriv: findSystemTool('setpriv'),
  });
  return d.enabled ? null : `sandboxed ProcessDriver not run: ${d.warning}`;
}

function sandboxFor(dir: string): Sandbox {
  const root = path.join(dir, 'sandbox', String(SANDBOX_UID));
  for (const sub of ['', 'home', 'tmp', 'cache']) {
    fs.mkdirSync(path.join(root, sub), { recursive: true });
    fs.chownSync(path.join(root, sub), SANDBOX_UID, SANDBOX_UID);
  }
  return {
    host: {
      bwrap: findSystemTool('bwrap') as string,
      setpriv: findSystemTool('setpriv') as string,
      hidden: [dir],
    },
    job: {
      user: { uid: SANDBOX_UID, gid: SANDBOX_UID, root },
      writable: [path.join(dir, 'app')],
      readOnly: [],
      dieWithParent: false,
    },
  };
}

const drivers: DriverCase[] = [
  { name: 'ProcessDriver', make: () => new ProcessDriver(), skip: () => null, prepare: (s) => s },
  {
    name: 'ProcessDriver, sandboxed',
    make: () => new ProcessDriver(),
    skip: sandboxSkip,
    prepare: (s, dir) => {
      fs.chownSync(path.join(dir, 'app'), SANDBOX_UID, SANDBOX_UID);
      return { ...s, sandbox: sandboxFor(dir) };
    },
  },
];

const SERVER = `
const http = require('node:http');
const port = Number(process.env.PORT);
http.createServer((req, res) => {
  console.log('request ' + req.url);
  res.end(process.env.GREETING + ' from ' + process.cwd());
}).listen(port, '127.0.0.1', () => {
  console.log('listening on ' + port);
  console.error('a line on stderr');
});
`;

/** True while some live, non-zombie process has this pid (as the host sees it). */
function pidAlive(pid: number): boolean {
  const st = readProcStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

describe.each(drivers)('runtime driver conformance: $name', (c) => {
  const skipped = c.skip();
  if (skipped) {
    it.skip(skipped, () => {});
    return;
  }

  let tmp: { dir: string; cleanup: () => void };
  let app: string;
  let started: { driver: RuntimeDriver; h: WorkloadHandle }[] = [];
  /** Pids of processes the test started outside any driver. */
  let loose: number[] = [];

  beforeEach(() => {
    tmp = makeTmpDir('berth-driver-');
    app = path.join(tmp.dir, 'app');
    fs.mkdirSync(app);
    started = [];
    loose = [];
  });

  afterEach(() => {
    for (const { driver, h } of started) driver.kill(h);
    for (const pid of loose) killGroup(pid);
    tmp.cleanup();
  });

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: tmp.dir,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    ...extra,
  });

  function spec(command: string, extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
    return c.prepare(
      {
        id: 'w1',
        cwd: app,
        command,
        env: env(),
        logs: {
          stdout: path.join(tmp.dir, 'logs', 'out.log'),
          stderr: path.join(tmp.dir, 'logs', 'err.log'),
        },
        ...extra,
      } as WorkloadSpec,
      tmp.dir,
    );
  }

  async function start(driver: RuntimeDriver, s: WorkloadSpec): Promise<WorkloadHandle> {
    const h = await driver.start(s);
    started.push({ driver, h });
    return h;
  }

  const write = (name: string, content: string) => fs.writeFileSync(path.join(app, name), content);
  const read = (name: string) => {
    try {
      return fs.readFileSync(path.join(app, name), 'utf8');
    } catch {
      return '';
    }
  };
  const exitOf = (driver: RuntimeDriver, h: WorkloadHandle) =>
    new Promise<ExitInfo>((resolve) => driver.watch(h, resolve));

  it('env and PORT reach the process in its cwd; output reaches the logs, readable from an offset', async () => {
    const driver = c.make();
    write('server.cjs', SERVER);
    const port = await freePort();
    const h = await start(
      driver,
      spec('node server.cjs', { env: env({ PORT: String(port), GREETING: 'hello' }), ports: { http: port } }),
    );
    expect(await driver.isAlive(h)).toBe(true);
    const addr = driver.address(h);
    await waitFor('server to accept connections', () => canConnect(addr.ports.http, addr.host));
    const body = await (await fetch(`http://${addr.host}:${addr.ports.http}/`)).text();
    expect(body).toBe(`hello from ${app}`);

    const first = await waitFor('stdout lines', async () => {
      const chunk = await driver.readLogs(h, 'stdout', 0);
      return chunk.text.includes('request /') ? chunk : null;
    });
    expect(first.text).toBe(`listening on ${port}\nrequest /\n`);
    expect(first.next).toBe(Buffer.byteLength(first.text));
    expect((await driver.readLogs(h, 'stdout', first.next)).text).toBe('');
    await fetch(`http://${addr.host}:${addr.ports.http}/again`);
    const more = await waitFor(
      'the next line',
      async () => (await driver.readLogs(h, 'stdout', first.next)).text,
    );
    expect(more).toBe('request /again\n');
    await waitFor(
      'stderr line',
      async () => (await driver.readLogs(h, 'stderr', 0)).text === 'a line on stderr\n',
    );

    expect(await driver.stop(h, { graceMs: 5000 })).not.toBeNull();
    expect(await driver.isAlive(h)).toBe(false);
    await waitFor(`port ${port} to close`, async () => !(await canConnect(port)), { timeoutMs: 3000 });
  });

  it('appends to existing log files; an offset past the end (an emptied log) reads from the start', async () => {
    const driver = c.make();
    const out = path.join(tmp.dir, 'logs', 'out.log');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, 'old\n');
    const h = await start(driver, spec('echo new'));
    await exitOf(driver, h);
    expect(fs.readFileSync(out, 'utf8')).toBe('old\nnew\n');
    fs.writeFileSync(out, 'x\n');
    expect(await driver.readLogs(h, 'stdout', 100)).toEqual({ text: 'x\n', next: 2 });
  });

  it('a crash is observed with its exit code, also when watched after the exit', async () => {
    const driver = c.make();
    const h = await start(driver, spec('sleep 0.2; exit 3'));
    expect(await exitOf(driver, h)).toEqual({ code: 3, signal: null });
    expect(await exitOf(driver, h)).toEqual({ code: 3, signal: null });
    expect(await driver.isAlive(h)).toBe(false);
  });

  it('a death by signal is observed with its signal', async () => {
    const driver = c.make();
    const h = await start(driver, spec('sleep 1000'));
    const exited = exitOf(driver, h);
    driver.kill(h);
    const info = await exited;
    // Sandboxed, bwrap is the leader and reports its command's death as 128 + n.
    if (info.signal === null) expect(info.code).toBe(128 + 9);
    else expect(info).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('stop() escalates to SIGKILL for a process that ignores SIGTERM, and takes the whole group', async () => {
    const driver = c.make();
    // A grandchild in the background that ignores SIGTERM too; it records its pid as the host sees it.
    write(
      'grandchild.cjs',
      `process.on('SIGTERM', () => {}); require('fs').writeFileSync('grandchild', String(process.ppid) + ' ' + process.pid); setInterval(() => {}, 1000);`,
    );
    const h = await start(
      driver,
      spec(`trap '' TERM; node grandchild.cjs & echo ready; sleep 1000; echo never`),
    );
    await waitFor('trap installed', async () =>
      (await driver.readLogs(h, 'stdout', 0)).text.includes('ready'),
    );
    await waitFor('grandchild started', () => read('grandchild'));
    const hostPids = grandchildHostPids(app);
    expect(hostPids.length).toBeGreaterThan(0);

    const t0 = Date.now();
    const info = await driver.stop(h, { graceMs: 600 });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(5000);
    // Without a sandbox sh is the leader and dies by SIGKILL; sandboxed, bwrap leads and ends on SIGTERM.
    expect(info).not.toBeNull();
    expect(await driver.isAlive(h)).toBe(false);
    for (const pid of hostPids) expect(pidAlive(pid)).toBe(false);
  });

  it('stop() delivers SIGTERM through npm to the node grandchild and returns as soon as the group is gone', async () => {
    const driver = c.make();
    write(
      'package.json',
      JSON.stringify({
        name: 'sigterm-app',
        version: '1.0.0',
        private: true,
        scripts: { start: 'node app.cjs' },
      }),
    );
    write(
      'app.cjs',
      `const fs = require('node:fs');
process.on('SIGTERM', () => setTimeout(() => { fs.writeFileSync('got-sigterm', 'yes'); process.exit(0); }, 100));
fs.writeFileSync('ready', String(process.pid));
setInterval(() => {}, 1000);`,
    );
    const h = await start(driver, spec('npm run start'));
    await waitFor('app ready', () => read('ready'), { timeoutMs: 20_000 });
    const t0 = Date.now();
    expect(await driver.stop(h, { graceMs: 10_000 })).not.toBeNull();
    expect(Date.now() - t0).toBeLessThan(8000); // ended on SIGTERM, not by SIGKILL after the grace
    expect(read('got-sigterm')).toBe('yes');
    expect(await driver.isAlive(h)).toBe(false);
  });

  it('stop() with graceMs 0 still waits until it is gone; stopping again is harmless', async () => {
    const driver = c.make();
    const h = await start(driver, spec(`trap '' TERM; echo ready; sleep 1000`));
    await waitFor('trap installed', async () =>
      (await driver.readLogs(h, 'stdout', 0)).text.includes('ready'),
    );
    const info = await driver.stop(h, { graceMs: 0 });
    expect(info).not.toBeNull();
    expect(await driver.isAlive(h)).toBe(false);
    await expect(driver.stop(h, { graceMs: 0 })).resolves.toEqual(info);
    expect(() => driver.kill(h)).not.toThrow();
  });

  it('a handle serialised to JSON is adopted by a fresh driver, which watches and stops it', async () => {
    const owner = c.make();
    const h = await start(owner, spec('sleep 1000'));
    const stored: unknown = JSON.parse(JSON.stringify(h));

    const fresh = c.make();
    const adopted = await fresh.adopt(stored);
    expect(adopted).not.toBeNull();
    if (adopted === null) return;
    expect(adopted).toEqual(h);
    expect(await fresh.isAlive(adopted)).toBe(true);
    const reported: ExitInfo[] = [];
    let unsubscribedCalls = 0;
    fresh.watch(adopted, (info) => reported.push(info));
    fresh.watch(adopted, () => unsubscribedCalls++)();

    expect(await fresh.stop(adopted, { graceMs: 2000 })).toEqual({ code: null, signal: null });
    expect(await owner.isAlive(h)).toBe(false);
    await waitFor('exit reported to the adopter', () => reported.length > 0, { timeoutMs: 3000 });
    expect(reported).toEqual([{ code: null, signal: null }]);
    expect(unsubscribedCalls).toBe(0);
    // Gone now: a later daemon adopts nothing.
    expect(await c.make().adopt(stored)).toBeNull();
  });

  it('a recycled pid is never adopted, watched or signalled', async () => {
    const driver = c.make();
    const h = await start(driver, spec('sleep 1000'));
    // An unrelated live process, and a handle that names its pid with another start time.
    const other = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    loose.push(other.pid as number);
    const json = JSON.parse(JSON.stringify(h)) as Record<string, unknown>;
    const otherStart = Number(readProcStat(other.pid as number)?.startTime);
    // Its real start time may be one tick after ours: the fake must be wrong for this pid, whatever it is.
    const fake = { ...json, pid: other.pid, startTime: String(otherStart + 100_000) };
    const wrongTime = { ...json, startTime: String(Number(json.startTime) + 1) };

    const fresh = c.make();
    expect(await fresh.adopt(fake)).toBeNull();
    expect(await fresh.adopt(wrongTime)).toBeNull();
    for (const junk of [
      null,
      'x',
      {},
      { ...json, driver: 'other' },
      { ...json, pid: 1 },
      { ...json, pid: -1 },
    ])
      expect(await fresh.adopt(junk)).toBeNull();
    // Even handed straight to stop() and kill(), such a handle signals nothing.
    await expect(fresh.stop(fake as unknown as WorkloadHandle, { graceMs: 0 })).resolves.toBeNull();
    fresh.kill(fake as unknown as WorkloadHandle);
    driver.kill(wrongTime as unknown as WorkloadHandle);
    expect(pidAlive(other.pid as number)).toBe(true);
    expect(await driver.isAlive(h)).toBe(true);
  });

  it('a missing working directory is a clear error', async () => {
    const driver = c.make();
    const missing = path.join(tmp.dir, 'nope');
    await expect(driver.start({ ...spec('true'), cwd: missing })).rejects.toThrow(
      `cannot start w1: working directory ${missing} does not exist`,
    );
  });

  it('enforces the resource limits it says it can', async () => {
    const driver = c.make();
    if (!driver.limits.includes('openFiles')) return; // the driver says it cannot here: nothing to check
    const h = await start(driver, spec('ulimit -n', { limits: { openFiles: 123 } }));
    expect(await exitOf(driver, h)).toEqual({ code: 0, signal: null });
    expect((await driver.readLogs(h, 'stdout', 0)).text).toBe('123\n');
  });

  it('a workload that allocates beyond memoryBytes is OOM-killed, and the exit says so', async () => {
    const driver = c.make();
    if (!driver.limits.includes('memoryBytes')) return expect(driver.limitsNote).toMatch(/./);
    write('hog.cjs', 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20).fill(1));');
    const h = await start(driver, spec('node hog.cjs', { limits: { memoryBytes: 96 * 1024 * 1024 } }));
    const exit = await exitOf(driver, h);
    expect(exit.oomKilled).toBe(true);
    expect(exit.code === 137 || exit.signal === 'SIGKILL').toBe(true);
  });

  it('an OOM kill is recognised after adoption by a fresh driver too (its cgroup is in the handle)', async () => {
    const driver = c.make();
    if (!driver.limits.includes('memoryBytes')) return;
    write(
      'hog-later.cjs',
      "const fs = require('node:fs'); const a = []; setInterval(() => { if (fs.existsSync('go')) for (let i = 0; i < 8; i++) a.push(Buffer.alloc(1 << 20).fill(1)); }, 20);",
    );
    const h = await start(driver, spec('node hog-later.cjs', { limits: { memoryBytes: 96 * 1024 * 1024 } }));
    const fresh = c.make();
    const adopted = await fresh.adopt(JSON.parse(JSON.stringify(h)));
    expect(adopted).not.toBeNull();
    const exit = exitOf(fresh, adopted as WorkloadHandle);
    write('go', 'now');
    expect(await exit).toEqual({ code: null, signal: null, oomKilled: true });
  });

  it('a CPU-limited busy loop gets about its quota, read from its CPU usage', async () => {
    const driver = c.make();
    if (!driver.limits.includes('cpus')) return;
    write('spin.cjs', 'for (;;) {}');
    const h = await start(driver, spec('node spin.cjs', { limits: { cpus: 0.2 } }));
    await waitFor('the loop to start', () => (driver.cpuUsageNs([h])[0] ?? 0) > 0);
    const t0 = process.hrtime.bigint();
    const u0 = driver.cpuUsageNs([h])[0] as number;
    await new Promise((r) => setTimeout(r, 1500));
    const used = ((driver.cpuUsageNs([h])[0] as number) - u0) / Number(process.hrtime.bigint() - t0);
    // 0.2 of a core, give or take one CFS period's worth; never the whole core an unlimited loop takes.
    expect(used).toBeGreaterThan(0.1);
    expect(used).toBeLessThan(0.3);
    await driver.stop(h, { graceMs: 0 });
  });

  it('workloads without limits have their CPU time read from their own process groups, in one call', async () => {
    const driver = c.make();
    write('spin.cjs', 'const end = Date.now() + 30000; while (Date.now() < end) {}');
    const idle = await start(driver, spec('sleep 30'));
    const busy = await start(driver, spec('node spin.cjs'));
    await waitFor('CPU time to show', () => (driver.cpuUsageNs([idle, busy])[1] ?? 0) > 200_000_000);
    const [idleNs, busyNs] = driver.cpuUsageNs([idle, busy]);
    // Each its own group's time: the loop's is not counted for the sleeper.
    expect(idleNs).not.toBeNull();
    expect(idleNs).toBeLessThan(100_000_000);
    expect(busyNs).toBeGreaterThan(200_000_000);
    await driver.stop(busy, { graceMs: 0 });
    const after = driver.cpuUsageNs([idle, busy]);
    expect(after[0]).not.toBeNull();
    expect(after[1]).toBeNull();
    await driver.stop(idle, { graceMs: 0 });
    expect(driver.cpuUsageNs([idle, busy])).toEqual([null, null]);
    expect(driver.cpuUsageNs([])).toEqual([]);
  });

  it('a workload’s cgroup is gone once it stopped, also after adoption by a fresh driver', async () => {
    const driver = c.make();
    if (!driver.limits.includes('pids')) return;
    const h = (await start(driver, spec('sleep 30', { limits: { pids: 50 } }))) as WorkloadHandle & {
      cgroup: { dirs: string[] };
    };
    for (const d of h.cgroup.dirs) expect(fs.existsSync(d)).toBe(true);
    const adopted = await c.make().adopt(JSON.parse(JSON.stringify(h)));
    expect(adopted).toEqual(h);
    await c.make().stop(adopted as WorkloadHandle, { graceMs: 0 });
    await waitFor('its cgroup to be removed', () => h.cgroup.dirs.every((d) => !fs.existsSync(d)));
  });
});

/** Host pids of the grandchild and its parent (inside a pid namespace the file holds namespace pids). */
function grandchildHostPids(app: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      if (cmd.includes('grandchild.cjs') && cwd === app) out.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}
