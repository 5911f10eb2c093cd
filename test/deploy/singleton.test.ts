import { describe, expect, it } from 'vitest';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import type { ServiceConfig } from '../../src/core/model.js';
import { singletonReason } from '../../src/deploy/singleton.js';

function config(deploy: Partial<ServiceConfig['deploy']>): ServiceConfig {
  const c = defaultServiceConfig();
  return { ...c, deploy: { ...c.deploy, ...deploy } };
}

describe('singletonReason', () => {
  it('is a singleton when the config says so, whatever runs now', () => {
    expect(singletonReason(config({ singleton: true }), false)).toBe('deploy.singleton is true');
  });

  it('is implied for one replica without overlap or healthcheckPath whose serving instance is a worker', () => {
    expect(singletonReason(config({}), true)).toMatch(/serves no HTTP/);
  });

  it('is not implied for a web app (it listened), more replicas, an overlap or a health check', () => {
    expect(singletonReason(config({}), false)).toBeNull();
    expect(singletonReason(config({ numReplicas: 2 }), true)).toBeNull();
    expect(singletonReason(config({ overlapSeconds: 5 }), true)).toBeNull();
    expect(singletonReason(config({ healthcheckPath: '/health' }), true)).toBeNull();
  });

  it('reads deployments recorded before the field existed as not singleton', () => {
    const c = config({});
    const old = { ...c, deploy: { ...c.deploy, singleton: undefined as unknown as boolean } };
    expect(singletonReason(old, false)).toBeNull();
  });
});
