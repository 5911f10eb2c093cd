/**
 * Buckets as services (kind `bucket`): one bucket per service and environment, its S3 name, keys and public
 * flag in the store; the object store serves them all and the edge routes the storage hosts to it. See README.md.
 */
import type { Logger } from 'pino';
import { errorMessage, UserError } from '../core/errors.js';
import type { Environment, Project, Service } from '../core/model.js';
import type { SiteOptions } from '../deploy/context.js';
import type { EnvironmentHooks } from '../deploy/environment-hooks.js';
import { publicUrl } from '../deploy/hostnames.js';
import type { StorageRoutes } from '../deploy/route-sync.js';
import type { ServiceHooks } from '../deploy/teardown.js';
import type { Route } from '../edge/routing-table.js';
import type { Bucket } from '../store/buckets.js';
import type { Store } from '../store/store.js';
import { storageLayout } from './layout.js';
import {
  BUCKET_REGION,
  bucketHash,
  newAccessKeyId,
  newSecretAccessKey,
  publicHostOf,
  s3NameOf,
} from './names.js';
import { ObjectStore } from './object-store.js';
import {
  type CorsRule,
  clearCors,
  type LifecycleRule,
  readCors,
  readLifecycle,
  setCors,
  setExpiration,
} from './s3-ops.js';
import { endpointOf } from './variables.js';

export interface BucketDeps {
  store: Store;
  site: SiteOptions;
  dataDir: string;
  logger: Logger;
  /** Recomputes the edge's table (which settles the store's config first). */
  syncRoutes(): Promise<void>;
}

export class BucketManager implements StorageRoutes {
  readonly objectStore: ObjectStore;
  /** SigV4 region of every bucket (AWS_DEFAULT_REGION). */
  readonly region = BUCKET_REGION;
  /** S3 names of deleted buckets whose data the store has not been told to remove yet. */
  private readonly doomed = new Set<string>();

  constructor(private readonly deps: BucketDeps) {
    this.objectStore = new ObjectStore(deps.dataDir, (level, message) => deps.logger[level](message));
    for (const name of this.objectStore.pendingDeletions) this.doomed.add(name);
  }

  /** The server's base domain and edge ports: where buckets are reached. */
  get site(): SiteOptions {
    return this.deps.site;
  }

  routes(): Route[] {
    return storageLayout(this.deps.store, this.deps.site.domain, this.objectStore.address).routes;
  }

  async settle(): Promise<void> {
    try {
      await this.apply();
    } catch (err) {
      this.deps.logger.warn(`the object store did not take its configuration: ${errorMessage(err)}`);
    }
  }

  /** At daemon start: the store a previous daemon left running is adopted; with buckets, one is running after. */
  async start(): Promise<void> {
    const adopted = await this.objectStore.adopt();
    if (adopted || this.deps.store.buckets.count() > 0) await this.settle();
  }

  /** The config the rows say, served by the store (started when a bucket exists and it does not run). */
  private async apply(): Promise<void> {
    const { store, site } = this.deps;
    if (store.buckets.count() === 0 && this.doomed.size === 0 && this.objectStore.pid() === null) return;
    const { config } = storageLayout(store, site.domain, this.objectStore.address, this.doomed);
    await this.objectStore.apply(config);
    for (const name of config.deletedBuckets ?? []) this.doomed.delete(name);
  }

  /** apply() for a user's request: one sentence when the store cannot serve. */
  private async applyOrExplain(): Promise<void> {
    try {
      await this.apply();
    } catch (err) {
      throw new UserError(
        `The object store could not apply the change: ${errorMessage(err)}; see ${this.objectStore.logFile} and run the command again.`,
        { status: 503, code: 'store_unavailable' },
      );
    }
    await this.deps.syncRoutes();
  }

  /** `berth bucket create NAME`: a new bucket service (or this service's bucket in a new environment). */
  async create(project: Project, environment: Environment, name: string, isPublic: boolean): Promise<Bucket> {
    const { store } = this.deps;
    const existing = store.services.find(project, name);
    if (existing && (existing.kind !== 'bucket' || store.buckets.find(existing.id, environment.id))) {
      throw new UserError(
        `Service "${name}" already exists in project "${project.name}"; pick another name for the bucket.`,
        { status: 409, code: 'conflict' },
      );
    }
    const service = existing ?? store.services.create(project, name, 'bucket');
    const bucket = this.insert(service, environment, isPublic);
    try {
      await this.applyOrExplain();
    } catch (err) {
      if (existing) store.buckets.delete(bucket.id);
      else store.services.delete(service.id);
      await this.settle();
      throw err;
    }
    this.deps.logger.info({ bucket: bucket.s3Name, environment: environment.name }, 'bucket created');
    return store.buckets.getById(bucket.id);
  }

  private insert(service: Service, environment: Environment, isPublic: boolean): Bucket {
    const { store } = this.deps;
    let s3Name = s3NameOf(service.name, bucketHash());
    while (store.buckets.s3NameTaken(s3Name)) s3Name = s3NameOf(service.name, bucketHash());
    return store.buckets.create({
      serviceId: service.id,
      environmentId: environment.id,
      s3Name,
      accessKeyId: newAccessKeyId(),
      secretAccessKey: newSecretAccessKey(),
      public: isPublic,
    });
  }

  /** The bucket of a service in an environment, or one sentence saying why there is none. */
  get(service: Service, environment: Environment): Bucket {
    const b = this.deps.store.buckets.find(service.id, environment.id);
    if (b) return b;
    if (service.kind !== 'bucket') {
      throw new UserError(
        `Service "${service.name}" is ${service.kind === 'app' ? 'an app' : `a ${service.kind} database`}, not a bucket.`,
        {
          status: 400,
          code: 'not_a_bucket',
        },
      );
    }
    throw new UserError(
      `Bucket ${service.name} does not exist in environment ${environment.name}; create it there with \`berth bucket create ${service.name} -e ${environment.name}\`.`,
      { status: 404, code: 'not_found' },
    );
  }

