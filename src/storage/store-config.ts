/**
 * The contract between the daemon and the object store process (src/storage): the JSON file the daemon writes
 * (atomically, mode 0600: it holds every bucket's secret key) and the argv that starts the store.
 */

/** One bucket as the store serves it. `name` is its S3 name (display name + short hash, unique on the server). */
export interface StoreBucket {
  name: string;
  /** The one key pair allowed to sign requests for this bucket (and only this bucket). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Public-read: unsigned GET/HEAD of objects allowed (never listing, never writes). */
  public: boolean;
}

export interface StoreConfig {
  /** Bumped by the daemon on every write; the store reports the one it applied at GET /_berth/status. */
  generation: number;
  /** SigV4 region the store accepts (`AWS_DEFAULT_REGION`). */
  region: string;
  /**
   * Hosts the S3 API answers on (`AWS_ENDPOINT_URL`'s host). A request for `<bucket>.<storage host>` is
   * virtual-hosted-style; any other Host is path-style (`/<bucket>/<key>`).
   */
  storageHosts: string[];
  buckets: StoreBucket[];
  /**
   * Public website hosts (a public bucket's generated URL, its custom domains) → bucket name: unsigned GET/HEAD
   * of `/<key>`, `index.html` for a path ending in `/`, no listing, no writes.
   */
  publicHosts: Record<string, string>;
  /**
   * Buckets the daemon deleted: the store removes their objects, uploads and files. A bucket merely missing from
   * `buckets` keeps its data (a half-written config must never delete anything).
   */
  deletedBuckets?: string[];
}

export interface StoreArgvOptions {
  node: string;
  /** dist/storage/main.js */
  main: string;
  /** Where the store keeps objects and its metadata; it owns the layout. */
  dataDir: string;
  host: string;
  port: number;
  configFile: string;
}

/**
 * Environment to start the store with (added to the workload's). Every PUT holds thread-pool threads in fsync
 * (file, directory, WAL) for milliseconds; with libuv's default 4 threads a few concurrent uploads stall every
 * other file operation. It must be set at exec: Node's module loader starts the pool before main.js runs.
 */
export const STORE_ENV: Readonly<Record<string, string>> = { UV_THREADPOOL_SIZE: '16' };

/** The store in the foreground. SIGHUP re-reads the config file; SIGTERM finishes in-flight requests and exits. */
export function storeArgv(o: StoreArgvOptions): string[] {
  return [
    o.node,
    o.main,
    '--data',
    o.dataDir,
    '--host',
    o.host,
    '--port',
    String(o.port),
    '--config',
    o.configFile,
  ];
}
