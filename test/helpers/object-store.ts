/**
 * Starts the real object store process (dist/storage/main.js) on a free port in a temp dir, with a config of
 * buckets and keys the test chooses; stops it by pid. Also builds SDK clients pointed at it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { freePort } from '../../src/lib/net.js';
import type { StoreBucket, StoreConfig } from '../../src/storage/store-config.js';
import { STORE_ENV, storeArgv } from '../../src/storage/store-config.js';
import { AWS_CLI } from './optional-tools.js';
import { makeTmpDir } from './tmp.js';

const run = promisify(execFile);

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const STORE_MAIN = path.join(ROOT, 'dist', 'storage', 'main.js');

export function makeBucket(name: string, isPublic = false): StoreBucket {
  return {
    name,
    accessKeyId: `BK${crypto.randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: crypto.randomBytes(30).toString('base64url'),
    public: isPublic,
  };
}

export class StoreHarness {
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
  port = 0;
  proc: ChildProcess | null = null;
  output = '';
  config: StoreConfig;
  private readonly cleanupDir: () => void;

  constructor(buckets: StoreBucket[], extra: Partial<StoreConfig> = {}) {
    const { dir, cleanup } = makeTmpDir('berth-store-');
    this.dir = dir;
    this.cleanupDir = cleanup;
    this.dataDir = path.join(dir, 'data');
    this.configFile = path.join(dir, 'store.json');
    this.config = {
      generation: 1,
      region: 'us-east-1',
      storageHosts: ['s3.localhost'],
      buckets,
      publicHosts: {},
      ...extra,
    };
    this.writeConfig();
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  writeConfig(): void {
    const tmp = `${this.configFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.config), { mode: 0o600 });
    fs.renameSync(tmp, this.configFile);
  }

  /**
   * Starts the store. A port picked here can be taken by another test's process before the store binds it
   * (freePort closes its probe first): then another is picked, up to three times. A restart keeps its port.
   */
  async start(extraArgs: string[] = []): Promise<void> {
    const picked = !this.port;
    for (let attempt = 1; ; attempt++) {
      if (picked && (!this.port || attempt > 1)) this.port = await freePort();
      try {
        await this.spawnStore(extraArgs);
        return;
      } catch (err) {
        if (!picked || attempt >= 3 || !this.output.includes('EADDRINUSE')) throw err;
      }
    }
  }

  private async spawnStore(extraArgs: string[]): Promise<void> {
    const [node, ...args] = storeArgv({
      node: process.execPath,
      main: STORE_MAIN,
      dataDir: this.dataDir,
      host: '127.0.0.1',
      port: this.port,
      configFile: this.configFile,
    });
    this.output = '';
    const proc = spawn(node, [...args, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...STORE_ENV },
    });
    this.proc = proc;
    proc.stdout?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    await this.waitFor(async () => (await this.status()) !== null, 'the store to answer /_berth/status');
  }

  /** The config generation the store reports, or null when it does not answer. */
  async status(): Promise<number | null> {
    try {
      const r = await fetch(`${this.endpoint}/_berth/status`);
      return ((await r.json()) as { generation: number }).generation;
    } catch {
      return null;
    }
  }

  /** Writes the config with the next generation, sends SIGHUP and waits until the store applied it. */
  async reload(change: (c: StoreConfig) => void): Promise<void> {
    change(this.config);
    this.config.generation++;
    this.writeConfig();
    this.proc?.kill('SIGHUP');
    const want = this.config.generation;
    await this.waitFor(async () => (await this.status()) === want, `config generation ${want}`);
  }

  async waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc && this.proc.exitCode !== null) {
        throw new Error(
          `the store exited (${this.proc.exitCode}) while waiting for ${what}:\n${this.output}`,
        );
      }
      if (await cond()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}:\n${this.output}`);
  }

  /** Stops the process (SIGTERM, or SIGKILL to simulate a crash) and waits for its exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill(signal);
    return exited;
  }

  private readonly clients: S3Client[] = [];

  /** An SDK client signing with a key pair (a bucket's, or a forged one); `opts` override the defaults. */
  client(keys: Pick<StoreBucket, 'accessKeyId' | 'secretAccessKey'>, opts: S3ClientConfig = {}): S3Client {
    const c = new S3Client({
      endpoint: this.endpoint,
      region: this.config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
      ...opts,
    });
    this.clients.push(c);
    return c;
  }

  /** Debian's awscli signing as `bucket`'s key pair, with config files of its own in the store's temp dir. */
  awsCli(bucket: StoreBucket): (...args: string[]) => Promise<{ stdout: string; stderr: string }> {
    const home = path.join(this.dir, `aws-${bucket.name}`);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      AWS_CONFIG_FILE: path.join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
      AWS_PAGER: '',
    };
    return async (...args) => {
      fs.mkdirSync(home, { recursive: true });
      fs.writeFileSync(env.AWS_CONFIG_FILE, '[default]\nregion = us-east-1\n');
      fs.writeFileSync(
        env.AWS_SHARED_CREDENTIALS_FILE,
        `[default]\naws_access_key_id = ${bucket.accessKeyId}\naws_secret_access_key = ${bucket.secretAccessKey}\n`,
      );
      return run(AWS_CLI, ['--endpoint-url', this.endpoint, ...args], { env, timeout: 60_000 });
    };
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients.splice(0)) c.destroy();
    await this.stop('SIGKILL');
    this.cleanupDir();
  }
}