  /** Where a public bucket's objects are served unsigned; null while it is private. */
  publicUrlOf(b: Bucket): string | null {
    const { site } = this.deps;
    return b.public ? publicUrl(publicHostOf(b.s3Name, site.domain), site.httpPort) : null;
  }

  /** For `berth status`: a public bucket's URL, else its S3 endpoint; null where it has no bucket. */
  urlOf(service: Service, environment: Environment): string | null {
    const b = this.deps.store.buckets.find(service.id, environment.id);
    return b ? (this.publicUrlOf(b) ?? endpointOf(this.deps.site)) : null;
  }

  /** The environment's buckets, oldest first. */
  list(project: Project, environment: Environment): { service: Service; bucket: Bucket }[] {
    const { store } = this.deps;
    return store.services
      .list(project.id)
      .filter((s) => s.kind === 'bucket')
      .flatMap((service) => {
        const bucket = store.buckets.find(service.id, environment.id);
        return bucket ? [{ service, bucket }] : [];
      });
  }

  async setPublic(b: Bucket, on: boolean): Promise<Bucket> {
    this.deps.store.buckets.setPublic(b.id, on);
    await this.applyOrExplain();
    return this.deps.store.buckets.getById(b.id);
  }

  /** New keys; once this answers the store refuses the old ones. Deployments get them at their next deploy. */
  async resetCredentials(b: Bucket): Promise<Bucket> {
    this.deps.store.buckets.setKeys(b.id, newAccessKeyId(), newSecretAccessKey());
    await this.applyOrExplain();
    return this.deps.store.buckets.getById(b.id);
  }

  /** A new display name; the S3 name (what clients use) stays. */
  async rename(project: Project, service: Service, name: string): Promise<Service> {
    if (service.kind !== 'bucket') {
      throw new UserError(
        `Service "${service.name}" is not a bucket; \`berth bucket rename\` renames buckets only.`,
        {
          status: 400,
          code: 'not_a_bucket',
        },
      );
    }
    const renamed = this.deps.store.services.rename(project, service.id, name);
    await this.deps.syncRoutes();
    return renamed;
  }

  /**
   * Removes the bucket from this environment; the store deletes its objects, uploads and files once it applied
   * the config that lists it as deleted (before this answers).
   */
  async delete(b: Bucket): Promise<void> {
    this.doomed.add(b.s3Name);
    this.deps.store.buckets.delete(b.id);
    await this.applyOrExplain();
  }

  async lifecycle(b: Bucket): Promise<LifecycleRule[]> {
    return this.s3(b, 'lifecycle read', () => readLifecycle(this.requireRunning(), b));
  }

  async setLifecycle(b: Bucket, prefix: string, days: number): Promise<LifecycleRule[]> {
    return this.s3(b, 'lifecycle change', () => setExpiration(this.requireRunning(), b, prefix, days));
  }

  async cors(b: Bucket): Promise<CorsRule[]> {
    return this.s3(b, 'CORS read', () => readCors(this.requireRunning(), b));
  }

  async setCors(
    b: Bucket,
    rule: { origins: string[]; methods: string[]; maxAgeSeconds: number | null },
  ): Promise<CorsRule[]> {
    return this.s3(b, 'CORS change', () => setCors(this.requireRunning(), b, rule));
  }

  async clearCors(b: Bucket): Promise<void> {
    await this.s3(b, 'CORS change', () => clearCors(this.requireRunning(), b));
  }

  private async s3<T>(b: Bucket, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`The object store refused the ${what} of ${b.s3Name}: ${errorMessage(err)}.`, {
        status: 502,
        code: 'store_refused',
      });
    }
  }

  private requireRunning(): { host: string; port: number } {
    const address = this.objectStore.address;
    if (address === null || this.objectStore.pid() === null) {
      throw new UserError('The object store is not running; restart the Berth server to start it again.', {
        status: 503,
        code: 'store_unavailable',
      });
    }
    return address;
  }

  /** A preview gets its own empty bucket for each of its base's; an environment's buckets are emptied when it goes. */
  environmentHooks(): EnvironmentHooks {
    const { store, logger } = this.deps;
    return {
      name: 'buckets',
      created: async ({ environment, base }) => {
        // Empty, so even a fork's preview (which copies nothing of its base) gets them.
        const baseId = base?.id ?? environment.baseEnvironmentId;
        if (!baseId) return;
        const made = store.buckets
          .ofEnvironment(baseId)
          .map((source) => this.insert(store.services.getById(source.serviceId), environment, source.public));
        if (made.length > 0) await this.applyOrExplain();
      },
      deleting: ({ environment, notes }) => {
        for (const b of store.buckets.ofEnvironment(environment.id)) {
          this.doomed.add(b.s3Name);
          notes?.push(`Bucket ${b.s3Name} (${environment.name}) is deleted with its objects.`);
        }
      },
      deleted: async () => {
        await this.deps
          .syncRoutes()
          .catch((err) => logger.warn({ err }, 'route sync after environment deletion'));
      },
    };
  }

  /** `berth service delete` of a bucket service (and project deletion): every environment's bucket goes. */
  serviceHooks(): ServiceHooks {
    const { store } = this.deps;
    return {
      name: 'buckets',
      deleting: ({ service, notes }) => {
        for (const b of store.buckets.ofService(service.id)) {
          this.doomed.add(b.s3Name);
          notes.push(`Bucket ${b.s3Name} is deleted with its objects.`);
        }
      },
    };
  }
}
