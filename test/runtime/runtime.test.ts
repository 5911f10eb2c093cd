import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canConnect, freePort } from '../../src/lib/net.js';
import { waitFor } from '../../src/lib/wait.js';
import {
  type ExitInfo,
  LogTail,
  ProcessDriver,
  type ProcessHandle,
  parseLogLine,
  readProcStartTime,
  runOnce,
  type WorkloadSpec,
} from '../../src/runtime/index.js';
import { readProcStat } from '../../src/runtime/proc.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let tmp: { dir: string; cleanup: () => void };
/** Process groups (and single pids) to kill after each test, whatever happened. */
let pids: number[] = [];

beforeEach(() => {
  tmp = makeTmpDir('berth-runtime-');
  pids = [];
});

afterEach(() => {
  for (const pid of pids) killGroup(pid, 'SIGKILL');
  tmp.cleanup();
});

function hostEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, ...extra };
}

function spec(command: string, extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    id: 'inst-1',
    cwd: tmp.dir,
    command,
    env: hostEnv(),
    logs: { stdout: path.join(tmp.dir, 'logs', 'out.log'), stderr: path.join(tmp.dir, 'logs', 'err.log') },
    ...extra,
  } as WorkloadSpec;
}

/** Live (non-zombie) processes whose process group is pgid. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') out.push(Number(name));
  }
  return out;
}

/**
 * A multi-threaded process's leader shows as a zombie while its other threads still hold
 * its sockets, so the port closes a moment after the group looks empty.
 */
async function waitForPortClosed(port: number): Promise<void> {
  await waitFor(`port ${port} to close`, async () => !(await canConnect(port)), { timeoutMs: 3000 });
}

function write(name: string, content: string): string {
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(file, content);
  return file;
}

const SERVER = `
const http = require('node:http');
const port = Number(process.env.PORT);
http.createServer((req, res) => res.end('hello from ' + process.pid)).listen(port, '127.0.0.1', () => {
  console.log('listening on ' + port);
  console.error('a line on stderr');
});
`;

