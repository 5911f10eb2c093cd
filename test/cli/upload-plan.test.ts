import { describe, expect, it } from 'vitest';
import { uploadRoot } from '../../src/cli/commands/up.js';

describe('uploadRoot: what `berth up` uploads (Railway: the linked project directory)', () => {
  it('is the linked directory from any subdirectory when no PATH is given', () => {
    expect(uploadRoot('/r/web', undefined, '/r', false)).toBe('/r');
    expect(uploadRoot('/r', undefined, '/r', false)).toBe('/r');
  });
  it('is PATH itself when given, or the current directory with --path-as-root or without a link', () => {
    expect(uploadRoot('/r', 'apps/web', '/r', false)).toBe('/r/apps/web');
    expect(uploadRoot('/r/web', undefined, '/r', true)).toBe('/r/web');
    expect(uploadRoot('/x', undefined, undefined, false)).toBe('/x');
  });
});
