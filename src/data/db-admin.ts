/**
 * `berth db config set`, `berth db extensions`, `berth db public on|off`: changes to a running data service's
 * spec, each under its lock, each answered with a sentence saying what it took.
 */
import { errorMessage, UserError } from '../core/errors.js';
import { freePort } from '../lib/net.js';
import type { DataService } from '../store/data-services.js';
import type { Store } from '../store/store.js';
import type { DataServiceManager } from './data-services.js';
import {
  type AvailableExtension,
  alterSystem,
  availableExtensions,
  reloadConfig,
  removeAutoConfSetting,
  settingContext,
  showSetting,
} from './postgres/admin.js';
import { requirePostgres } from './postgres/binaries.js';
import { pgdataOf } from './postgres/cluster.js';
import { installHint, KNOWN_EXTENSIONS } from './postgres/extensions.js';
import { type ApplyAction, applyActionFor, refusedSetting } from './postgres/settings.js';
import { setRedisSetting } from './redis/admin.js';

export interface ConfigResult {
  key: string;
  value: string;
  /** live: Redis's CONFIG SET, in effect at once. */
  action: ApplyAction | 'live';
  message: string;
}

/**
 * PostgreSQL: ALTER SYSTEM SET key = value, then a reload or a restart as pg_settings' context needs. Redis:
 * CONFIG SET + CONFIG REWRITE (redis/admin.ts).
 */
export async function setConfig(
  store: Store,
  data: DataServiceManager,
  ds: DataService,
  key: string,
  value: string,
): Promise<ConfigResult> {
  if (ds.engine === 'redis') {
    const name = store.services.getById(ds.serviceId).name;
    const r = await data.exclusive(ds, () => setRedisSetting(data.connection(ds), name, key, value));
    store.dataServices.setSettings(ds.id, { ...ds.settings, [key]: r.value });
    return r;
  }
  const refused = refusedSetting(key);
  if (refused) throw new UserError(`${refused}.`);
  const pg = requirePostgres();
  const superuser = { ...data.connection(ds), database: 'postgres' };
  const name = store.services.getById(ds.serviceId).name;
  return data.exclusive(ds, async ({ restart }) => {
    const context = await settingContext(pg, superuser, key);
    if (context === null) {
      throw new UserError(
        `PostgreSQL has no setting "${key}"; \`berth connect -- -c 'SHOW ALL'\` lists them.`,
        { status: 404, code: 'not_found' },
      );
    }
    const action = applyActionFor(context);
    if (action === null) {
      throw new UserError(`${key} is fixed when the cluster is created and cannot be changed.`);
    }
    try {
      await alterSystem(pg, superuser, key, value);
    } catch (err) {
      throw new UserError(`PostgreSQL refused ${key} = ${value}: ${errorMessage(err)}`);
    }
    if (action === 'reload') {
      await reloadConfig(pg, superuser);
    } else {
      try {
        await restart();
      } catch (err) {
        // It did not start with the new value: take it out again and start as before, losing nothing.
        removeAutoConfSetting(pgdataOf(data.volumeOf(ds)), key);
        await restart();
        throw new UserError(
          `PostgreSQL did not start with ${key} = ${value} (${errorMessage(err)}); the setting was removed again and ${name} runs as before.`,
        );
      }
    }
    store.dataServices.setSettings(ds.id, { ...ds.settings, [key]: value });
    const now = await showSetting(pg, superuser, key);
    const how =
      action === 'reload'
        ? `reloaded the configuration (${key} takes effect without a restart)`
        : `restarted ${name} (${key} takes effect only at server start; fast shutdown, data kept)`;
    return { key, value: now, action, message: `Set ${key} = ${now} on ${name}: ${how}` };
  });
}

export interface ExtensionsResult {
  available: AvailableExtension[];
  missing: { name: string; package: string; hint: string }[];
}

/** What the cluster can CREATE EXTENSION (and has), and the well-known ones the host lacks, with where to get them. */
export async function listExtensions(data: DataServiceManager, ds: DataService): Promise<ExtensionsResult> {
  if (ds.engine !== 'postgres') {
    throw new UserError(
      `${ds.engine === 'redis' ? 'Redis' : ds.engine} has no extensions; \`berth db extensions\` lists PostgreSQL's.`,
    );
  }
  const pg = requirePostgres();
  const available = await availableExtensions(pg, data.connection(ds));
  const names = new Set(available.map((e) => e.name));
  const missing = KNOWN_EXTENSIONS.filter((k) => !names.has(k.name)).map((k) => ({
    name: k.name,
    package: k.package(ds.version),
    hint: installHint(k, ds.version),
  }));
  return { available, missing };
}

/** Public on: a port of its own on the server's public host, forwarded by the edge to the database. */
export async function setPublic(
  store: Store,
  data: DataServiceManager,
  ds: DataService,
  on: boolean,
): Promise<DataService> {
  await data.exclusive(ds, async () => {
    const current = store.dataServices.getById(ds.id);
    if (on && current.publicPort === null) {
      const taken = new Set(store.dataServices.publicPorts());
      let port = await freePort();
      while (taken.has(port)) port = await freePort();
      store.dataServices.setPublicPort(ds.id, port);
    } else if (!on && current.publicPort !== null) {
      store.dataServices.setPublicPort(ds.id, null);
    }
  });
  await data.endpointsChanged();
  return store.dataServices.getById(ds.id);
}
