import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthHarness } from '../helpers/berth.js';

/**
 * Attack: a tenant poisons the shared dependency cache. Its install runs its own code (a root postinstall
 * script here; NODE_OPTIONS or a registry among its variables would do too), which rewrites a dependency;
 * another tenant with the same lockfile would then run that code. Or its build rewrites a cached file in
 * place through the hardlink in its node_modules. Sandboxed installs are cached per service user and sealed
 * (root-owned, read-only) before the artifact links to them.
 */
describe('attack: a build poisons the dependency cache another service installs from', () => {
  const berth = new BerthHarness();
  const msFile = (deploymentId: string) =>
    path.join(berth.dataDir, 'artifacts', deploymentId, 'app', 'node_modules', 'ms', 'index.js');
  let attackerLog: string;
  let attackerId: string;
  let victimId: string;
  let victimLog: string;

  beforeAll(async () => {
    await berth.start();
    const attacker = berth.app('node-deps', 'attacker');
    const pkg = JSON.parse(fs.readFileSync(path.join(attacker, 'package.json'), 'utf8'));
    pkg.scripts.postinstall = `node -e "require('fs').appendFileSync('node_modules/ms/index.js', '\\nglobal.POISONED = 1;\\n')"`;
    fs.writeFileSync(path.join(attacker, 'package.json'), JSON.stringify(pkg, null, 2));
    const write = `try { require('fs').appendFileSync('node_modules/ms/index.js', 'x'); console.log('PROBE cached-file WROTE') } catch (e) { console.log('PROBE cached-file DENIED ' + e.code) }`;
    fs.writeFileSync(
      path.join(attacker, 'railway.toml'),
      `[build]\nbuildCommand = ${JSON.stringify(`node -e "${write}"`)}\n`,
    );
    const up = await berth.cli(['up', attacker, '-p', 'evil', '-s', 'web']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    [{ id: attackerId }] = await berth.settledDeployments(['-p', 'evil', '-s', 'web']);
    attackerLog = (await berth.cli(['logs', attackerId, '--build', '-p', 'evil', '-s', 'web'])).stdout;

    const up2 = await berth.cli(['up', berth.app('node-deps', 'victim'), '-p', 'shop', '-s', 'web']);
    expect(up2.code, up2.stdout + up2.stderr).toBe(0);
    [{ id: victimId }] = await berth.settledDeployments(['-p', 'shop', '-s', 'web']);
    victimLog = (await berth.cli(['logs', victimId, '--build', '-p', 'shop', '-s', 'web'])).stdout;
  });

  afterAll(async () => {
    await berth.stop();
  });

  it('a node_modules swapped for a symlink does not make the daemon chmod what it points at', async () => {
    // A host directory the build cannot see, with a file others may write (as /tmp or a shared dir would).
    const target = path.join(berth.dir, 'elsewhere');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'shared.txt'), 'x');
    fs.chmodSync(path.join(target, 'shared.txt'), 0o666);
    const app = berth.app('node-deps', 'linker');
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
    pkg.scripts.postinstall = `node -e "const fs = require('fs'); fs.renameSync('node_modules', 'nm'); fs.symlinkSync('${target}', 'node_modules')"`;
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    await berth.cli(['up', app, '-p', 'evil', '-s', 'linker']);
    const [d] = await berth.settledDeployments(['-p', 'evil', '-s', 'linker']);
    const log = (await berth.cli(['logs', d.id, '--build', '-p', 'evil', '-s', 'linker'])).stdout;
    expect(log).toContain('could not save node_modules to the cache: node_modules is not a directory');
    expect(fs.statSync(path.join(target, 'shared.txt')).mode & 0o777).toBe(0o666);
    expect(fs.statSync(path.join(target, 'shared.txt')).uid).toBe(0);
  });

  it("the attacker's install stays its own: the same lockfile elsewhere installs afresh", () => {
    expect(fs.readFileSync(msFile(attackerId), 'utf8')).toContain('POISONED');
    expect(victimLog).toContain('dependency cache miss');
    expect(fs.readFileSync(msFile(victimId), 'utf8')).not.toContain('POISONED');
  });

  it('a build cannot rewrite the cached files it links to', () => {
    expect(attackerLog).toContain('PROBE cached-file DENIED EACCES');
    expect(fs.readFileSync(msFile(attackerId), 'utf8')).not.toMatch(/x$/);
  });

  it('cache entries are root-owned and writable by nobody else', () => {
    const root = path.join(berth.dataDir, 'cache', 'node_modules');
    const entries = fs.readdirSync(root);
    expect(entries.length).toBe(2);
    for (const entry of entries) {
      for (const rel of fs.readdirSync(path.join(root, entry), { recursive: true }) as string[]) {
        const st = fs.lstatSync(path.join(root, entry, rel));
        expect({
          rel,
          uid: st.uid,
          groupOrOtherWrite: (st.mode & 0o022) !== 0 && !st.isSymbolicLink(),
        }).toEqual({
          rel,
          uid: 0,
          groupOrOtherWrite: false,
        });
      }
    }
  });
});
