/**
 * A tenant plants links where the daemon used to copy the server's .npmrc and pip.conf for its builds (its own
 * cache directory, `<sandbox root>/cache/npmrc` and `pip.conf`), pointing at host files. The daemon, as root,
 * wrote through them and chmod-ed the target 0644: any file on the host clobbered and made readable. The copies
 * now go next to the app in the deployment's daemon-owned directory, bound read-only into the build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildContext } from '../../src/build/exec.js';
import { writeHostFile } from '../../src/build/host-files.js';
import { BerthHarness } from '../helpers/berth.js';
import { makeTmpDir } from '../helpers/tmp.js';

describe.skipIf(process.getuid?.() !== 0)(
  'links planted where the server copies its npm and pip settings',
  () => {
    const berth = new BerthHarness();
    let home: string;
    let victims: { npmrc: string; pip: string };

    beforeAll(async () => {
      home = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'berth-clobber-home-'));
      fs.writeFileSync(path.join(home, '.npmrc'), 'maxsockets=7\n', { mode: 0o600 });
      fs.mkdirSync(path.join(home, '.config', 'pip'), { recursive: true });
      fs.writeFileSync(path.join(home, '.config', 'pip', 'pip.conf'), '[global]\ntimeout = 61\n');
      victims = { npmrc: path.join(home, 'victim-npm'), pip: path.join(home, 'victim-pip') };
      for (const v of Object.values(victims)) fs.writeFileSync(v, 'host secret\n', { mode: 0o600 });
      berth.daemonEnv = {
        HOME: home,
        npm_config_userconfig: '',
        NPM_CONFIG_USERCONFIG: '',
        PIP_CONFIG_FILE: '',
        XDG_CONFIG_HOME: '',
      };
      await berth.start();
    });
    afterAll(async () => {
      await berth.stop();
      fs.rmSync(home, { recursive: true, force: true });
    });

    const intact = (file: string) => {
      expect(fs.readFileSync(file, 'utf8')).toBe('host secret\n');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    };

    it('the next build neither writes through them nor changes their targets, and still gets the settings', async () => {
      // The tenant's build: links where the copies used to be, and an attempt on where they are now.
      const plant = berth.app('node-deps', 'plant');
      fs.writeFileSync(
        path.join(plant, 'railway.toml'),
        `[build]\nbuildCommand = "ln -sf ${victims.npmrc} $HOME/../cache/npmrc && ln -sf ${victims.pip} $HOME/../cache/pip.conf && ls -l $HOME/../cache && (ln -sf ${victims.npmrc} \\"$npm_config_userconfig\\" || echo cannot touch the settings copy)"\n`,
      );
      const first = await berth.cli(['up', plant, '-p', 'clobber', '-s', 'web']);
      expect(first.code, first.stdout + first.stderr).toBe(0);
      const firstLog = (await berth.cli(['logs', '--build', '-p', 'clobber', '-s', 'web', '-n', '300']))
        .stdout;
      expect(firstLog).toContain('cannot touch the settings copy');
      intact(victims.npmrc);

      // A Python build of the same service (same user) gets the server's pip.conf, copied next to its app.
      const python = await berth.cli(['up', berth.app('python-stdlib', 'py'), '-p', 'clobber', '-s', 'web']);
      expect(python.code, python.stdout + python.stderr).toBe(0);
      intact(victims.pip);
      const artifacts = path.join(berth.dataDir, 'artifacts');
      const copies = fs
        .readdirSync(artifacts)
        .map((d) => path.join(artifacts, d, 'pip.conf'))
        .filter((f) => fs.existsSync(f));
      expect(copies.map((f) => fs.readFileSync(f, 'utf8'))).toEqual(['[global]\ntimeout = 61\n']);

      // The next build of the same service (same user) still gets the server's npm settings.
      const node = berth.app('node-deps', 'again');
      fs.writeFileSync(
        path.join(node, 'railway.toml'),
        '[build]\nbuildCommand = "echo maxsockets=$(npm config get maxsockets)"\n',
      );
      const second = await berth.cli(['up', node, '-p', 'clobber', '-s', 'web']);
      expect(second.code, second.stdout + second.stderr).toBe(0);
      const log = (await berth.cli(['logs', '--build', '-p', 'clobber', '-s', 'web', '-n', '300'])).stdout;
      expect(log).toContain('maxsockets=7');
      intact(victims.npmrc);
    });
  },
);

describe('a link in the place of a settings copy (pip.conf, npmrc, .yarnrc.yml)', () => {
  const tmp = makeTmpDir('berth-hostfile-');
  afterAll(() => tmp.cleanup());

  it('is replaced, never written through, and the copy is bound into sandboxed commands', async () => {
    const victim = path.join(tmp.dir, 'victim');
    fs.writeFileSync(victim, 'host secret\n', { mode: 0o600 });
    const appDir = path.join(tmp.dir, 'd1', 'app');
    fs.mkdirSync(appDir, { recursive: true });
    fs.symlinkSync(victim, path.join(tmp.dir, 'd1', 'pip.conf'));
    const ctx = { appDir, hostFiles: [] as string[] } as unknown as BuildContext;
    const file = await writeHostFile(ctx, 'pip.conf', '[global]\ntimeout = 61\n');
    expect(file).toBe(path.join(tmp.dir, 'd1', 'pip.conf'));
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(file, 'utf8')).toBe('[global]\ntimeout = 61\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(victim, 'utf8')).toBe('host secret\n');
    expect(fs.statSync(victim).mode & 0o777).toBe(0o600);
    expect(ctx.hostFiles).toEqual([file]);
  });
});
