import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { list as listTar } from 'tar';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/lib/net.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { FakeApi, type RecordedRequest } from './fake-api.js';

/**
 * The CLI run as a real process (`node dist/cli/main.js …`) against FakeApi, a test double of the API.
 * BERTH_CLI_MAIN points at another build of main.js (e.g. one compiled from src/cli alone).
 */
const CLI = process.env.BERTH_CLI_MAIN ?? path.resolve('dist/cli/main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let tmp: { dir: string; cleanup: () => void };
let home: string;
let api: FakeApi;

function baseEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BERTH_')) env[k] = v;
  Object.assign(env, { HOME: home, NO_COLOR: '1', BERTH_NO_AUTOSTART: '1', BERTH_URL: api.url }, extra);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

function berth(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? tmp.dir,
      env: baseEnv({ BERTH_TOKEN: api.token, ...opts.env }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the CLI may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

function bodyOf(r: RecordedRequest | undefined): unknown {
  return FakeApi.json(r);
}

function link(dir: string, to: Record<string, string>): void {
  fs.mkdirSync(path.join(home, '.berth'), { recursive: true });
  fs.writeFileSync(configFile(), JSON.stringify({ links: { [dir]: to } }));
}

function configFile(): string {
  return path.join(home, '.berth', 'cli.json');
}

function readConfig(): { url?: string; token?: string; links: Record<string, Record<string, string>> } {
  return JSON.parse(fs.readFileSync(configFile(), 'utf8'));
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

function newDir(name: string): string {
  const dir = path.join(tmp.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  return fs.realpathSync(dir);
}

async function tarEntries(data: Buffer): Promise<string[]> {
  const file = path.join(tmp.dir, `upload-${Date.now()}.tgz`);
  fs.writeFileSync(file, data);
  const names: string[] = [];
  await listTar({ file, onReadEntry: (e) => names.push(e.path) });
  return names.sort();
}

beforeAll(async () => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing; run \`npm run build\` first`);
  tmp = makeTmpDir('berth-cli-test-');
  api = new FakeApi();
  await api.start();
});

afterAll(async () => {
  await api?.stop();
  tmp?.cleanup();
});

beforeEach(() => {
  api.reset();
  home = fs.mkdtempSync(path.join(tmp.dir, 'home-'));
});

describe('errors', () => {
  it('says the server cannot be reached, in one line, with exit 1', async () => {
    const port = await freePort();
    const r = await berth(['status', '-p', 'demo'], { env: { BERTH_URL: `http://127.0.0.1:${port}` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `Error: Cannot reach the Berth server at http://127.0.0.1:${port}; start it with \`berth server\` or set BERTH_URL\n`,
    );
  });

  it('prints the server’s error message verbatim', async () => {
    const r = await berth(['link', '-p', 'missing']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: Project "missing" does not exist; create it with `berth init`.\n');
  });

  it('unknown commands and flags exit 1 with commander’s message', async () => {
    const a = await berth(['frobnicate']);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain("unknown command 'frobnicate'");
    const b = await berth(['status', '--frobnicate']);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain("unknown option '--frobnicate'");
  });

  it('--version prints the version', async () => {
    const r = await berth(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('needs a project when the directory is not linked', async () => {
    const r = await berth(['status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: No project is linked to this directory; .*\n$/);
  });
});

describe('context resolution', () => {
  it('token: BERTH_TOKEN > config token > <dataDir>/admin-token', async () => {
    const dataDir = path.join(home, 'data');
    fs.mkdirSync(dataDir);
    fs.writeFileSync(path.join(dataDir, 'admin-token'), 'file-token\n');
    const env = { BERTH_TOKEN: undefined, BERTH_DATA_DIR: dataDir };

    api.token = 'file-token';
    expect((await berth(['status', '-p', 'demo', '--json'], { env })).code).toBe(0);
    expect(api.requests.at(-1)?.authorization).toBe('Bearer file-token');

    fs.mkdirSync(path.join(home, '.berth'), { recursive: true });
    fs.writeFileSync(configFile(), JSON.stringify({ token: 'config-token', links: {} }));
    api.token = 'config-token';
    expect((await berth(['status', '-p', 'demo', '--json'], { env })).code).toBe(0);
    expect(api.requests.at(-1)?.authorization).toBe('Bearer config-token');

    api.token = 'env-token';
    expect(
      (await berth(['status', '-p', 'demo', '--json'], { env: { ...env, BERTH_TOKEN: 'env-token' } })).code,
    ).toBe(0);
    expect(api.requests.at(-1)?.authorization).toBe('Bearer env-token');
  });

  it('url: BERTH_URL > config url; BERTH_CLI_CONFIG moves the config file', async () => {
    const cfg = path.join(home, 'elsewhere.json');
    fs.writeFileSync(cfg, JSON.stringify({ url: api.url, links: {} }));
    const viaConfig = await berth(['status', '-p', 'demo', '--json'], {
      env: { BERTH_URL: undefined, BERTH_CLI_CONFIG: cfg },
    });
    expect(viaConfig.code).toBe(0);

    const port = await freePort();
    const envWins = await berth(['status', '-p', 'demo'], {
      env: { BERTH_URL: `http://127.0.0.1:${port}`, BERTH_CLI_CONFIG: cfg },
    });
    expect(envWins.code).toBe(1);
    expect(envWins.stderr).toContain(`http://127.0.0.1:${port}`);
  });

  it('a rejected token says where the admin token is', async () => {
    const r = await berth(['status', '-p', 'demo'], { env: { BERTH_TOKEN: 'wrong' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^Error: The token was rejected by http:\/\/127\.0\.0\.1:\d+; check it \(.*admin-token\)\n$/,
    );
  });

  it('login verifies the token, then saves url and token with mode 0600', async () => {
    const bad = await berth(['login', '--url', api.url, '--token', 'nope'], {
      env: { BERTH_URL: undefined },
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`The token was rejected by ${api.url}`);
    expect(fs.existsSync(configFile())).toBe(false);

    const good = await berth(['login', '--url', api.url, '--token', 'good-token'], {
      env: { BERTH_URL: undefined, BERTH_TOKEN: undefined },
    });
    expect(good.code).toBe(0);
    expect(good.stdout).toBe(`Logged in to ${api.url} (admin token)\n`);
    expect(readConfig()).toMatchObject({ url: api.url, token: 'good-token' });
    expect(fs.statSync(configFile()).mode & 0o777).toBe(0o600);
    expect(api.find('GET', /^\/v1\/whoami$/)?.authorization).toBe('Bearer good-token');
  });
});

describe('link, unlink, init, add', () => {
  it('link persists per directory, is found from subdirectories, and unlink removes it', async () => {
    api.projects.set('demo', new Set(['web']));
    const dir = newDir('linked-app');
    const sub = path.join(dir, 'src', 'deep');
    fs.mkdirSync(sub, { recursive: true });

    const missingSvc = await berth(['link', '-p', 'demo', '-s', 'nope'], { cwd: dir });
    expect(missingSvc.code).toBe(1);
    expect(missingSvc.stderr).toMatch(/^Error: Service "nope" does not exist in project "demo"; .*\n$/);

    const linked = await berth(['link', '-p', 'demo', '-s', 'web'], { cwd: dir });
    expect(linked.code).toBe(0);
    expect(readConfig().links[dir]).toEqual({ project: 'demo', environment: 'production', service: 'web' });
    expect(fs.statSync(configFile()).mode & 0o777).toBe(0o600);

    api.variables = { A: '1' };
    const vars = await berth(['variables', '--json'], { cwd: sub });
    expect(vars.code).toBe(0);
    expect(JSON.parse(vars.stdout)).toEqual({ A: '1' });
    expect(api.requests.at(-1)?.path).toBe(
      '/v1/projects/demo/environments/production/services/web/variables',
    );

    // Flags beat the link.
    await berth(['variables', '--json', '-s', 'other', '-e', 'staging'], { cwd: sub });
    expect(api.requests.at(-1)?.path).toBe('/v1/projects/demo/environments/staging/services/other/variables');

    const unlinked = await berth(['unlink'], { cwd: sub });
    expect(unlinked.code).toBe(0);
    expect(readConfig().links[dir]).toBeUndefined();
    const after = await berth(['variables'], { cwd: dir });
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^Error: No project is linked/);
  });

  it('init creates and links the project; add links the new service', async () => {
    const dir = newDir('my-proj');
    const init = await berth(['init'], { cwd: dir });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('my-proj');
    expect(JSON.parse(api.find('POST', /^\/v1\/projects$/)?.body.toString() ?? '{}')).toEqual({
      name: 'my-proj',
    });
    expect(readConfig().links[dir]).toEqual({ project: 'my-proj', environment: 'production' });

    const add = await berth(['add', '--service', 'api'], { cwd: dir });
    expect(add.code).toBe(0);
    expect(api.find('POST', /^\/v1\/projects\/my-proj\/services$/)).toBeDefined();
    expect(readConfig().links[dir]).toEqual({
      project: 'my-proj',
      environment: 'production',
      service: 'api',
    });
  });
});

describe('up', () => {
  function makeApp(name: string): string {
    const dir = newDir(name);
    writeFiles(dir, {
      'index.js': 'console.log(1)',
      'package.json': '{}',
      '.gitignore': '*.log\nbuild/\n',
      '.berthignore': 'secret.txt\n',
      'app.log': 'x',
      'build/out.js': 'x',
      'secret.txt': 'x',
      '.git/HEAD': 'ref: refs/heads/main',
      'node_modules/dep/index.js': 'x',
      'src/lib.js': 'x',
      'src/node_modules/nested/index.js': 'x',
      'src/.gitignore': 'local.txt\n',
      'src/local.txt': 'x',
    });
    return dir;
  }

  it('uploads a tarball that honours ignore files and never holds .git or node_modules, then follows', async () => {
    const dir = makeApp('shop');
    const r = await berth(['up', '-m', 'first deploy'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    const upload = api.find('POST', /\/up$/);
    expect(upload?.path).toBe('/v1/projects/shop/environments/production/services/shop/up');
    expect(upload?.query.get('create')).toBe('1');
    expect(upload?.query.get('message')).toBe('first deploy');
    expect(upload?.contentType).toBe('application/gzip');
    const entries = await tarEntries(upload?.body ?? Buffer.alloc(0));
    expect(entries).toEqual([
      '.berthignore',
      '.gitignore',
      'index.js',
      'package.json',
      'src/.gitignore',
      'src/lib.js',
    ]);

    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Uploaded 6 files \(\d+\.\d KB\)$/);
    expect(lines[1]).toContain('dep-1');
    expect(r.stdout).toContain('==> BUILDING');
    expect(r.stdout).toContain('[build] npm install');
    expect(r.stdout).toContain('==> Starting replica 0');
    expect(r.stdout).toContain('listening on 3000');
    expect(lines.at(-1)).toBe('Deployed http://svc.localhost:8080');
    const logs = api.find('GET', /^\/v1\/deployments\/dep-1\/logs$/);
    expect(logs?.query.get('follow')).toBe('1');
    expect(logs?.query.get('until')).toBe('terminal');

    // The directory is linked afterwards.
    expect(readConfig().links[dir]).toEqual({ project: 'shop', environment: 'production', service: 'shop' });
  });

  it('exits 1 with the reason when the deployment fails', async () => {
    api.outcome = 'FAILED';
    const r = await berth(['up'], { cwd: makeApp('broken') });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('==> FAILED');
    expect(r.stderr).toBe('Deployment failed: the build command exited with code 2\n');
  });

  it('falls back to polling when the log stream drops', async () => {
    api.outcome = 'drop';
    const r = await berth(['up'], { cwd: makeApp('flaky') });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[build] npm install');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('Deployed http://svc.localhost:8080');
    expect(r.stderr).toContain('The log stream stopped');
    expect(api.find('GET', /^\/v1\/deployments\/dep-1$/)).toBeDefined();
  });

  it('--detach prints the id and url without following', async () => {
    const r = await berth(['up', '--detach'], { cwd: makeApp('quick') });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('dep-1');
    expect(r.stdout).toContain('http://quick.localhost:8080');
    expect(api.find('GET', /\/logs$/)).toBeUndefined();
  });

  it('uses the link of the directory instead of its name', async () => {
    const dir = makeApp('somewhere');
    fs.mkdirSync(path.join(home, '.berth'), { recursive: true });
    fs.writeFileSync(
      configFile(),
      JSON.stringify({ links: { [dir]: { project: 'demo', environment: 'staging', service: 'web' } } }),
    );
    const r = await berth(['up', '--detach'], { cwd: path.join(dir, 'src') });
    expect(r.code).toBe(0);
    // PATH defaults to the cwd (src), whose nearest linked ancestor is dir.
    expect(api.find('POST', /\/up$/)?.path).toBe('/v1/projects/demo/environments/staging/services/web/up');
  });
});

describe('read commands', () => {
  it('status --json passes the server’s answer through unchanged', async () => {
    const r = await berth(['status', '--json', '-p', 'demo']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(api.statusAnswer);
    expect(api.requests.at(-1)?.path).toBe('/v1/projects/demo/environments/production/status');

    const human = await berth(['status', '-p', 'demo']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/web\s+app\s+SUCCESS\s+2\s+http:\/\/web-demo\.localhost:8080\s+dep-9/);
  });

  it("status shows the server's free disk and warns when it is nearly full", async () => {
    const GB = 1024 ** 3;
    try {
      api.statusAnswer.disk = { path: '/srv/berth', freeBytes: 50 * GB, totalBytes: 100 * GB };
      const fine = await berth(['status', '-p', 'demo']);
      expect(fine.stdout).toContain('Disk: 50.0 GB free of 100.0 GB (server data in /srv/berth)');
      expect(fine.stderr).toBe('');

      api.statusAnswer.disk = { path: '/srv/berth', freeBytes: 1.5 * GB, totalBytes: 100 * GB };
      const low = await berth(['status', '-p', 'demo']);
      expect(low.code).toBe(0);
      expect(low.stdout).toContain('Disk: 1.5 GB free of 100.0 GB');
      expect(low.stderr).toMatch(/^Warning: the server's disk is nearly full; .*--keep-deployments.*\n$/);
    } finally {
      delete api.statusAnswer.disk;
    }
  });

  it('deployments --json has exactly id, status, createdAt, reason, the git commit and the message; also as `deployment list`', async () => {
    const git = { gitSha: 'a'.repeat(40), gitBranch: 'main', gitMessage: 'fix it', message: null };
    const none = { gitSha: null, gitBranch: null, gitMessage: null, message: null };
    api.deployments = [
      { id: 'dep-2', status: 'FAILED', reason: 'boom', createdAt: '2024-01-02T00:00:00Z', ...git },
      { id: 'dep-1', status: 'SUCCESS', reason: null, createdAt: '2024-01-01T00:00:00Z' },
    ];
    for (const args of [['deployments'], ['deployment', 'list']]) {
      const r = await berth([...args, '--json', '-p', 'demo', '-s', 'web', '--limit', '5']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([api.deployments[0], { ...api.deployments[1], ...none }]);
      expect(api.requests.at(-1)?.query.get('limit')).toBe('5');
    }
  });

  it('logs defaults to the latest successful deployment; --json prints NDJSON as received', async () => {
    api.deployments = [
      { id: 'dep-2', status: 'FAILED', reason: 'boom', createdAt: '2024-01-02T00:00:00Z' },
      { id: 'dep-1', status: 'SUCCESS', reason: null, createdAt: '2024-01-01T00:00:00Z' },
    ];
    const r = await berth(['logs', '-p', 'demo', '-s', 'web', '-n', '10']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello from dep-1\n');
    const req = api.find('GET', /\/logs$/);
    expect(req?.path).toBe('/v1/deployments/dep-1/logs');
    expect(req?.query.get('lines')).toBe('10');

    const json = await berth(['logs', 'dep-7', '--json', '-p', 'demo', '-s', 'web']);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'log', message: 'hello from dep-7' });
  });
});

describe('variables', () => {
  it('set rejects a malformed pair with one line and exit 1, sending nothing', async () => {
    const name = (n: string) =>
      `Error: "${n}" is not a variable name: use letters, digits and _, not starting with a digit (like DATABASE_URL)\n`;
    for (const [bad, error] of [
      ['FOO', 'Error: Expected KEY=VALUE, got "FOO"\n'],
      ['1X=2', name('1X')],
      ['=v', name('')],
      ['A-B=1', name('A-B')],
    ]) {
      const r = await berth(['variables', 'set', 'OK=1', bad, '-p', 'demo', '-s', 'web']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(error);
    }
    expect(api.requests).toHaveLength(0);
  });

  it('set, delete and list in every format', async () => {
    const set = await berth([
      'vars',
      'set',
      'A=1',
      'B=x=y',
      'EMPTY=',
      '--skip-deploys',
      '-p',
      'demo',
      '-s',
      'web',
    ]);
    expect(set.code).toBe(0);
    expect(JSON.parse(api.requests.at(-1)?.body.toString() ?? '{}')).toEqual({
      set: { A: '1', B: 'x=y', EMPTY: '' },
      skipDeploys: true,
    });
    expect(set.stdout).toContain('A, B, EMPTY');
    expect(set.stdout).toContain('dep-vars');

    const del = await berth(['variable', 'unset', 'EMPTY', '-p', 'demo', '-s', 'web']);
    expect(del.code).toBe(0);
    expect(JSON.parse(api.requests.at(-1)?.body.toString() ?? '{}')).toEqual({
      delete: ['EMPTY'],
      skipDeploys: false,
    });

    const kv = await berth(['variables', '--kv', '-p', 'demo', '-s', 'web']);
    expect(kv.stdout).toBe('A=1\nB=x=y\n');
    const json = await berth(['variables', '--json', '-p', 'demo', '-s', 'web']);
    expect(JSON.parse(json.stdout)).toEqual({ A: '1', B: 'x=y' });
    const table = await berth(['variables', '-p', 'demo', '-s', 'web']);
    expect(table.stdout).toMatch(/A\s+1/);
  });
});

describe('run', () => {
  it('runs the command with the variables in its environment and keeps its exit code', async () => {
    api.variables = { GREETING: 'hello there', CODE: '7' };
    const script =
      'console.log(process.env.GREETING + "|" + process.argv[1]); process.exit(Number(process.env.CODE))';
    const r = await berth([
      'run',
      '-p',
      'demo',
      '-s',
      'web',
      '--',
      process.execPath,
      '-e',
      script,
      '--',
      '-x',
    ]);
    expect(r.stdout).toBe('hello there|-x\n');
    expect(r.code).toBe(7);

    const ok = await berth(['local', '-p', 'demo', '-s', 'web', process.execPath, '-e', 'process.exit(0)']);
    expect(ok.code).toBe(0);
  });

  it('says when the command does not exist', async () => {
    const r = await berth(['run', '-p', 'demo', '-s', 'web', '--', 'definitely-not-a-command-xyz']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: Command not found: definitely-not-a-command-xyz\n');
  });
});

describe('sealed, stdin and shared variables', () => {
  const svc = ['-p', 'demo', '-s', 'web'];
  const SERVICE_VARS = '/v1/projects/demo/environments/production/services/web/variables';
  const SHARED_VARS = '/v1/projects/demo/environments/production/variables';

  it('--sealed sends sealed: true; the table shows <sealed> while --json and --kv leave it out', async () => {
    api.variables = { PLAIN: 'p' };
    const set = await berth(['variables', 'set', 'API_KEY=s3cret', '--sealed', ...svc]);
    expect(set.code).toBe(0);
    expect(bodyOf(api.find('PATCH', /\/variables$/))).toEqual({
      set: { API_KEY: 's3cret' },
      skipDeploys: false,
      sealed: true,
    });
    expect(set.stdout).toBe(
      'Set API_KEY (sealed)\nRedeploying with the new variables: deployment dep-vars\n',
    );
    expect(set.stdout).not.toContain('s3cret');

    const table = await berth(['variables', ...svc]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/API_KEY\s+<sealed>\n/);
    expect(table.stdout).toMatch(/PLAIN\s+p\n/);
    expect(api.requests.at(-1)?.query.get('detail')).toBe('1');

    const json = await berth(['variables', '--json', ...svc]);
    expect(JSON.parse(json.stdout)).toEqual({ PLAIN: 'p' });
    expect(api.requests.at(-1)?.query.has('detail')).toBe(false);
    const kv = await berth(['variables', '--kv', ...svc]);
    expect(kv.stdout).toBe('PLAIN=p\n');
    expect(api.requests.at(-1)?.query.has('detail')).toBe(false);
  });

  it('--stdin reads one value from standard input, dropping one trailing newline', async () => {
    const r = await berth(['variables', 'set', 'PEM', '--stdin', '--skip-deploys', ...svc], {
      input: 'line one\nline two\n\n',
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const patch = api.find('PATCH', /\/variables$/);
    expect(patch?.path).toBe(SERVICE_VARS);
    expect(bodyOf(patch)).toEqual({ set: { PEM: 'line one\nline two\n' }, skipDeploys: true });
    expect(r.stdout).toBe('Set PEM\nRedeploying with the new variables: deployment dep-vars\n');

    const sealed = await berth(['variables', 'set', 'TOKEN', '--stdin', '--sealed', ...svc], {
      input: 'abc\r\n',
    });
    expect(sealed.code).toBe(0);
    expect(bodyOf(api.requests.at(-1))).toEqual({ set: { TOKEN: 'abc' }, skipDeploys: false, sealed: true });
  });

  it('--stdin takes exactly one bare KEY', async () => {
    const two = await berth(['variables', 'set', 'A', 'B', '--stdin', ...svc], { input: 'x' });
    expect(two.code).toBe(1);
    expect(two.stderr).toBe('Error: --stdin reads the value of exactly one variable; pass a single KEY\n');
    const pair = await berth(['variables', 'set', 'A=1', '--stdin', ...svc], { input: 'x' });
    expect(pair.code).toBe(1);
    expect(pair.stderr).toBe(
      'Error: With --stdin pass a bare KEY (its value is read from standard input), got "A=1"\n',
    );
    const badName = await berth(['variables', 'set', '1X', '--stdin', ...svc], { input: 'x' });
    expect(badName.code).toBe(1);
    expect(badName.stderr).toBe(
      'Error: "1X" is not a variable name: use letters, digits and _, not starting with a digit (like DATABASE_URL)\n',
    );
    expect(api.requests).toHaveLength(0);
  });

  it('--shared lists, sets and deletes the environment’s shared variables without needing a service', async () => {
    const set = await berth(['variables', 'set', 'DB_HOST=db', 'REGION=eu', '--shared', '-p', 'demo']);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    const patch = api.find('PATCH', /\/variables$/);
    expect(patch?.path).toBe(SHARED_VARS);
    expect(bodyOf(patch)).toEqual({ set: { DB_HOST: 'db', REGION: 'eu' }, skipDeploys: false });
    expect(set.stdout).toBe(
      'Set DB_HOST, REGION (shared variables of production)\n' +
        'Redeploying 2 services with the new variables: dep-s1, dep-s2\n',
    );

    const sealed = await berth(['variables', 'set', 'PASSWORD=pw', '--shared', '--sealed', '-p', 'demo']);
    expect(sealed.code).toBe(0);
    expect(bodyOf(api.requests.at(-1))).toEqual({
      set: { PASSWORD: 'pw' },
      skipDeploys: false,
      sealed: true,
    });

    const table = await berth(['variables', '--shared', '-p', 'demo', '-e', 'production']);
    expect(table.code).toBe(0);
    expect(api.requests.at(-1)?.path).toBe(SHARED_VARS);
    expect(api.requests.at(-1)?.query.get('detail')).toBe('1');
    expect(table.stdout).toMatch(/DB_HOST\s+db\nPASSWORD\s+<sealed>\nREGION\s+eu\n$/);

    const kv = await berth(['variables', '--shared', '--kv', '-p', 'demo']);
    expect(kv.stdout).toBe('DB_HOST=db\nREGION=eu\n');
    expect(api.requests.at(-1)?.query.has('detail')).toBe(false);

    const del = await berth(['variables', 'delete', 'REGION', '--shared', '--skip-deploys', '-p', 'demo']);
    expect(del.code).toBe(0);
    expect(api.requests.at(-1)?.path).toBe(SHARED_VARS);
    expect(bodyOf(api.requests.at(-1))).toEqual({ delete: ['REGION'], skipDeploys: true });
    expect(del.stdout).toBe('Deleted REGION (shared variables of production)\n');
  });

  it('import sets every variable of a .env file in one PATCH', async () => {
    const dir = newDir('import-app');
    writeFiles(dir, {
      '.env': [
        '# database',
        'export DATABASE_URL=postgres://u:p@db/app  # primary',
        '',
        "GREETING='hello # world'",
        'MULTI="a\\nb \\"q\\""',
        'EMPTY=',
        '',
      ].join('\n'),
    });
    const r = await berth(['variables', 'import', '.env', '--skip-deploys', ...svc], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const patches = api.requests.filter((q) => q.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0].path).toBe(SERVICE_VARS);
    expect(bodyOf(patches[0])).toEqual({
      set: {
        DATABASE_URL: 'postgres://u:p@db/app',
        GREETING: 'hello # world',
        MULTI: 'a\nb "q"',
        EMPTY: '',
      },
      skipDeploys: true,
    });
    expect(r.stdout).toBe(
      'Imported 4 variables from .env: DATABASE_URL, GREETING, MULTI, EMPTY\n' +
        'Redeploying with the new variables: deployment dep-vars\n',
    );

    const shared = await berth(['variables', 'import', '.env', '--shared', '--sealed', '-p', 'demo'], {
      cwd: dir,
    });
    expect(shared.code).toBe(0);
    expect(api.requests.at(-1)?.path).toBe(SHARED_VARS);
    expect(bodyOf(api.requests.at(-1))).toMatchObject({ sealed: true, skipDeploys: false });
  });

  it('import names the file and line of a bad line, and a missing file, sending nothing', async () => {
    const dir = newDir('import-bad');
    writeFiles(dir, { 'prod.env': 'A=1\n# ok\nthis is not valid\n' });
    const bad = await berth(['variables', 'import', 'prod.env', ...svc], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('Error: prod.env:3: expected KEY=VALUE\n');
    const missing = await berth(['variables', 'import', 'nope.env', ...svc], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error: nope.env does not exist\n');
    expect(api.requests).toHaveLength(0);
  });
});

describe('environment', () => {
  it('new creates an environment, optionally duplicating another, and prints the deployments', async () => {
    api.projects.set('demo', new Set(['web']));
    const plain = await berth(['environment', 'new', 'staging', '-p', 'demo']);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    const post = api.find('POST', /\/environments$/);
    expect(post?.path).toBe('/v1/projects/demo/environments');
    expect(bodyOf(post)).toEqual({ name: 'staging' });
    expect(plain.stdout).toBe('Created environment staging in project demo\n');

    const dup = await berth(['env', 'new', 'qa', '--duplicate', 'production', '-p', 'demo']);
    expect(dup.code).toBe(0);
    expect(bodyOf(api.requests.at(-1))).toEqual({ name: 'qa', duplicate: 'production' });
    expect(dup.stdout).toBe(
      'Created environment qa in project demo from production\nDeploying: dep-db, dep-web\n',
    );

    const again = await berth(['env', 'new', 'qa', '-p', 'demo']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('Error: Environment "qa" already exists.\n');
  });

  it('list --json prints the server’s array; the table marks the linked environment', async () => {
    api.environments.push({
      name: 'staging',
      kind: 'persistent',
      branch: null,
      createdAt: '2024-01-02T00:00:00Z',
    });
    const json = await berth(['environment', 'list', '--json', '-p', 'demo']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(api.environments);
    expect(api.requests.at(-1)?.path).toBe('/v1/projects/demo/environments');

    const dir = newDir('env-list');
    link(dir, { project: 'demo', environment: 'staging', service: 'web' });
    // -p before the subcommand works too.
    const table = await berth(['env', '-p', 'demo', 'ls'], { cwd: dir });
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+KIND\s+BRANCH\s+CREATED$/);
    expect(lines[1]).toMatch(/^production\s+persistent\s+-\s+\d+d ago$/);
    expect(lines[2]).toMatch(/^staging \(linked\)\s+persistent/);
  });

  it('`environment NAME` switches the directory’s link after checking the environment exists', async () => {
    api.projects.set('demo', new Set(['web']));
    api.environments.push({
      name: 'staging',
      kind: 'persistent',
      branch: null,
      createdAt: '2024-01-02T00:00:00Z',
    });
    const dir = newDir('env-switch');
    const sub = path.join(dir, 'src');
    fs.mkdirSync(sub);
    link(dir, { project: 'demo', environment: 'production', service: 'web' });

    const missing = await berth(['environment', 'nope'], { cwd: sub });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'Error: Environment "nope" does not exist in project "demo"; create it with `berth environment new nope`\n',
    );
    expect(readConfig().links[dir].environment).toBe('production');

    const r = await berth(['environment', 'staging'], { cwd: sub });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readConfig().links[dir]).toEqual({ project: 'demo', environment: 'staging', service: 'web' });
    expect(r.stdout).toContain('staging');

    // The link now points later commands at the new environment.
    await berth(['variables', '--json'], { cwd: sub });
    expect(api.requests.at(-1)?.path).toBe('/v1/projects/demo/environments/staging/services/web/variables');

    // An unlinked directory gets a new link with -p.
    const other = newDir('env-unlinked');
    const fresh = await berth(['env', 'staging', '-p', 'demo'], { cwd: other });
    expect(fresh.code).toBe(0);
    expect(readConfig().links[other]).toEqual({ project: 'demo', environment: 'staging' });

    const none = await berth(['environment'], { cwd: sub });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^Error: Pass the environment to switch to, .*\n$/);
  });
});

describe('shell', () => {
  it('runs $SHELL with the non-sealed variables and keeps its exit code', async () => {
    api.variables = { GREETING: 'hello there' };
    api.serviceVars.sealed = { SECRET: 'hidden' };
    const script = path.join(tmp.dir, 'fake-shell.sh');
    fs.writeFileSync(
      script,
      '#!/bin/sh\n' +
        'echo "GREETING=$GREETING"\n' +
        '[ -n "$SECRET" ] && echo "SECRET=$SECRET" || echo SECRET=unset\n' +
        'echo "IN_BERTH_SHELL=$IN_BERTH_SHELL"\n' +
        'echo "IN_RAILWAY_SHELL=$IN_RAILWAY_SHELL"\n' +
        'echo "ARGS=$#"\n' +
        'exit 3\n',
      { mode: 0o755 },
    );
    const r = await berth(['shell', '-p', 'demo', '-s', 'web'], { env: { SHELL: script } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe(
      'GREETING=hello there\nSECRET=unset\nIN_BERTH_SHELL=true\nIN_RAILWAY_SHELL=true\nARGS=0\n',
    );
    expect(api.requests.at(-1)?.path).toBe(
      '/v1/projects/demo/environments/production/services/web/variables/resolved',
    );
  });

  it('run injects what the server resolves for it, which leaves sealed variables out', async () => {
    api.variables = { A: '1' };
    api.serviceVars.sealed = { SECRET: 'hidden' };
    const r = await berth([
      'run',
      '-p',
      'demo',
      '-s',
      'web',
      '--',
      process.execPath,
      '-e',
      'console.log(process.env.A + "|" + (process.env.SECRET ?? "unset"))',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('1|unset\n');
    expect(api.requests.at(-1)?.path).toBe(
      '/v1/projects/demo/environments/production/services/web/variables/resolved',
    );
  });
});

describe('master-key rotate', () => {
  it('prints the old and new key ids, the count and where the old key is kept', async () => {
    const r = await berth(['master-key', 'rotate'], { env: { BERTH_DATA_DIR: path.join(home, 'data') } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(api.find('POST', /^\/v1\/admin\/rotate-master-key$/)).toBeDefined();
    expect(r.stdout).toBe(
      'Rotated the master key: k1a2b3 → k9f8e7 (12 values re-encrypted); ' +
        'the old key is kept as ~/data/master.key.previous until you delete it.\n',
    );
  });

  it('prints the server’s refusal as one line', async () => {
    api.rotateRefusal = 'The master key comes from BERTH_MASTER_KEY; rotate it there and restart the server.';
    const r = await berth(['master-key', 'rotate']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error: ${api.rotateRefusal}\n`);
  });
});
