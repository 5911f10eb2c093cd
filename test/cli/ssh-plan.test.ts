import { describe, expect, it } from 'vitest';
import { parseExecQuery } from '../../src/api/exec.js';
import { execProgram } from '../../src/deploy/exec.js';

describe('berth ssh: what runs for a request (pure)', () => {
  const found = { shell: '/bin/bash', script: '/usr/bin/script' };

  it('a command runs as its own argv, never through a shell', () => {
    expect(execProgram({ argv: ['printenv', 'A B'], tty: true }, found)).toEqual({
      program: ['printenv', 'A B'],
      env: {},
    });
  });

  it('a shell with a terminal runs under script, its size in COLUMNS and LINES; without one, sh -i', () => {
    expect(execProgram({ argv: null, tty: true, size: { cols: 120, rows: 40 } }, found)).toEqual({
      program: ['/usr/bin/script', '-q', '-e', '/dev/null'],
      env: { SHELL: '/bin/bash', COLUMNS: '120', LINES: '40' },
    });
    expect(execProgram({ argv: null, tty: false }, found)).toEqual({ program: ['/bin/bash', '-i'], env: {} });
    expect(execProgram({ argv: null, tty: true }, { ...found, script: null })).toEqual({
      program: ['/bin/bash', '-i'],
      env: {},
    });
  });

  it('reads the query and refuses a bad one in one sentence', () => {
    const q = new URLSearchParams({ argv: '["ls","-la"]', replica: '1', tty: '1', cols: '80', rows: '24' });
    expect(parseExecQuery(q)).toEqual({
      replica: 1,
      argv: ['ls', '-la'],
      tty: true,
      size: { cols: 80, rows: 24 },
    });
    expect(parseExecQuery(new URLSearchParams({ cols: '0', rows: '99999' }))).toEqual({
      replica: null,
      argv: null,
      tty: false,
      size: null,
    });
    expect(() => parseExecQuery(new URLSearchParams({ argv: 'ls -la' }))).toThrow(
      'argv must be a JSON array of strings with the program first.',
    );
    expect(() => parseExecQuery(new URLSearchParams({ argv: '[]' }))).toThrow(/^argv must be/);
    expect(() => parseExecQuery(new URLSearchParams({ replica: 'first' }))).toThrow(
      'replica must be a replica number, not "first".',
    );
  });
});
