import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness, CLI } from '../helpers/berth.js';
import { needsCgroups, sandboxed } from '../helpers/optional-tools.js';

describe('berth ssh: a command inside a running replica, through the API', () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'shell', '-s', 'web'];
  let appDir: string;

  beforeAll(async () => {
    await berth.start();
    const up = await berth.cli(['up', berth.app('env-echo', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [latest] = await berth.settledDeployments(scope);
    appDir = path.join(berth.dataDir, 'artifacts', latest.id, 'app');
  });
  afterAll(async () => {
    await berth.stop();
  });

  it('ssh -- printenv RAILWAY_SERVICE_NAME prints the service name', async () => {
    const r = await berth.cli(['ssh', ...scope, '--', 'printenv', 'RAILWAY_SERVICE_NAME']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('web\n');
  });

  it("the command's exit code is passed back: ssh -- false exits 1, sh -c 'exit 7' exits 7", async () => {
    expect((await berth.cli(['ssh', ...scope, '--', 'false'])).code).toBe(1);
    const seven = await berth.cli(['ssh', ...scope, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(seven).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
  });

  it("runs in the replica's directory, as its user, with its variables", async () => {
    const pwd = await berth.cli(['ssh', ...scope, '--', 'pwd']);
    expect(pwd.stdout).toBe(`${appDir}\n`);
    const port = await berth.cli(['ssh', ...scope, '--', 'printenv', 'PORT']);
    expect(port.stdout).toMatch(/^\d+\n$/);
    const uid = (await berth.cli(['ssh', ...scope, '--', 'id', '-u'])).stdout.trim();
    if (sandboxed) {
      const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
      const { seq } = db.prepare('SELECT seq FROM sandbox_users').get() as { seq: number };
      db.close();
      expect(uid).toBe(String(2_000_000 + seq));
      // The sandbox hides the data dir: the admin token is not there to read.
      const token = await berth.cli(['ssh', ...scope, '--', 'cat', path.join(berth.dataDir, 'admin-token')]);
      expect(token.code).not.toBe(0);
      expect(token.stdout).toBe('');
    } else {
      expect(uid).toBe(String(process.getuid?.()));
    }
  });

  it('stdin reaches the command and its output comes back byte for byte', async () => {
    const child = spawn(process.execPath, [CLI, 'ssh', ...scope, '--', 'cat'], { env: berth.env() });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stdin.end('first line\nsecond line without a newline');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(out).toBe('first line\nsecond line without a newline');
  });

  it('a project token reaches ssh in its own environment only', async () => {
    const prod = await berth.cli(['token', 'create', '-p', 'shell', '-e', 'production']);
    expect(prod.code, prod.stderr).toBe(0);
    const allowed = await berth.cli(['ssh', '-s', 'web', '--', 'printenv', 'RAILWAY_ENVIRONMENT_NAME'], {
      env: { BERTH_TOKEN: prod.stdout.trim() },
    });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toBe('production\n');

    expect((await berth.cli(['environment', 'new', 'staging', '-p', 'shell'])).code).toBe(0);
    const staging = await berth.cli(['token', 'create', '-p', 'shell', '-e', 'staging']);
    const refused = await berth.cli(['ssh', ...scope, '-e', 'production', '--', 'true'], {
      env: { BERTH_TOKEN: staging.stdout.trim() },
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'Error: This project token only reaches the staging environment of project shell; use a token of the environment you meant, or the admin token.\n',
    );
    const bad = await berth.cli(['ssh', ...scope, '--', 'true'], { env: { BERTH_TOKEN: 'not-a-token' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('The token was rejected by');
  });

  it('a replica that does not run, and a service without one, are refused in one sentence', async () => {
    const none = await berth.cli(['ssh', ...scope, '--replica', '5', '--', 'true']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      'Error: Service "web" has no running replica 5 in production; its running replicas are 0.\n',
    );
    const down = await berth.cli(['down', '-y', ...scope]);
    expect(down.code, down.stderr).toBe(0);
    const gone = await berth.cli(['ssh', ...scope, '--', 'true']);
    expect(gone.stderr).toBe(
      'Error: Service "web" has no running replica in production; deploy it with `berth up` first.\n',
    );
  });
});

describe.skipIf(!fs.existsSync('/usr/bin/script'))(
  'berth ssh with a terminal (util-linux script gives the CLI one)',
  () => {
    const berth = new BerthHarness();
    const scope = ['-p', 'tty', '-s', 'web'];

    beforeAll(async () => {
      await berth.start();
      const up = await berth.cli(['up', berth.app('env-echo', 'web'), ...scope]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
    });
    afterAll(async () => {
      await berth.stop();
    });

    it('an interactive shell runs on a pseudo-terminal and its exit code comes back', async () => {
      // script(1) runs the CLI on a terminal of its own; what is typed goes to its stdin.
      const cli = [process.execPath, CLI, 'ssh', ...scope].join(' ');
      const child = spawn('/usr/bin/script', ['-q', '-e', '-c', cli, '/dev/null'], { env: berth.env() });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stdin.write('tty; printenv RAILWAY_SERVICE_NAME; exit 4\n');
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(out).toMatch(/\/dev\/pts\/\d+/);
      expect(out).toContain('web');
      expect(code).toBe(4);
    });
  },
);

/** The v1 (or v2) line of a /proc/<pid>/cgroup text for a controller: its path in that hierarchy. */
function cgroupLine(text: string, controller: string): string | undefined {
  for (const line of text.trim().split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m?.[1].split(',').includes(controller)) return m[2];
  }
  return /^0::(.*)$/m.exec(text)?.[1];
}

const withCgroups = needsCgroups("berth ssh runs within the replica's memory, CPU and process limits");
describe.skipIf(withCgroups.skip)(withCgroups.title, () => {
  const berth = new BerthHarness();
  const scope = ['-p', 'limited', '-s', 'web'];

  beforeAll(async () => {
    await berth.start();
    const up = await berth.cli(['up', berth.app('limits', 'web'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
  });
  afterAll(async () => {
    await berth.stop();
  });

  it("a command started by berth ssh is in the replica's cgroup, not the server's", async () => {
    const db = new Database(path.join(berth.dataDir, 'state.db'), { readonly: true });
    const row = db.prepare("SELECT handle_json FROM workloads WHERE owner_kind = 'replica'").get() as {
      handle_json: string;
    };
    db.close();
    const h = JSON.parse(row.handle_json) as { cgroup: { dirs: string[] } };
    const r = await berth.cli(['ssh', ...scope, '--', 'cat', '/proc/self/cgroup']);
    expect(r.code, r.stderr).toBe(0);
    // The server started by the harness is where this test process is.
    const server = fs.readFileSync('/proc/self/cgroup', 'utf8');
    for (const c of ['memory', 'cpu', 'pids']) {
      const dir = h.cgroup.dirs.find((x) => x.includes(`/${c}/`)) as string;
      const mine = cgroupLine(r.stdout, c) as string;
      expect(mine, `${c} in ${r.stdout}`).not.toBe(cgroupLine(server, c));
      expect(dir.endsWith(mine), `${c}: ${mine} is not ${dir}`).toBe(true);
    }
  });
});
