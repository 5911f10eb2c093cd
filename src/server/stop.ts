/**
 * `berth server stop [--all]`: the server named by the data dir's pid file; with --all, then its edge, every
 * workload the data dir's records name (by pid and start time) and leftover build jobs. Never by process name.
 */
import fs from 'node:fs';
import { DataPaths } from '../deploy/paths.js';
import { stopEdges } from '../edge/select.js';
import { processAlive, readPidFile } from '../lib/pid-file.js';
import { waitFor } from '../lib/wait.js';
import { JobGroups } from '../runtime/job-groups.js';
import { ProcessDriver } from '../runtime/process-driver.js';
import type { Store } from '../store/store.js';
import type { StoredWorkload } from '../store/workloads.js';
import { claimDataDir, isServer } from './data-dir-lock.js';

/** How long the server gets to finish its shutdown after SIGTERM before SIGKILL. */
const SERVER_STOP_MS = 30_000;
/** SIGTERM to SIGKILL for each app process. */
const APP_GRACE_MS = 10_000;

/** Stops what runs for dataDir; returns one line per thing stopped (or one saying there was nothing). */
export async function stopServer(dataDir: string, opts: { all: boolean }): Promise<string[]> {
  const paths = new DataPaths(dataDir);
  if (!fs.existsSync(paths.root)) return [`Nothing to stop: ${paths.root} does not exist.`];
  const lines: string[] = [];
  const pid = readPidFile(paths.serverPid);
  if (pid !== null && isServer(pid)) {
    lines.push(await stopProcess(pid));
  } else {
    lines.push(`No Berth server runs with ${paths.root}.`);
  }
  if (!opts.all) {
    lines.push(
      'Apps and the edge keep running (the next `berth server` adopts them); `--all` stops them too.',
    );
    return lines;
  }
  // Held while stopping, so no server starts and adopts what is being stopped.
  const release = claimDataDir(paths);
  try {
    const edges = await stopEdges({ stateDir: paths.edgeState, port: 0, host: '127.0.0.1' });
    lines.push(edges.length ? `Stopped the ${edges.join(' and ')} edge.` : 'No edge was running.');
    if (await stopObjectStore(paths.root)) lines.push('Stopped the object store.');
    lines.push(...(await stopWorkloads(paths)));
    const jobs = new JobGroups(paths.jobs).killLeftovers();
    if (jobs > 0) lines.push(`Stopped ${jobs} build or preDeploy command(s).`);
  } finally {
    release();
  }
  return lines;
}

async function stopProcess(pid: number): Promise<string> {
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor('the server to exit', () => !processAlive(pid), {
      timeoutMs: SERVER_STOP_MS,
      intervalMs: 100,
    });
    return `Stopped the Berth server (pid ${pid}).`;
  } catch {
    process.kill(pid, 'SIGKILL');
    return `Killed the Berth server (pid ${pid}): it did not stop within ${SERVER_STOP_MS / 1000} s of SIGTERM.`;
  }
}

/**
 * Every workload the records say may run. Their rows stay as they are: the next server finds them dead and
 * starts the active deployments' replicas again by their restart policy.
 */
async function stopWorkloads(paths: DataPaths): Promise<string[]> {
  if (!fs.existsSync(paths.db)) return ['No app processes were running.'];
  const { openStore } = await import('../store/open-store.js');
  const { store } = openStore(paths.db, paths.root);
  try {
    const driver = new ProcessDriver();
    const results = await Promise.all(
      store.workloads.live().map(async (w) => {
        const handle = await driver.adopt(w.handle);
        if (!handle) return null;
        await driver.stop(handle, { graceMs: APP_GRACE_MS });
        return `${describe(store, w)} (pid ${handle.pid})`;
      }),
    );
    const stopped = results.filter((r): r is string => r !== null);
    return stopped.length
      ? [`Stopped ${stopped.length} app process${stopped.length === 1 ? '' : 'es'}: ${stopped.join(', ')}.`]
      : ['No app processes were running.'];
  } finally {
    store.close();
  }
}

/** The object store (buckets), by its handle file like the edge; in-flight requests finish first. */
async function stopObjectStore(dataDir: string): Promise<boolean> {
  const { ObjectStore } = await import('../buckets/object-store.js');
  return new ObjectStore(dataDir, () => {}).stop(APP_GRACE_MS);
}

/** "replica 0 of web (shop, production)", or the owner kind where the owner is not a deployment. */
function describe(store: Store, w: StoredWorkload): string {
  const d = store.deployments.find(w.ownerId);
  if (!d) return `${w.ownerKind} ${w.ownerId}`;
  const service = store.services.getById(d.serviceId);
  const project = store.projects.getById(service.projectId);
  const env = store.environments.getById(d.environmentId);
  const what = w.ownerKind === 'replica' ? `replica ${w.slot}` : w.ownerKind;
  return `${what} of ${service.name} (${project.name}, ${env.name})`;
}
