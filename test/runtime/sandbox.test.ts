import { describe, expect, it } from 'vitest';
import { chownDirsArgv, chownTreeArgv, stripWriteArgv } from '../../src/build/cache.js';
import {
  accountFiles,
  type Sandbox,
  sandboxArgv,
  sandboxDecision,
  sandboxEnv,
  TMP_TMPFS_BYTES,
  visiblePath,
} from '../../src/runtime/sandbox.js';
import { hiddenDirs } from '../../src/server/start-checks.js';

const host = { bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv', hidden: ['/root', '/srv/berth'] };
const user = { uid: 2000003, gid: 2000003, root: '/srv/berth/sandbox/2000003' };
const app = '/srv/berth/artifacts/d1/app';
const dropPrivileges = [
  '--',
  '/usr/bin/setpriv',
  '--reuid',
  '2000003',
  '--regid',
  '2000003',
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
  '--no-new-privs',
  '--',
];

describe('sandboxArgv', () => {
  it('runs a replica: hidden data dir and HOME, its app and user dirs bound back, no dying with the daemon', () => {
    const sb: Sandbox = {
      host,
      job: { user, writable: [app], readOnly: ['/srv/berth/cache/venv/abc-1234'], dieWithParent: false },
    };
    expect(sandboxArgv(sb, app, ['/bin/sh', '-c', 'node web.js'])).toEqual([
      '/usr/bin/bwrap',
      '--unshare-pid',
      '--unshare-ipc',
      '--ro-bind',
      '/',
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--tmpfs',
      '/root',
      '--perms',
      '1777',
      '--size',
      String(TMP_TMPFS_BYTES),
      '--tmpfs',
      '/tmp',
      '--tmpfs',
      '/srv/berth',
      '--dir',
      '/srv/berth/sandbox',
      '--bind',
      '/srv/berth/sandbox/2000003',
      '/srv/berth/sandbox/2000003',
      '--dir',
      '/srv/berth/artifacts',
      '--dir',
      '/srv/berth/artifacts/d1',
      '--bind',
      app,
      app,
      '--dir',
      '/srv/berth/cache',
      '--dir',
      '/srv/berth/cache/venv',
      '--ro-bind',
      '/srv/berth/cache/venv/abc-1234',
      '/srv/berth/cache/venv/abc-1234',
      '--chdir',
      app,
      ...dropPrivileges,
      '/bin/sh',
      '-c',
      'node web.js',
    ]);
  });

  it('runs a build that dies with the daemon; a data dir under /tmp and HOME is nested in their emptied parents', () => {
    const nested = { ...host, hidden: ['/root/.berth', '/root', '/tmp'] };
    const u = { ...user, root: '/root/.berth/sandbox/2000003' };
    const a = '/root/.berth/artifacts/d2/app';
    const argv = sandboxArgv(
      { host: nested, job: { user: u, writable: [a, a], readOnly: [], dieWithParent: true } },
      a,
      ['npm', 'ci'],
    );
    expect(argv).toEqual([
      '/usr/bin/bwrap',
      '--unshare-pid',
      '--unshare-ipc',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--tmpfs',
      '/root',
      '--perms',
      '1777',
      '--size',
      String(TMP_TMPFS_BYTES),
      '--tmpfs',
      '/tmp',
      '--tmpfs',
      '/root/.berth',
      '--dir',
      '/root/.berth/sandbox',
      '--bind',
      u.root,
      u.root,
      '--dir',
      '/root/.berth/artifacts',
      '--dir',
      '/root/.berth/artifacts/d2',
      '--bind',
      a,
      a,
      '--chdir',
      a,
      ...dropPrivileges,
      'npm',
      'ci',
    ]);
  });

  it('shows every job the downloaded tools read-only, and keeps their bin dirs on PATH', () => {
    const tools = { ...host, shared: ['/srv/berth/cache/package-managers', '/srv/berth/cache/runtimes'] };
    const sb: Sandbox = { host: tools, job: { user, writable: [app], readOnly: [], dieWithParent: false } };
    const argv = sandboxArgv(sb, app, ['node', 'web.js']);
    const cache = argv.indexOf('/srv/berth/cache') - 1;
    expect(argv.slice(cache, cache + 8)).toEqual([
      '--dir',
      '/srv/berth/cache',
      '--ro-bind',
      '/srv/berth/cache/package-managers',
      '/srv/berth/cache/package-managers',
      '--ro-bind',
      '/srv/berth/cache/runtimes',
      '/srv/berth/cache/runtimes',
    ]);
    const node = '/srv/berth/cache/runtimes/node-22.1.0/bin';
    expect(sandboxEnv({ PATH: `${node}:/srv/berth/cache/npm/bin:/usr/bin` }, sb).PATH).toBe(
      `${node}:/usr/bin`,
    );
  });

  it('creates the parents of a data dir that lives below /tmp inside the private /tmp', () => {
    const argv = sandboxArgv(
      {
        host: { ...host, hidden: ['/tmp/it-1/data'] },
        job: {
          user: { ...user, root: '/tmp/it-1/data/sandbox/2000003' },
          writable: [],
          readOnly: [],
          dieWithParent: true,
        },
      },
      '/',
      ['true'],
    );
    const mounts = argv.slice(argv.indexOf('/tmp') + 1, argv.indexOf('--chdir'));
    expect(mounts).toEqual([
      '--dir',
      '/tmp/it-1',
      '--tmpfs',
      '/tmp/it-1/data',
      '--dir',
      '/tmp/it-1/data/sandbox',
      '--bind',
      '/tmp/it-1/data/sandbox/2000003',
      '/tmp/it-1/data/sandbox/2000003',
    ]);
  });
});

describe('user accounts', () => {
  it("binds the user's passwd and group over the host's, and lists the user in them", () => {
    const u = { ...user, accounts: '/srv/berth/sandbox/accounts/2000003' };
    const argv = sandboxArgv(
      { host, job: { user: u, writable: [], readOnly: [], dieWithParent: true } },
      '/',
      ['id'],
    );
    const at = argv.indexOf('--chdir');
    expect(argv.slice(at - 6, at)).toEqual([
      '--ro-bind',
      '/srv/berth/sandbox/accounts/2000003/passwd',
      '/etc/passwd',
      '--ro-bind',
      '/srv/berth/sandbox/accounts/2000003/group',
      '/etc/group',
    ]);
    expect(accountFiles({ passwd: 'root:x:0:0:root:/root:/bin/bash', group: 'root:x:0:\n' }, u)).toEqual({
      passwd:
        'root:x:0:0:root:/root:/bin/bash\nberth-2000003:x:2000003:2000003:Berth service user:/srv/berth/sandbox/2000003/home:/usr/sbin/nologin\n',
      group: 'root:x:0:\nberth-2000003:x:2000003:\n',
    });
  });
});

describe('sandboxEnv / visiblePath', () => {
  it('gives the user its own HOME and TMPDIR and drops PATH entries the sandbox hides, except bound ones', () => {
    const sb: Sandbox = {
      host,
      job: { user, writable: [app], readOnly: ['/srv/berth/cache/venv/v1'], dieWithParent: false },
    };
    const env = sandboxEnv(
      {
        PATH: '/srv/berth/cache/venv/v1/bin:/root/.pyenv/shims:/srv/berth/artifacts/d1/app/node_modules/.bin:/usr/bin:/bin',
        HOME: '/root',
        TMPDIR: '/tmp',
        USER: 'root',
        APP: 'x',
      },
      sb,
    );
    expect(env).toEqual({
      PATH: '/srv/berth/cache/venv/v1/bin:/srv/berth/artifacts/d1/app/node_modules/.bin:/usr/bin:/bin',
      HOME: '/srv/berth/sandbox/2000003/home',
      TMPDIR: '/srv/berth/sandbox/2000003/tmp',
      USER: 'berth-2000003',
      LOGNAME: 'berth-2000003',
      APP: 'x',
    });
  });

  it('falls back to the system directories when nothing of PATH is visible', () => {
    expect(visiblePath('/root/.cargo/bin:/tmp/x', host)).toBe('/usr/local/bin:/usr/bin:/bin');
    expect(visiblePath('/usr/local/bin:/root/.pyenv/shims:/usr/bin', host)).toBe('/usr/local/bin:/usr/bin');
  });
});

describe('sandboxDecision', () => {
  const tools = { bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv' };
  it('sandboxes when root with bubblewrap and setpriv', () => {
    expect(sandboxDecision({ mode: 'auto', isRoot: true, ...tools })).toEqual({ enabled: true });
  });

  it('warns that user code shares the daemon privileges when not root, and says what to do', () => {
    const d = sandboxDecision({ mode: 'auto', isRoot: false, ...tools });
    expect(d.enabled).toBe(false);
    if (d.enabled) return;
    expect(d.warning).toMatch(/^user code shares the daemon's privileges: the server does not run as root/);
    expect(d.warning).toContain('Run `berth server` as root with bubblewrap installed');
  });

  it('warns when bubblewrap or setpriv is missing, or the sandbox is turned off', () => {
    const noBwrap = sandboxDecision({ mode: 'auto', isRoot: true, bwrap: null, setpriv: tools.setpriv });
    expect(noBwrap).toEqual({
      enabled: false,
      warning: expect.stringContaining('apt-get install bubblewrap'),
    });
    const noSetpriv = sandboxDecision({ mode: 'auto', isRoot: true, bwrap: tools.bwrap, setpriv: null });
    expect(noSetpriv).toEqual({ enabled: false, warning: expect.stringContaining('setpriv (util-linux)') });
    const off = sandboxDecision({ mode: 'off', isRoot: true, ...tools });
    expect(off).toEqual({ enabled: false, warning: expect.stringContaining('--sandbox off') });
  });
});

describe('ownership argv', () => {
  it('chowns trees without following symlinks, strips write for others, gives directories only', () => {
    expect(chownTreeArgv('/d/cache/x', 0, 0)).toEqual(['chown', '-R', '-P', '-h', '0:0', '--', '/d/cache/x']);
    expect(stripWriteArgv('/d/cache/x')).toEqual(['chmod', '-R', 'go-w,ug-s', '--', '/d/cache/x']);
    expect(chownDirsArgv('/d/app/node_modules', 7, 8)).toEqual([
      'find',
      '/d/app/node_modules',
      '-type',
      'd',
      '-exec',
      'chown',
      '-h',
      '7:8',
      '{}',
      '+',
    ]);
  });

  it('hides existing directories only, never /', () => {
    expect(hiddenDirs('/nonexistent-berth-data', '/')).toEqual([]);
    expect(hiddenDirs('/proc', '/proc')).toEqual(['/proc']);
  });
});
