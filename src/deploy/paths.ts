import path from 'node:path';

/** Where everything lives under --data-dir; one place so nothing else joins paths by hand. */
export class DataPaths {
  constructor(readonly root: string) {}
  get db() {
    return path.join(this.root, 'state.db');
  }
  get adminToken() {
    return path.join(this.root, 'admin-token');
  }
  /** The running server's pid: one server per data dir (server/data-dir-lock.ts). */
  get serverPid() {
    return path.join(this.root, 'server.pid');
  }
  /** Process groups of running builds and preDeployCommands (runtime/job-groups.ts). */
  get jobs() {
    return path.join(this.root, 'jobs');
  }
  get cache() {
    return path.join(this.root, 'cache');
  }
  /** Berth's local certificate authority (ca.pem to trust, ca.key 0600). */
  get localCa() {
    return path.join(this.root, 'ca');
  }
  get edgeState() {
    return path.join(this.root, 'edge');
  }
  /** Uploads being received (complete ones move to sources/); emptied at every start. */
  get uploads() {
    return path.join(this.root, 'tmp', 'uploads');
  }
  /** One directory per sandbox user (home, tmp, download caches), owned by that uid. */
  get sandboxUsers() {
    return path.join(this.root, 'sandbox');
  }
  sandboxUser(uid: number) {
    return path.join(this.sandboxUsers, String(uid));
  }
  /** The passwd and group files a sandbox user sees (root-owned, outside the user's own directory). */
  sandboxAccounts(uid: number) {
    return path.join(this.sandboxUsers, 'accounts', String(uid));
  }
  /** Data services' volumes: never touched by retention or prune, removed only by an explicit delete. */
  get volumes() {
    return path.join(this.root, 'volumes');
  }
  /** The volume of a data service in one environment (its cluster, owned by the service's user). */
  volume(serviceId: string, environmentId: string) {
    return path.join(this.volumes, serviceId, environmentId);
  }
  source(deploymentId: string) {
    return path.join(this.root, 'sources', `${deploymentId}.tar.gz`);
  }
  /** One directory per kept build (see artifact()). */
  get artifacts() {
    return path.join(this.root, 'artifacts');
  }
  /** Holds app/ (the built tree) and artifact.json; immutable once the build is done. */
  artifact(deploymentId: string) {
    return path.join(this.artifacts, deploymentId);
  }
  deploymentLog(deploymentId: string) {
    return path.join(this.root, 'logs', `${deploymentId}.ndjson`);
  }
  instanceOutput(instanceId: string, stream: 'stdout' | 'stderr') {
    return path.join(this.root, 'instances', `${instanceId}.${stream === 'stdout' ? 'out' : 'err'}.log`);
  }
}
