import { describe, expect, it } from 'vitest';
import { defaultServiceConfig } from '../../src/core/config/index.js';
import { NotFoundError } from '../../src/core/errors.js';
import type { ServiceConfig } from '../../src/core/model.js';
import type { NewDeployment } from '../../src/store/deployments.js';
import { SecretBox } from '../../src/store/secret-box.js';
import type { Store } from '../../src/store/store.js';
import { rawRow, seedProject, tempStores, thrown } from '../helpers/store.js';

const openStore = tempStores();

function newDeployment(store: Store, over: Partial<NewDeployment> = {}) {
  const { service, environment, project } = seedProject(store);
  const base = {
    serviceId: service.id,
    environmentId: environment.id,
    kind: 'up' as const,
    message: null,
    sourcePath: '/src/a.tar.gz',
    sourceDeploymentId: null,
  };
  return { project, service, environment, base, d: store.deployments.create({ ...base, ...over }) };
}

describe('store.deployments', () => {
  it('creates a QUEUED deployment found by id; find is null and get a 404 sentence when missing', () => {
    const store = openStore();
    const { d, service } = newDeployment(store, { message: 'first' });
    expect(d).toMatchObject({
      serviceId: service.id,
      status: 'QUEUED',
      kind: 'up',
      message: 'first',
      reason: null,
      sourcePath: '/src/a.tar.gz',
      artifactPath: null,
      config: null,
      configOrigins: null,
      configWarnings: [],
      variables: {},
      sealedNames: [],
      source: { rootDirectory: null, configPath: null, changedFiles: null },
      buildKey: null,
    });
    expect(store.deployments.find(d.id)).toEqual(d);
    expect(store.deployments.find('nope')).toBeNull();
    const err = thrown(() => store.deployments.get('nope'));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('Deployment "nope" does not exist; list them with `berth deployments`.');
  });

  it('numbers deployments per service and environment and lists them newest first', () => {
    const store = openStore();
    const { base, d: first } = newDeployment(store);
    const second = store.deployments.create({ ...base, status: 'WAITING' });
    const third = store.deployments.create({ ...base, id: 'fixed-id', artifactPath: '/art/3' });
    expect(third.id).toBe('fixed-id');
    expect(rawRow(store, 'SELECT seq FROM deployments WHERE id = ?', third.id).seq).toBe(3);
    expect(store.deployments.list(base.serviceId, base.environmentId).map((d) => d.id)).toEqual([
      third.id,
      second.id,
      first.id,
    ]);
    expect(store.deployments.list(base.serviceId, base.environmentId, 1).map((d) => d.id)).toEqual([
      third.id,
    ]);
    expect(store.deployments.withStatus(['WAITING']).map((d) => d.id)).toEqual([second.id]);
    expect(store.deployments.withStatus(['QUEUED', 'WAITING'])).toHaveLength(3);
    expect(store.deployments.ofEnvironment(base.environmentId)).toHaveLength(3);
  });

  it('records status, config, source, build key and artifact', () => {
    const store = openStore();
    const { d } = newDeployment(store);
    store.deployments.setStatus(d.id, 'FAILED', 'build failed');
    const config = { build: {}, deploy: { numReplicas: 2 } } as unknown as ServiceConfig;
    const origins = { 'deploy.numReplicas': { source: 'file' as const, file: 'railway.toml' } };
    store.deployments.setConfig(d.id, { config, origins, warnings: ['w'] });
    store.deployments.setSource(d.id, {
      rootDirectory: 'apps/web',
      configPath: null,
      changedFiles: ['a.ts'],
    });
    store.deployments.setSourcePath(d.id, '/sources/moved.tar.gz');
    store.deployments.setBuildKey(d.id, 'key1');
    store.deployments.setArtifact(d.id, '/artifacts/x');
    expect(store.deployments.get(d.id)).toMatchObject({
      status: 'FAILED',
      reason: 'build failed',
      config,
      configOrigins: origins,
      configWarnings: ['w'],
      source: { rootDirectory: 'apps/web', configPath: null, changedFiles: ['a.ts'] },
      sourcePath: '/sources/moved.tar.gz',
      buildKey: 'key1',
      artifactPath: '/artifacts/x',
    });
    expect(store.deployments.builtWithKey('key1')).toEqual([{ id: d.id, artifactPath: '/artifacts/x' }]);
    expect(store.deployments.builtWithKey('other')).toEqual([]);
  });

  it('seals the variables snapshot to its row', () => {
    const store = openStore();
    const { d } = newDeployment(store);
    store.deployments.setVariables(d.id, { SECRET: 'hunter2' }, ['SECRET']);
    const stored = String(
      rawRow(store, 'SELECT variables_json FROM deployments WHERE id = ?', d.id).variables_json,
    );
    expect(SecretBox.isSealed(stored)).toBe(true);
    expect(stored).not.toContain('hunter2');
    expect(store.deployments.get(d.id)).toMatchObject({
      variables: { SECRET: 'hunter2' },
      sealedNames: ['SECRET'],
    });
  });

  it('finds the git commit along the source chain, null when there is none', () => {
    const store = openStore();
    const { base, d: pushed, project } = newDeployment(store);
    const meta = { sha: 'abc', branch: 'main', author: 'a', message: 'm' };
    store.deployments.setGitMeta(pushed.id, meta);
    const redeploy = store.deployments.create({ ...base, kind: 'redeploy', sourceDeploymentId: pushed.id });
    const rollback = store.deployments.create({ ...base, kind: 'rollback', sourceDeploymentId: redeploy.id });
    expect(store.deployments.findGitMeta(rollback.id)).toEqual(meta);
    const upload = store.deployments.create(base);
    expect(store.deployments.findGitMeta(upload.id)).toBeNull();
    expect(store.deployments.findGitMeta('missing')).toBeNull();
    store.deployments.setStatus(pushed.id, 'WAITING', null);
    expect(store.deployments.waitingForCommit(project.id, 'abc').map((d) => d.id)).toEqual([pushed.id]);
    expect(store.deployments.waitingForCommit(project.id, 'def')).toEqual([]);
  });

  it('keeps the active deployment of each service and environment', () => {
    const store = openStore();
    const { base, d } = newDeployment(store);
    expect(store.deployments.findActiveId(base.serviceId, base.environmentId)).toBeNull();
    store.deployments.setActive(base.serviceId, base.environmentId, d.id);
    expect(store.deployments.findActiveId(base.serviceId, base.environmentId)).toBe(d.id);
    expect(store.deployments.listActive().map((a) => a.id)).toEqual([d.id]);
    store.deployments.setActive(base.serviceId, base.environmentId, null);
    expect(store.deployments.findActiveId(base.serviceId, base.environmentId)).toBeNull();
    expect(store.deployments.listActive()).toEqual([]);
  });

  it('lists only the active deployments whose config autoscales or sleeps, as soon as they are active', () => {
    const store = openStore();
    const { base, d: plain } = newDeployment(store);
    const withDeploy = (deploy: Partial<ServiceConfig['deploy']>) => {
      const d = store.deployments.create(base);
      const config = defaultServiceConfig();
      config.deploy = { ...config.deploy, ...deploy };
      store.deployments.setConfig(d.id, { config, origins: {}, warnings: [] });
      return d;
    };
    const ids = () => ({
      autoscaled: store.deployments.listActiveAutoscaled().map((a) => a.id),
      sleepy: store.deployments.listActiveSleepy().map((a) => a.id),
    });
    const scaled = withDeploy({ maxReplicas: 3 });
    const sleepy = withDeploy({ sleepApplication: true });
    const off = withDeploy({ maxReplicas: null, sleepApplication: false });
    store.deployments.setActive(base.serviceId, base.environmentId, plain.id); // no config at all
    expect(ids()).toEqual({ autoscaled: [], sleepy: [] });
    store.deployments.setActive(base.serviceId, base.environmentId, off.id);
    expect(ids()).toEqual({ autoscaled: [], sleepy: [] });
    store.deployments.setActive(base.serviceId, base.environmentId, scaled.id);
    expect(ids()).toEqual({ autoscaled: [scaled.id], sleepy: [] });
    expect(store.deployments.listActiveAutoscaled()[0]).toEqual(store.deployments.get(scaled.id));
    store.deployments.setActive(base.serviceId, base.environmentId, sleepy.id);
    expect(ids()).toEqual({ autoscaled: [], sleepy: [sleepy.id] });
    // Only active ones: the inactive autoscaled deployment is not listed.
    store.deployments.setActive(base.serviceId, base.environmentId, null);
    expect(ids()).toEqual({ autoscaled: [], sleepy: [] });
  });

  it('tells which paths another deployment still uses', () => {
    const store = openStore();
    const { base, d } = newDeployment(store, { sourcePath: '/s/shared', artifactPath: '/a/one' });
    const other = store.deployments.create({ ...base, sourcePath: '/s/shared' });
    expect(store.deployments.pathsStillUsed(['/s/shared', '/a/one'], new Set([d.id]))).toEqual(
      new Set(['/s/shared']),
    );
    expect(store.deployments.pathsStillUsed(['/s/shared'], new Set([d.id, other.id]))).toEqual(new Set());
  });
});