// The driver contract itself is test/runtime/driver-conformance.test.ts.
describe('ProcessDriver', () => {
  it('reads a process start time from /proc, null for no such pid', () => {
    expect(readProcStartTime(2 ** 22 + 1)).toBeNull();
    expect(readProcStartTime(process.pid)).toMatch(/^\d+$/);
  });

  it('the app outlives a daemon killed with kill -9, and a new driver adopts, watches and stops it', async () => {
    // `npm test` builds dist/ first; the fake daemon uses the compiled driver like the real one.
    const compiled = pathToFileURL(path.join(repoRoot, 'dist/runtime/index.js')).href;
    write('server.cjs', SERVER);
    const port = await freePort();
    const daemonScript = write(
      'daemon.mjs',
      `
import { ProcessDriver } from '${compiled}';
const driver = new ProcessDriver();
const h = await driver.start(JSON.parse(process.argv[2]));
process.stdout.write(JSON.stringify(h) + '\\n');
setInterval(() => {}, 1000); // stay alive until killed
`,
    );
    const appSpec = spec('node server.cjs', { env: hostEnv({ PORT: String(port) }) });
    const daemon = spawn(process.execPath, [daemonScript, JSON.stringify(appSpec)], {
      cwd: tmp.dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    pids.push(daemon.pid as number);
    let out = '';
    daemon.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const daemonExited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
    const line = await waitFor('handle from the daemon', () =>
      out.includes('\n') ? out.split('\n')[0] : '',
    );
    const h = JSON.parse(line) as ProcessHandle;
    pids.push(h.pid);
    await waitFor('server up', () => canConnect(port));

    daemon.kill('SIGKILL');
    await daemonExited;

    const driver = new ProcessDriver();
    expect(await driver.adopt(JSON.parse(line))).toEqual(h);
    expect(await canConnect(port)).toBe(true);
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    const serverPid = Number(body.replace('hello from ', ''));
    expect(readProcStat(serverPid)?.pgrp).toBe(h.pid); // sh may fork node rather than exec it

    const reported: ExitInfo[] = [];
    driver.watch(h, (info) => reported.push(info));
    const info = await driver.stop(h, { graceMs: 5000 });
    expect(info).toEqual({ code: null, signal: null });
    expect(await driver.isAlive(h)).toBe(false);
    expect(groupMembers(h.pid)).toEqual([]);
    await waitForPortClosed(port);
    await waitFor('exit reported to the adopter', () => reported.length > 0, { timeoutMs: 3000 });
    expect(reported).toEqual([{ code: null, signal: null }]);
  });
});

describe('runOnce', () => {
  it('reports the exit code and the lines of both streams', async () => {
    const lines: [string, string][] = [];
    const res = await runOnce({
      command: 'echo "$GREETING"; pwd; echo oops >&2; printf "no newline"; exit 7',
      cwd: tmp.dir,
      env: hostEnv({ GREETING: 'hi there' }),
      timeoutMs: 10_000,
      onLine: (line, stream) => lines.push([line, stream]),
    });
    expect(res).toMatchObject({ code: 7, signal: null, timedOut: false, aborted: false });
    expect(lines).toContainEqual(['hi there', 'stdout']);
    expect(lines).toContainEqual([fs.realpathSync(tmp.dir), 'stdout']);
    expect(lines).toContainEqual(['oops', 'stderr']);
    expect(lines).toContainEqual(['no newline', 'stdout']);
    expect(res.lastLines).toHaveLength(4);
  });

  it('keeps the last 20 lines', async () => {
    const res = await runOnce({
      command: 'i=1; while [ $i -le 30 ]; do echo line$i; i=$((i+1)); done',
      cwd: tmp.dir,
      env: hostEnv(),
      timeoutMs: 10_000,
      onLine: () => {},
    });
    expect(res.code).toBe(0);
    expect(res.lastLines).toHaveLength(20);
    expect(res.lastLines[0]).toBe('line11');
    expect(res.lastLines[19]).toBe('line30');
  });

  it('a timeout kills the whole group', async () => {
    const t0 = Date.now();
    const res = await runOnce({
      command: 'echo $$ > leader; sleep 1000 & echo $! > bg; wait',
      cwd: tmp.dir,
      env: hostEnv(),
      timeoutMs: 500,
      onLine: () => {},
    });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(res.timedOut).toBe(true);
    expect(res.code).toBeNull();
    expect(res.signal).toBe('SIGTERM');
    const leader = Number(fs.readFileSync(path.join(tmp.dir, 'leader'), 'utf8'));
    pids.push(leader);
    expect(groupMembers(leader)).toEqual([]);
  });

  it('a timeout escalates to SIGKILL when SIGTERM is ignored', async () => {
    const res = await runOnce({
      command: `trap '' TERM; echo $$ > leader; sleep 1000`,
      cwd: tmp.dir,
      env: hostEnv(),
      timeoutMs: 300,
      onLine: () => {},
    });
    expect(res.timedOut).toBe(true);
    expect(res.signal).toBe('SIGKILL');
    const leader = Number(fs.readFileSync(path.join(tmp.dir, 'leader'), 'utf8'));
    pids.push(leader);
    expect(groupMembers(leader)).toEqual([]);
  });

  it('abort kills the group; an already aborted signal runs nothing', async () => {
    const ac = new AbortController();
    const res = await runOnce({
      command: 'echo $$ > leader; echo started; sleep 1000',
      cwd: tmp.dir,
      env: hostEnv(),
      timeoutMs: 60_000,
      signal: ac.signal,
      onLine: (line) => {
        if (line === 'started') ac.abort();
      },
    });
    expect(res).toMatchObject({ aborted: true, timedOut: false, code: null });
    expect(res.lastLines).toEqual(['started']);
    const leader = Number(fs.readFileSync(path.join(tmp.dir, 'leader'), 'utf8'));
    pids.push(leader);
    expect(groupMembers(leader)).toEqual([]);

    const again = await runOnce({
      command: 'touch ran',
      cwd: tmp.dir,
      env: hostEnv(),
      timeoutMs: 1000,
      signal: ac.signal,
      onLine: () => {},
    });
    expect(again.aborted).toBe(true);
    expect(fs.existsSync(path.join(tmp.dir, 'ran'))).toBe(false);
  });

  it('does not hang on background processes that keep the output open, and kills them', async () => {
    const t0 = Date.now();
    const res = await runOnce({
      command: 'sleep 1000 & echo $! > bg; echo done',
      cwd: tmp.dir,
      env: hostEnv(),
      timeoutMs: 30_000,
      onLine: () => {},
    });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(res).toMatchObject({ code: 0, timedOut: false, lastLines: ['done'] });
    const bg = Number(fs.readFileSync(path.join(tmp.dir, 'bg'), 'utf8'));
    pids.push(bg);
    await waitFor('background process gone', () => {
      const st = readProcStat(bg);
      return st === null || st.state === 'Z';
    });
  });

  it('rejects when the working directory does not exist', async () => {
    await expect(
      runOnce({
        command: 'true',
        cwd: path.join(tmp.dir, 'nope'),
        env: hostEnv(),
        timeoutMs: 1000,
        onLine: () => {},
      }),
    ).rejects.toThrow(/does not exist/);
  });
});

describe('LogTail', () => {
  it('emits complete lines from pieces, waits for a file that does not exist yet', async () => {
    const file = path.join(tmp.dir, 'app.log');
    const lines: string[] = [];
    const tail = new LogTail(file, 0, (l) => lines.push(l));
    try {
      fs.appendFileSync(file, 'hel');
      fs.appendFileSync(file, 'lo\nwor');
      await waitFor('first line', () => lines.length >= 1);
      expect(lines).toEqual(['hello']);
      expect(tail.offset()).toBe(6);
      fs.appendFileSync(file, 'ld\r\n\nlast\n');
      await waitFor('more lines', () => lines.length >= 4);
      expect(lines).toEqual(['hello', 'world', '', 'last']);
      expect(tail.offset()).toBe(fs.statSync(file).size);
    } finally {
      tail.close();
    }
  });

  it('resumes from offset() without duplicates, also across a partial line', async () => {
    const file = path.join(tmp.dir, 'app.log');
    fs.writeFileSync(file, 'one\ntwo\nthr');
    const first: string[] = [];
    const a = new LogTail(file, 0, (l) => first.push(l));
    await waitFor('two lines', () => first.length >= 2);
    a.drain();
    expect(first).toEqual(['one', 'two']);
    const off = a.offset();
    expect(off).toBe(8);
    a.close();
    fs.appendFileSync(file, 'ee\nfour\n'); // written while "the daemon is down"
    expect(first).toEqual(['one', 'two']);

    const second: string[] = [];
    const b = new LogTail(file, off, (l) => second.push(l));
    try {
      await waitFor('resumed lines', () => second.length >= 2);
      fs.appendFileSync(file, 'five\n');
      b.drain(); // synchronous read
      expect(second).toEqual(['three', 'four', 'five']);
    } finally {
      b.close();
    }
  });

  it('starts over after truncation, and after the directory appears later', async () => {
    const dir = path.join(tmp.dir, 'later');
    const file = path.join(dir, 'app.log');
    const lines: string[] = [];
    const tail = new LogTail(file, 0, (l) => lines.push(l));
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(file, 'a fairly long first line\n');
      await waitFor('line after dir creation', () => lines.length >= 1, { timeoutMs: 5000 });
      fs.truncateSync(file, 0);
      fs.appendFileSync(file, 'new\n');
      await waitFor('line after truncation', () => lines.length >= 2, { timeoutMs: 5000 });
      expect(lines).toEqual(['a fairly long first line', 'new']);
      expect(tail.offset()).toBe(4);
    } finally {
      tail.close();
    }
  });

  it('an offset beyond the end (file truncated while down) restarts at 0; close() stops emitting', async () => {
    const file = write('app.log', 'x\n');
    const lines: string[] = [];
    const tail = new LogTail(file, 1000, (l) => lines.push(l));
    await waitFor('line', () => lines.length >= 1);
    tail.close();
    fs.appendFileSync(file, 'y\n');
    tail.drain(); // a no-op once closed
    expect(lines).toEqual(['x']);
  });
});

describe('LogTail with truncateAfterBytes', () => {
  it('empties the file once read past the cap; an O_APPEND writer goes on at the new end', async () => {
    const file = path.join(tmp.dir, 'out.log');
    const fd = fs.openSync(file, 'a');
    const lines: string[] = [];
    const tail = new LogTail(file, 0, (l) => lines.push(l), { truncateAfterBytes: 256 });
    try {
      // More than the cap, less than twice: read in two slices, nothing dropped.
      const first = Array.from({ length: 15 }, (_, i) => `line ${i} ${'x'.repeat(10)}`);
      fs.writeSync(fd, `${first.join('\n')}\n`);
      await waitFor('the first lines', () => lines.length >= 15);
      await waitFor('the file to be emptied', () => fs.statSync(file).size === 0);
      expect(tail.offset()).toBe(0);
      fs.writeSync(fd, 'after\n');
      await waitFor('the line after truncation', () => lines.length >= 16);
      expect(lines).toEqual([...first, 'after']);
      expect(fs.readFileSync(file, 'utf8')).toBe('after\n'); // written at 0, not past a hole
    } finally {
      tail.close();
      fs.closeSync(fd);
    }
  });

  it('keeps the newest lines of a backlog larger than the cap and reports what it dropped', async () => {
    const file = path.join(tmp.dir, 'out.log');
    const all = Array.from({ length: 100_000 }, (_, i) => `line ${i}`);
    fs.writeFileSync(file, `${all.join('\n')}\n`);
    const size = fs.statSync(file).size;
    const lines: string[] = [];
    const dropped: number[] = [];
    const tail = new LogTail(file, 0, (l) => lines.push(l), {
      truncateAfterBytes: 64 * 1024,
      onDropped: (n) => dropped.push(n),
    });
    try {
      // The first read happens on the next tick and reads at most the cap.
      await waitFor('the file to be emptied', () => fs.statSync(file).size === 0);
      expect(lines.at(-1)).toBe('line 99999');
      expect(dropped).toHaveLength(1);
      const emitted = lines.reduce((n, l) => n + l.length + 1, 0);
      expect(dropped[0] + emitted).toBe(size);
      // what was emitted: the first slice read, then (after the gap) the newest lines up to the last one
      const gap = lines.findIndex((l, i) => l !== all[i]);
      const resumed = Number(lines[gap].split(' ')[1]);
      expect(resumed).toBeGreaterThan(gap);
      expect(lines).toEqual([...all.slice(0, gap), ...all.slice(resumed)]);
    } finally {
      tail.close();
    }
  });
});

describe('parseLogLine', () => {
  it('parses pino JSON', () => {
    const raw = JSON.stringify({
      level: 40,
      time: 1700000000000,
      pid: 12,
      hostname: 'h',
      msg: 'disk low',
      free: 3,
    });
    expect(parseLogLine(raw, 'stdout')).toEqual({
      level: 'warn',
      message: 'disk low',
      attributes: { time: 1700000000000, pid: 12, hostname: 'h', free: 3 },
    });
    expect(parseLogLine('{"level":10,"msg":"t"}', 'stdout').level).toBe('debug');
    expect(parseLogLine('{"level":20,"msg":"d"}', 'stderr').level).toBe('debug');
    expect(parseLogLine('{"level":30,"msg":"i"}', 'stderr')).toEqual({ level: 'info', message: 'i' });
    expect(parseLogLine('{"level":50,"msg":"e"}', 'stdout').level).toBe('error');
    expect(parseLogLine('{"level":60,"msg":"f"}', 'stdout').level).toBe('error');
  });

  it('parses level / severity names and message', () => {
    expect(parseLogLine('{"level":"warn","message":"careful"}', 'stdout')).toEqual({
      level: 'warn',
      message: 'careful',
    });
    expect(parseLogLine('{"severity":"ERROR","message":"bad","code":"E1"}', 'stdout')).toEqual({
      level: 'error',
      message: 'bad',
      attributes: { code: 'E1' },
    });
    expect(parseLogLine('{"level":"WARNING","msg":"w"}', 'stderr').level).toBe('warn');
    expect(parseLogLine('{"level":"debug","msg":{"nested":true}}', 'stdout')).toEqual({
      level: 'debug',
      message: '{"nested":true}',
    });
  });

  it('falls back to the stream for plain text and JSON without a known level', () => {
    expect(parseLogLine('Error: boom', 'stderr')).toEqual({ level: 'error', message: 'Error: boom' });
    expect(parseLogLine('Server started', 'stdout')).toEqual({ level: 'info', message: 'Server started' });
    expect(parseLogLine('{not json}', 'stdout')).toEqual({ level: 'info', message: '{not json}' });
    expect(parseLogLine('[1,2]', 'stderr')).toEqual({ level: 'error', message: '[1,2]' });
    expect(parseLogLine('{"msg":"no level"}', 'stderr')).toEqual({ level: 'error', message: 'no level' });
    expect(parseLogLine('{"user":"ann"}', 'stdout')).toEqual({
      level: 'info',
      message: '{"user":"ann"}',
      attributes: { user: 'ann' },
    });
  });
});
