/** Where the object store keeps its files in the data dir (the daemon's; `berth server stop --all` reads them too). */
import path from 'node:path';

export function storageFiles(dataDir: string) {
  const dir = path.join(dataDir, 'storage');
  return {
    /** 0700, owned by the daemon's user: no sandboxed app can read a key or an object. */
    dir,
    /** The store's own layout (objects, metadata); it owns it. */
    data: path.join(dir, 'data'),
    /** Every bucket's keys: 0600. */
    config: path.join(dir, 'config.json'),
    handle: path.join(dir, 'store.handle.json'),
    /** The port chosen at the first start, kept so the edge's routes stay valid across restarts. */
    port: path.join(dir, 'port'),
    log: path.join(dir, 'store.log'),
  };
}
