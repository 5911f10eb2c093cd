/**
 * Database branches: `berth db branch NAME` (a new service in the same environment) and the branch a preview
 * environment gets of its base environment's database (the same service, in the preview), both physical
 * copies of the running source (postgres/branch.ts) with credentials of their own. A branch `--at` a past
 * time is a point-in-time restore (data/pitr.ts).
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Environment, Project, Service } from '../core/model.js';
import type { EnvironmentHooks } from '../deploy/environment-hooks.js';
import type { DataPaths } from '../deploy/paths.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import { type DataServiceManager, generatePassword } from './data-services.js';
import { requirePostgres } from './postgres/binaries.js';
import { allowReplication, branchSeedOf, copyCluster, setPassword } from './postgres/branch.js';
import type { ClusterSeed } from './postgres/cluster.js';

/**
 * A copy of source as a data service of `name` in environment: provisioned from a physical copy of the running
 * source (which keeps serving, untouched), then given a password of its own. Its settings are the source's.
 */
export async function branchDatabase(
  store: Store,
  data: DataServiceManager,
  o: { project: Project; environment: Environment; name: string; source: DataService },
): Promise<{ service: Service; dataService: DataService; seconds: number }> {
  const pg = requirePostgres();
  const started = performance.now();
  const superuser = data.connection(o.source);
  const password = generatePassword();
  const seed: ClusterSeed = {
    ...branchSeedOf(o.source),
    initialise: async ({ volume, owner, sandbox }) => {
      await copyCluster({ pg, source: superuser, volume, owner, sandbox });
    },
    started: async (ds, c) => {
      await setPassword(pg, c, password);
      store.dataServices.setPassword(ds.id, password);
      store.dataServices.setSettings(ds.id, o.source.settings);
    },
  };
  // Under the source's lock: no restart or config change of it runs while it is copied.
  const made = await data.exclusive(o.source, async () => {
    await allowReplication(pg, data.volumeOf(o.source), superuser);
    return data.add(o.project, o.environment, o.name, 'postgres', seed);
  });
  return { ...made, seconds: (performance.now() - started) / 1000 };
}

/**
 * A preview environment gets a branch of each database of its base environment (references such as
 * `${{Postgres.DATABASE_URL}}` then resolve to its own copy); on teardown, after the engines stopped and the
 * rows went, their volumes are removed. Other environments keep their volumes (their data is the users').
 */
export function previewBranchHooks(deps: {
  store: Store;
  data: DataServiceManager;
  paths: DataPaths;
  logger: Logger;
}): EnvironmentHooks {
  const { store, data, paths, logger } = deps;
  return {
    name: 'database branches',
    async created({ project, environment, base }) {
      if (environment.kind !== 'preview' || !base) return;
      const made: DataService[] = [];
      try {
        for (const source of store.dataServices.ofEnvironment(base.id)) {
          const service = store.services.getById(source.serviceId);
          const r = await branchDatabase(store, data, { project, environment, name: service.name, source });
          made.push(r.dataService);
          logger.info(
            `preview ${environment.name} got a branch of ${service.name} (${base.name}) in ${r.seconds.toFixed(2)}s`,
          );
        }
      } catch (err) {
        // The environment is not created: what was branched for it goes too.
        await data.stopEngines(made.map((d) => ({ serviceId: d.serviceId, environmentId: d.environmentId })));
        for (const d of made) {
          store.dataServices.delete(d.id);
          fs.rmSync(paths.volume(d.serviceId, d.environmentId), { recursive: true, force: true });
        }
        throw err;
      }
    },
    deleted({ project, environment }) {
      if (environment.kind !== 'preview') return;
      for (const s of store.services.list(project.id)) {
        if (s.kind === 'app') continue;
        const volume = paths.volume(s.id, environment.id);
        if (fs.existsSync(volume)) fs.rmSync(volume, { recursive: true, force: true });
      }
    },
  };
}
