/**
 * The object store (src/storage) as a server-wide workload like the edge: started when the first bucket exists,
 * adopted from its handle file after a daemon restart, restarted on crash; its config written atomically (0600),
 * applied by SIGHUP, and waited for until its status reports the config's generation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { EdgeWorkload } from '../edge/edge-workload.js';
import { writeFileAtomic } from '../lib/atomic-write.js';
import { canConnect, freePort } from '../lib/net.js';
import { waitFor } from '../lib/wait.js';
import type { WorkloadSpec } from '../runtime/driver.js';
import type { ExitInfo } from '../runtime/types.js';
import { STORE_ENV, type StoreConfig, storeArgv } from '../storage/store-config.js';
import { storageFiles } from './files.js';

/** How long a config change may take to be applied, and the store to answer after a start. */
const APPLY_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 15_000;

/** What the daemon wants the store to serve; the generation is the ObjectStore's to count. */
export type WantedConfig = Omit<StoreConfig, 'generation'>;

function defaultEntry(): string {
  const here = fileURLToPath(new URL('../storage/main.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  // Running from src/ (vitest): the compiled entry.
  return fileURLToPath(new URL('../../dist/storage/main.js', import.meta.url));
}

/**
 * The store's environment: finding programs and the locale, and what the store asks for at exec (STORE_ENV);
 * nothing of the daemon's (master key, tokens).
 */
function storeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = { ...STORE_ENV };
  for (const k of ['PATH', 'LANG', 'LC_ALL', 'TZ']) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  out.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return out;
}

export class ObjectStore {
  private readonly files: ReturnType<typeof storageFiles>;
  private readonly workload: EdgeWorkload;
  private port: number | null = null;
  private generation = 0;
  /** The last config written (without its generation): an unchanged one is not written again. */
  private written: string | null = null;
  /** Config writes and starts one at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  /**
   * Buckets the last config written lists as deleted: a daemon that died before the store applied it must
   * list them again, or their data would stay on disk.
   */
  readonly pendingDeletions: readonly string[] = [];

  constructor(
    dataDir: string,
    private readonly log: (level: 'info' | 'warn', message: string) => void,
    private readonly entry = defaultEntry(),
  ) {
    this.files = storageFiles(dataDir);
    this.workload = new EdgeWorkload({
      id: `object store ${this.files.dir}`,
      name: 'the object store',
      handleFile: this.files.handle,
      spec: () => this.spec(),
      ready: (exited) => this.ready(exited),
      healthy: async () => {},
      log: (level, message) => this.log(level, message),
    });
    const stored = readConfig(this.files.config);
    if (stored) {
      this.pendingDeletions = stored.deletedBuckets ?? [];
      this.generation = stored.generation;
      const { generation: _g, ...rest } = stored;
      this.written = JSON.stringify(rest);
    }
    this.port = readPort(this.files.port);
  }

  /** Where the store listens (127.0.0.1), once it was ever started; the edge routes the storage hosts there. */
  get address(): { host: string; port: number } | null {
    return this.port === null ? null : { host: '127.0.0.1', port: this.port };
  }

  pid(): number | null {
    return this.workload.pid();
  }

  /** Its output (both streams): what to read when it does not start. */
  get logFile(): string {
    return this.files.log;
  }

  /** Adopts the store a previous daemon left running (its handle file names it); false when none runs. */
  async adopt(): Promise<boolean> {
    const handle = readJson(this.files.handle);
    const pid = typeof handle?.pid === 'number' ? handle.pid : null;
    if (pid === null || !(await this.workload.storedAlive())) return false;
    await this.workload.adopt(pid);
    return true;
  }

  /**
   * Writes the config when it changed and makes the store serve it: started (or adopted) when it does not run,
   * else SIGHUP; resolves once its status reports the config's generation.
   */
  apply(config: WantedConfig): Promise<void> {
    const next = this.chain.then(() => this.applyNow(config));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async applyNow(config: WantedConfig): Promise<void> {
    const text = JSON.stringify(config);
    if (text !== this.written || !fs.existsSync(this.files.config)) {
      this.generation += 1;
      writeConfig(this.files.config, { generation: this.generation, ...config });
      this.written = text;
    }
    if (this.pid() === null && !(await this.adopt())) {
      await this.start();
    } else if (((await this.appliedGeneration()) ?? -1) < this.generation) {
      const pid = this.pid();
      if (pid !== null) process.kill(pid, 'SIGHUP');
    }
    await this.waitForGeneration(this.generation, APPLY_TIMEOUT_MS);
  }

  /** Stops it for good (SIGTERM: in-flight requests finish; SIGKILL after graceMs). */
  async stop(graceMs = 10_000): Promise<boolean> {
    return this.workload.stop(graceMs, async () => null);
  }

  /** The generation the running store applied, or null when it does not answer. */
  async appliedGeneration(timeoutMs = 2000): Promise<number | null> {
    if (this.port === null) return null;
    try {
      const res = await request(`http://127.0.0.1:${this.port}/_berth/status`, {
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const body = (await res.body.json()) as { generation?: unknown };
      return res.statusCode === 200 && typeof body.generation === 'number' ? body.generation : null;
    } catch {
      return null;
    }
  }

  private async start(): Promise<void> {
    fs.mkdirSync(this.files.data, { recursive: true, mode: 0o700 });
    // The port is kept across restarts (the edge's routes name it); another program holding it since gets a new one.
    if (this.port === null || (await canConnect(this.port, '127.0.0.1', 500))) {
      this.port = await freePort();
      writePrivate(this.files.port, `${this.port}\n`);
    }
    const pid = await this.workload.start();
    this.log('info', `object store started (pid ${pid}) on 127.0.0.1:${this.port}`);
  }

  private async waitForGeneration(generation: number, timeoutMs: number): Promise<void> {
    await waitFor(
      `the object store to apply its configuration (generation ${generation})`,
      async () => ((await this.appliedGeneration(1000)) ?? -1) >= generation,
      { timeoutMs, intervalMs: 25 },
    );
  }

  private spec(): WorkloadSpec {
    const argv = storeArgv({
      node: process.execPath,
      main: this.entry,
      dataDir: this.files.data,
      host: '127.0.0.1',
      port: this.port ?? 0,
      configFile: this.files.config,
    });
    return {
      id: `object store ${this.files.dir}`,
      argv,
      cwd: this.files.dir,
      env: storeEnv(process.env),
      logs: { stdout: this.files.log, stderr: this.files.log },
      ports: { http: this.port ?? 0 },
    };
  }

  /** The gate of a start: its status answers; throws when it exits first or takes too long. */
  private async ready(exited: Promise<ExitInfo>): Promise<void> {
    let exit: ExitInfo | null = null;
    void exited.then((info) => {
      exit = info;
    });
    await waitFor(
      'the object store to answer',
      async () => {
        if (exit !== null) {
          throw new Error(
            `the object store exited (${exit.signal ?? `code ${exit.code}`}) before it served; see ${this.files.log}`,
          );
        }
        return (await this.appliedGeneration(500)) !== null;
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 25 },
    ).catch((err: Error) => {
      if (exit !== null) throw new Error(`the object store exited before it served; see ${this.files.log}`);
      throw err;
    });
  }
}

/** Written to a temporary file (0600), fsynced and renamed: the store never reads half a config. */
export function writeConfig(file: string, config: StoreConfig): void {
  writePrivate(file, `${JSON.stringify(config, null, 2)}\n`);
}

function writePrivate(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, text, { durable: true });
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function readConfig(file: string): StoreConfig | null {
  const v = readJson(file);
  return v && typeof v.generation === 'number' ? (v as unknown as StoreConfig) : null;
}

function readPort(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : null;
  } catch {
    return null;
  }
}
