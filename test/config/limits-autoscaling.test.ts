import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoadConfigOptions, loadServiceConfig } from '../../src/core/config/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { makeTmpDir } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function load(name: string, text: string, opts: Partial<LoadConfigOptions> = {}) {
  const { dir, cleanup } = makeTmpDir('berth-config-');
  cleanups.push(cleanup);
  fs.writeFileSync(path.join(dir, name), text);
  return loadServiceConfig(dir, { environment: 'production', ...opts });
}
const toml = (text: string, opts: Partial<LoadConfigOptions> = {}) => load('railway.toml', text, opts);

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('resource limits', () => {
  it("reads Railway's limitOverride.containers (JSON, as Railway's CLI writes it)", () => {
    const loaded = load(
      'railway.json',
      JSON.stringify({
        deploy: { limitOverride: { containers: { cpu: 2, memoryBytes: 536870912, diskBytes: 1e9 } } },
      }),
    );
    expect(loaded.config.deploy).toMatchObject({ cpuLimit: 2, memoryLimit: 536870912, pidsLimit: null });
    expect(loaded.origins['deploy.memoryLimit']).toEqual({ source: 'file', file: 'railway.json' });
    expect(loaded.warnings).toEqual([
      'railway.json: deploy.limitOverride.containers.diskBytes is a Railway setting Berth does not use; it is ignored',
    ]);
  });

  it("takes Berth's own keys with units, which win over limitOverride in the same block", () => {
    const loaded = toml(`[deploy]
memoryLimit = "256Mi"
cpuLimit = 0.5
pidsLimit = 200
limitOverride = { containers = { cpu = 4, memoryBytes = 1073741824 } }

[environments.staging.deploy]
memoryLimit = "1.5GB"
`);
    expect(loaded.config.deploy).toMatchObject({
      memoryLimit: 256 * 1024 ** 2,
      cpuLimit: 0.5,
      pidsLimit: 200,
    });
    expect(
      toml('[environments.staging.deploy]\nmemoryLimit = "1.5GB"\n', { environment: 'staging' }).config.deploy
        .memoryLimit,
    ).toBe(1.5 * 1024 ** 3);
  });

  it('bad limits fail with the key and what is expected', () => {
    expect(errorOf(() => toml('[deploy]\nmemoryLimit = "lots"\n'))).toBe(
      'railway.toml: deploy.memoryLimit must be a memory size in bytes or with a unit, like 536870912 or "512Mi" (Ki, Mi, Gi), 4Mi or more (got "lots")',
    );
    expect(errorOf(() => toml('[deploy]\nlimitOverride = { containers = { cpu = 0 } }\n'))).toBe(
      'railway.toml: deploy.limitOverride.containers.cpu must be a number of CPUs from 0.01 to 1024, like 0.5 or 2 (got 0)',
    );
    expect(errorOf(() => toml('[deploy]\nmemoryLimit = 1024\n'))).toMatch(
      /deploy\.memoryLimit .*4Mi or more \(got 1024\)/,
    );
  });
});

describe('autoscaling', () => {
  it('is on with maxReplicas: minReplicas defaults to 1, the target to 70 %, numReplicas is kept in range', () => {
    const d = toml('[deploy]\nmaxReplicas = 4\nnumReplicas = 9\n').config.deploy;
    expect(d).toMatchObject({ minReplicas: 1, maxReplicas: 4, targetCPUPercent: 70, numReplicas: 4 });
    expect(d.scaleUpWindowSeconds).toBe(60);
    expect(d.scaleDownWindowSeconds).toBe(300);
    const e = toml(
      '[deploy]\nminReplicas = 2\nmaxReplicas = 3\ntargetCPUPercent = 50\nscaleUpWindowSeconds = 5\nscaleDownWindowSeconds = 8\n',
    ).config.deploy;
    expect(e).toMatchObject({ minReplicas: 2, maxReplicas: 3, targetCPUPercent: 50, numReplicas: 2 });
    expect(e).toMatchObject({ scaleUpWindowSeconds: 5, scaleDownWindowSeconds: 8 });
  });

  it('refuses inconsistent settings in one sentence naming the key', () => {
    expect(errorOf(() => toml('[deploy]\ntargetCPUPercent = 70\n'))).toBe(
      'railway.toml: deploy.targetCPUPercent needs deploy.maxReplicas too: autoscaling is on when maxReplicas is set',
    );
    expect(errorOf(() => toml('[deploy]\nminReplicas = 5\nmaxReplicas = 2\n'))).toBe(
      'railway.toml: deploy.minReplicas is 5, more than deploy.maxReplicas (2); make it 2 or less',
    );
    expect(errorOf(() => toml('[deploy]\nmaxReplicas = 100\n', { maxReplicas: 64 }))).toBe(
      'railway.toml: deploy.maxReplicas asks for up to 100 replicas, more than this server runs for one deployment (64); lower it, or start the server with --max-replicas 100',
    );
    expect(errorOf(() => toml('[deploy]\nmaxReplicas = 2\nsingleton = true\n'))).toBe(
      'railway.toml: deploy.maxReplicas cannot autoscale a singleton (deploy.singleton); remove maxReplicas',
    );
  });
});
