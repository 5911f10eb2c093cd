/**
 * The object store process: `node dist/storage/main.js --data DIR --host H --port P --config FILE`.
 * SIGHUP re-reads the config; SIGTERM finishes in-flight requests and exits. See README.md.
 */
import { parseArgs } from 'node:util';
import { readStoreConfig } from './config-file.js';
import { sweepLifecycle } from './lifecycle.js';
import { createStoreServer } from './server.js';
import { Store } from './store.js';

/** Request lines are gathered and written together: one write per turn of the event loop, not per request. */
function createLog(): { log: (line: string) => void; flush: () => void } {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = `${pending.join('\n')}\n`;
    pending = [];
    process.stdout.write(text);
  };
  return {
    log: (line) => {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      config: { type: 'string' },
      'sweep-interval-ms': { type: 'string', default: String(60 * 60_000) },
      'day-ms': { type: 'string', default: String(24 * 3600_000) },
    },
  });
  if (!values.data || !values.port || !values.config) {
    process.stderr.write('usage: main.js --data DIR --host H --port P --config FILE\n');
    process.exit(2);
  }
  const { log, flush } = createLog();
  const configFile = values.config;
  let store: Store;
  try {
    store = new Store(values.data, readStoreConfig(configFile), log);
  } catch (err) {
    process.stderr.write(`store: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const server = createStoreServer(store, log);

  const sweepEvery = Number(values['sweep-interval-ms']);
  const dayMs = Number(values['day-ms']);
  // The sweep running, if any: SIGTERM waits for it before closing the database under it.
  let sweeping: Promise<void> | null = null;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = sweepLifecycle(store, Date.now(), dayMs)
      .then((r) => {
        if (r.objects || r.uploads)
          log(`store: lifecycle expired ${r.objects} objects, aborted ${r.uploads} uploads`);
      })
      .catch((err) => log(`store: lifecycle sweep failed: ${(err as Error).message}`))
      .finally(() => {
        sweeping = null;
      });
  }, sweepEvery);
  sweep.unref();

  process.on('SIGHUP', () => {
    try {
      store.apply(readStoreConfig(configFile));
      log(`store: config generation ${store.config.generation} applied`);
    } catch (err) {
      log(
        `store: config not applied, keeping generation ${store.config.generation}: ${(err as Error).message}`,
      );
    }
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweep);
    log('store: stopping, finishing requests in flight');
    server.close(async () => {
      await sweeping;
      store.close();
      log('store: stopped');
      flush();
      process.exit(0);
    });
    server.closeIdleConnections();
    // Keep-alive connections that go idle after their request finishes are closed as they do.
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    idle.unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  server.on('error', (err) => {
    process.stderr.write(`store: cannot listen on ${values.host}:${values.port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(Number(values.port), values.host, () => {
    log(`store: listening on ${values.host}:${values.port}, config generation ${store.config.generation}`);
  });
}

main();
