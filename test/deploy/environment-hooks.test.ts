import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../src/core/model.js';
import { DeploymentLogs } from '../../src/deploy/deployment-log.js';
import { DeployEngine } from '../../src/deploy/engine.js';
import type { EnvironmentEvent } from '../../src/deploy/environment-hooks.js';
import { DataPaths } from '../../src/deploy/paths.js';
import { EdgeProcess } from '../../src/edge/edge-client.js';
import { freePort } from '../../src/lib/net.js';
import { ProcessDriver } from '../../src/runtime/index.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { killGroup, makeTmpDir } from '../helpers/tmp.js';

/** The "on environment created / deleted" hook point, on a real store, engine and edge. */
describe('environment hooks', () => {
  const tmp = makeTmpDir('berth-hooks-');
  let store: Store;
  let engine: DeployEngine;
  let edge: EdgeProcess;
  let project: Project;
  const events: string[] = [];

  beforeAll(async () => {
    const paths = new DataPaths(path.join(tmp.dir, 'data'));
    store = openStore(paths.db, paths.root).store;
    const port = await freePort();
    edge = new EdgeProcess({ stateDir: paths.edgeState, port, host: '127.0.0.1' });
    engine = new DeployEngine({
      store,
      logs: new DeploymentLogs((id) => paths.deploymentLog(id)),
      driver: new ProcessDriver(),
      edge,
      paths,
      site: { domain: 'localhost', httpPort: port },
      logger: pino({ level: 'silent' }),
      keepDeployments: 10,
    });
    await engine.start();
    project = store.projects.create('hooked').project;
    const describe = (e: EnvironmentEvent) => `${e.environment.name}<-${e.base?.name ?? 'none'}`;
    engine.environments.addHooks({
      name: 'recorder',
      created: (e) => {
        // Runs after the rows exist, before any deployment: a database branch would be made here.
        expect(store.environments.find(project, e.environment.name)).not.toBeNull();
        events.push(`created ${describe(e)}`);
      },
      deleted: (e) => {
        expect(store.environments.find(project, e.environment.name)).toBeNull();
        events.push(`deleted ${describe(e)}`);
      },
    });
  });
  afterAll(async () => {
    engine.close();
    const pid = edge.pid();
    // Through the driver first: its supervisor would restart an edge killed behind its back.
    await edge.stop(5000);
    if (pid) killGroup(pid);
    store.close();
    tmp.cleanup();
  });

  it('tells hooks about created and deleted environments, with the environment they copied', async () => {
    const production = store.environments.get(project, 'production');
    await engine.environments.create(project, 'staging');
    const { environment } = await engine.environments.create(project, 'br-x', {
      duplicate: production,
      kind: 'preview',
      branch: 'x',
    });
    expect(environment).toMatchObject({ kind: 'preview', branch: 'x', baseEnvironmentId: production.id });
    await engine.environments.delete(project, environment);
    expect(events).toEqual(['created staging<-none', 'created br-x<-production', 'deleted br-x<-production']);
  });

  it('undoes a creation whose created hook throws, naming the hook', async () => {
    engine.environments.addHooks({
      name: 'database branch',
      created: () => {
        throw new Error('the database is read-only');
      },
    });
    await expect(engine.environments.create(project, 'doomed')).rejects.toThrow(
      'Environment "doomed" was not created because the database branch hook failed: the database is read-only.',
    );
    expect(store.environments.find(project, 'doomed')).toBeNull();
  });

  it('refuses to delete production', async () => {
    await expect(
      engine.environments.delete(project, store.environments.get(project, 'production')),
    ).rejects.toThrow(/cannot be deleted/);
  });
});
