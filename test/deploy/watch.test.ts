import { describe, expect, it } from 'vitest';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import { normalizeRootDirectory } from '../../src/deploy/pipeline.js';
import { buildKeyOf } from '../../src/deploy/shared-builds.js';
import { watchSkipReason } from '../../src/deploy/watch.js';

describe('watchPatterns', () => {
  it('deploys when a changed file matches, gitignore-style, from the repo root', async () => {
    expect(await watchSkipReason(['/apps/api/**'], ['apps/api/src/main.ts'])).toBeNull();
    expect(await watchSkipReason(['*.md'], ['docs/deep/readme.md'])).toBeNull();
    expect(await watchSkipReason(['apps/worker/'], ['apps/worker/x.js'])).toBeNull();
  });

  it('skips, naming the patterns, when nothing matches or only negated files changed', async () => {
    expect(await watchSkipReason(['/apps/api/**'], ['apps/worker/x.js', 'README.md'])).toBe(
      'no file this push changed matches watchPatterns "/apps/api/**"',
    );
    expect(await watchSkipReason(['/apps/api/**', '!/apps/api/**/*.md'], ['apps/api/notes.md'])).toMatch(
      /^no file/,
    );
    expect(await watchSkipReason(['src/**'], [])).toBe(
      'the push changed no files, and watchPatterns "src/**" are set',
    );
  });

  it('never skips without patterns or when the changes are unknown (a new branch, a redeploy)', async () => {
    expect(await watchSkipReason([], ['anything'])).toBeNull();
    expect(await watchSkipReason(['/apps/api/**'], null)).toBeNull();
  });
});

describe('shared builds', () => {
  it('share a key for one commit, root and build settings only', () => {
    const build = defaultServiceConfig().build;
    const key = buildKeyOf('a'.repeat(40), 'apps/api', build);
    expect(buildKeyOf('a'.repeat(40), 'apps/api', { ...build, watchPatterns: ['x'] })).toBe(key);
    expect(buildKeyOf('a'.repeat(40), 'apps/web', build)).not.toBe(key);
    expect(buildKeyOf('b'.repeat(40), 'apps/api', build)).not.toBe(key);
    expect(buildKeyOf('a'.repeat(40), 'apps/api', { ...build, buildCommand: 'make' })).not.toBe(key);
  });

  it('normalise root directories', () => {
    expect(normalizeRootDirectory('/apps/api/')).toBe('apps/api');
    expect(normalizeRootDirectory('./apps//api')).toBe('apps/api');
    expect(normalizeRootDirectory('.')).toBe('');
    expect(normalizeRootDirectory(null)).toBe('');
  });
});
