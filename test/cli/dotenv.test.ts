import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../../src/cli/dotenv.js';
import { CliError } from '../../src/cli/errors.js';

describe('parseDotenv', () => {
  it('reads KEY=VALUE lines, skipping blank lines and comments', () => {
    expect(parseDotenv('# a comment\n\nA=1\n  # indented comment\nB=two words\n')).toEqual({
      A: '1',
      B: 'two words',
    });
  });

  it('allows `export`, spaces around the key and `=`, CRLF line ends and a BOM', () => {
    expect(parseDotenv('\uFEFFexport A=1\r\n  B = 2 \r\nexport\tC=3\r\n')).toEqual({
      A: '1',
      B: '2',
      C: '3',
    });
  });

  it('trims unquoted values and starts a comment only at ` #`', () => {
    expect(parseDotenv('A=  padded  \nB=x # note\nC=a#b\nD=\nE= # only a comment\nF=x=y')).toEqual({
      A: 'padded',
      B: 'x',
      C: 'a#b',
      D: '',
      E: '',
      F: 'x=y',
    });
  });

  it('keeps single-quoted values literal', () => {
    expect(parseDotenv(`A='  $HOME \\n # not a comment '\nB='' # empty`)).toEqual({
      A: '  $HOME \\n # not a comment ',
      B: '',
    });
  });

  it('unescapes \\n, \\" and \\\\ in double-quoted values and keeps other backslashes', () => {
    expect(parseDotenv('A="line1\\nline2"\nB="say \\"hi\\" # inside"  # outside\nC="C:\\\\dir\\t"')).toEqual({
      A: 'line1\nline2',
      B: 'say "hi" # inside',
      C: 'C:\\dir\\t',
    });
  });

  it('lets quoted values span lines', () => {
    expect(parseDotenv('KEY="-----BEGIN-----\nabc\n-----END-----"\nNEXT=1')).toEqual({
      KEY: '-----BEGIN-----\nabc\n-----END-----',
      NEXT: '1',
    });
  });

  it('a later assignment wins', () => {
    expect(parseDotenv('A=1\nA=2')).toEqual({ A: '2' });
  });

  it('names the file and line of a bad line', () => {
    const cases: [string, number][] = [
      ['A=1\nnot an assignment\n', 2],
      ['A=1\n\n1X=2', 3],
      ['A=1\nB-C=2', 2],
      ['export A', 1],
      ['=1', 1],
      ['A="closed"trailing', 1],
      ["A='x' y", 1],
      ['A=1\nB="never closed\nC=3\n', 2],
    ];
    for (const [text, line] of cases) {
      let error: unknown;
      try {
        parseDotenv(text, 'prod.env');
      } catch (err) {
        error = err;
      }
      expect(error, text).toBeInstanceOf(CliError);
      expect((error as Error).message, text).toBe(`prod.env:${line}: expected KEY=VALUE`);
    }
  });
});
