import { describe, expect, it } from 'vitest';
import { serviceConfigPatches } from '../../src/cli/commands/environment-edit.js';

describe("environment edit: Railway's dot paths to Berth's settings", () => {
  it('groups SERVICE PATH VALUE triples per service and reads each value by its kind', () => {
    const patches = serviceConfigPatches([
      'web',
      'deploy.startCommand',
      'node server.js',
      'worker',
      'deploy.numReplicas',
      '3',
      'web',
      'build.watchPatterns',
      '["src/**","package.json"]',
      'web',
      'deploy.preDeployCommand',
      'npm run migrate',
      'worker',
      'deploy.cronSchedule',
      '',
    ]);
    expect(Object.fromEntries(patches)).toEqual({
      web: {
        startCommand: 'node server.js',
        watchPatterns: ['src/**', 'package.json'],
        preDeployCommand: ['npm run migrate'],
      },
      worker: { numReplicas: 3, cronSchedule: null },
    });
  });

  it('refuses an unknown path, a bad number and an incomplete triple, each in one sentence', () => {
    expect(() => serviceConfigPatches(['web', 'deploy.region', 'x'])).toThrow(
      /^Berth does not store deploy.region; the paths it takes are build.buildCommand, /,
    );
    expect(() => serviceConfigPatches(['web', 'deploy.numReplicas', 'two'])).toThrow(
      'deploy.numReplicas takes a whole number, not "two"',
    );
    expect(() => serviceConfigPatches(['web', 'deploy.startCommand'])).toThrow(
      /^Pass --service-config as SERVICE PATH VALUE/,
    );
    expect(() => serviceConfigPatches(['web', 'build.watchPatterns', '[1]'])).toThrow(
      'build.watchPatterns takes a JSON array of strings or one string, not [1]',
    );
  });
});
