import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandPaths, EXAMPLES, RAILWAY_ONLY } from '../../src/cli/help.js';
import { buildProgram } from '../../src/cli/program.js';

const CLI = path.resolve('dist/cli/main.js');

function berth(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('help that teaches', () => {
  it('every command has an example', () => {
    const missing = commandPaths(buildProgram())
      .map((c) => c.path)
      .filter((p) => !EXAMPLES[p]);
    expect(missing).toEqual([]);
  });

  it('--help ends with the example', async () => {
    const r = await berth(['service', 'delete', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().endsWith('Example:\n  berth service delete -s worker -y')).toBe(true);
  });

  it('a Railway verb Berth lacks says so in one sentence', async () => {
    const r = await berth(['deploy', '-t', 'postgres']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe(
      'Error: `railway deploy` has no Berth equivalent yet; it deploys Railway templates; deploy your own code with `berth up`\n',
    );
    const bare = await berth(['starship']);
    expect(bare.stderr).toBe('Error: `railway starship` has no Berth equivalent yet\n');
  });

  it('no Railway-only verb shadows a Berth command', () => {
    const names = buildProgram().commands.flatMap((c) => [c.name(), ...c.aliases()]);
    expect(Object.keys(RAILWAY_ONLY).filter((v) => names.includes(v))).toEqual([]);
  });

  it('an unknown command gets the nearest one suggested', async () => {
    const r = await berth(['dwon']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: unknown command 'dwon'");
    expect(r.stderr).toContain('(Did you mean down?)');
  });
});
