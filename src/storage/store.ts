/**
 * The store's state: the config applied (buckets, keys, hosts), the metadata database and the object files.
 * Start-up reconciles files and metadata; applying a config creates new buckets lazily and removes deleted ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CorsRule } from './cors.js';
import { Metadata } from './metadata.js';
import { ObjectFiles } from './object-files.js';
import type { StoreBucket, StoreConfig } from './store-config.js';

export class Store {
  config: StoreConfig;
  /** access key id → its bucket. */
  keys = new Map<string, StoreBucket>();
  buckets = new Map<string, StoreBucket>();
  readonly meta: Metadata;
  readonly files: ObjectFiles;
  /** Each bucket's CORS rules as last read (null: none), for every request's headers; ops/cors.ts keeps it. */
  readonly corsRules = new Map<string, CorsRule[] | null>();

  constructor(
    readonly dataDir: string,
    config: StoreConfig,
    private readonly log: (line: string) => void,
  ) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.files = new ObjectFiles(dataDir);
    this.files.init();
    this.meta = new Metadata(path.join(dataDir, 'metadata.db'));
    this.reconcile();
    this.config = config;
    this.apply(config);
  }

  /**
   * Data is always in place before the metadata naming it commits, so after a crash only files without rows can
   * exist (an upload cut short, a replaced object not yet removed): those go. Rows without files are checked for too.
   */
  private reconcile(): void {
    const dropped = this.meta.dropRowsWithMissingFiles((rel) => fs.existsSync(this.files.abs(rel)));
    for (const d of dropped) this.log(`store: metadata without data dropped: ${d} (its file is missing)`);
    const referenced = this.meta.referencedFiles();
    let removed = 0;
    for (const rel of this.files.listAll()) {
      if (!referenced.has(rel)) {
        fs.rmSync(this.files.abs(rel), { force: true });
        removed++;
      }
    }
    if (removed) this.log(`store: removed ${removed} data files no metadata names (writes cut short)`);
  }

  /** Makes `config` the one served. Deleting data only happens for buckets the daemon named as deleted. */
  apply(config: StoreConfig): void {
    const now = Date.now();
    const keys = new Map<string, StoreBucket>();
    const buckets = new Map<string, StoreBucket>();
    for (const b of config.buckets) {
      keys.set(b.accessKeyId, b);
      buckets.set(b.name, b);
      this.meta.ensureBucket(b.name, now);
    }
    this.keys = keys;
    this.buckets = buckets;
    this.config = config;
    for (const name of config.deletedBuckets ?? []) {
      if (buckets.has(name) || this.meta.bucketCreated(name) === null) continue;
      this.dropBucket(name);
    }
  }

  private dropBucket(name: string): void {
    const uploads = this.meta.listUploads(name, '', null, null, 1_000_000);
    this.meta.dropBucket(name);
    this.corsRules.delete(name);
    this.files.removeDirSync(path.join('objects', name));
    for (const u of uploads) this.files.removeDirSync(path.join('parts', u.uploadId));
    this.log(`store: bucket ${name} deleted with its data`);
  }

  close(): void {
    this.meta.close();
  }
}
