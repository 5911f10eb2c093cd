import { Backups } from './backups.js';
import { Buckets } from './buckets.js';
import { Certificates } from './certificates.js';
import type { StoreContext } from './context.js';
import { CronRuns } from './cron-runs.js';
import { DataServices } from './data-services.js';
import type { Db } from './db.js';
import { Deployments } from './deployments.js';
import { Domains } from './domains.js';
import { EdgePolicies } from './edge-policies.js';
import { Environments } from './environments.js';
import { GeneratedNames } from './generated-names.js';
import { Meta } from './meta.js';
import { PrivateEndpoints } from './private-endpoints.js';
import { Projects } from './projects.js';
import { SandboxUsers } from './sandbox-users.js';
import { sealPlaintext } from './sealed-columns.js';
import type { SecretBox } from './secret-box.js';
import { ServiceSettingsStore } from './service-settings.js';
import { Services } from './services.js';
import { SleepStates } from './sleep-states.js';
import { ProjectTokens } from './tokens.js';
import { Variables } from './variables.js';
import { WalArchive } from './wal-archive.js';
import { WebhookSettings } from './webhook-settings.js';
import { Workloads } from './workloads.js';

/**
 * All reads and writes of Berth's state, one module per entity over one database handle. Every
 * transition is written here before the deploy engine acts on it, so a restarted daemon can tell
 * what was in flight. Lookup names follow src/store/README.md (`get…` throws, `find…` is null).
 */
export class Store {
  private readonly ctx: StoreContext;
  readonly projects: Projects;
  readonly environments: Environments;
  readonly services: Services;
  readonly generatedNames: GeneratedNames;
  readonly deployments: Deployments;
  readonly dataServices: DataServices;
  readonly workloads: Workloads;
  readonly variables: Variables;
  readonly domains: Domains;
  readonly certificates: Certificates;
  readonly edgePolicies: EdgePolicies;
  readonly serviceSettings: ServiceSettingsStore;
  readonly privateEndpoints: PrivateEndpoints;
  readonly sandboxUsers: SandboxUsers;
  readonly tokens: ProjectTokens;
  readonly webhookSettings: WebhookSettings;
  readonly meta: Meta;
  readonly backups: Backups;
  readonly cronRuns: CronRuns;
  readonly sleepStates: SleepStates;
  readonly walArchive: WalArchive;
  readonly buckets: Buckets;

  constructor(db: Db, box: SecretBox) {
    const ctx: StoreContext = { db, box };
    this.ctx = ctx;
    this.generatedNames = new GeneratedNames(ctx);
    this.projects = new Projects(ctx);
    this.environments = new Environments(ctx, this.generatedNames);
    this.services = new Services(ctx, this.generatedNames);
    this.deployments = new Deployments(ctx);
    this.dataServices = new DataServices(ctx);
    this.workloads = new Workloads(ctx);
    this.variables = new Variables(ctx);
    this.domains = new Domains(ctx);
    this.certificates = new Certificates(ctx);
    this.edgePolicies = new EdgePolicies(ctx);
    this.serviceSettings = new ServiceSettingsStore(ctx);
    this.privateEndpoints = new PrivateEndpoints(ctx);
    this.sandboxUsers = new SandboxUsers(ctx);
    this.tokens = new ProjectTokens(ctx);
    this.webhookSettings = new WebhookSettings(ctx);
    this.meta = new Meta(ctx);
    this.backups = new Backups(ctx);
    this.cronRuns = new CronRuns(ctx);
    this.sleepStates = new SleepStates(ctx);
    this.walArchive = new WalArchive(ctx);
    this.buckets = new Buckets(ctx);
  }

  /** The database handle, for the store's own modules (key rotation) and tests that set up rows. */
  get db(): Db {
    return this.ctx.db;
  }

  get secretBox(): SecretBox {
    return this.ctx.box;
  }

  /** After a key rotation re-encrypted every value, later reads and writes use the new key. */
  replaceSecretBox(box: SecretBox): void {
    this.ctx.box = box;
  }

  /** Seals any value still stored in plain text (databases from before encryption at rest). */
  sealPlaintext(): number {
    return sealPlaintext(this.ctx);
  }

  /** Runs `fn` in one SQLite transaction (nested calls become savepoints); a throw rolls all of it back. */
  transaction<T>(fn: () => T): T {
    return this.ctx.db.transaction(fn)();
  }

  /**
   * Removes an environment's rows: its replicas and cron runs (workloads), deployments, service state, variables and the
   * environment itself. Files are the caller's to free.
   */
  deleteEnvironmentRows(environmentId: string): void {
    this.transaction(() => {
      this.workloads.deleteOfEnvironmentDeployments(environmentId);
      this.deployments.deleteOfEnvironment(environmentId);
      this.variables.deleteOfEnvironment(environmentId);
      this.environments.delete(environmentId);
    });
  }

  /** Removes a service's rows: its replicas and cron runs (workloads), deployments, and the service (variables and settings cascade). */
  deleteServiceRows(serviceId: string): void {
    this.transaction(() => {
      this.workloads.deleteOfServiceDeployments(serviceId);
      this.deployments.deleteOfService(serviceId);
      this.services.delete(serviceId);
    });
  }

  close(): void {
    this.ctx.db.close();
  }
}
