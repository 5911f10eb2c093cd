import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ServiceConfig } from '../core/model.js';
import type { Store } from '../store/store.js';

/**
 * The key under which services share one build: same commit, same root directory and same build
 * settings (builder, buildCommand, dockerfilePath). Variables are not part of it, as on Railway: a
 * value inlined at build time by one service is seen by the others sharing the build.
 */
export function buildKeyOf(sha: string, rootDirectory: string, build: ServiceConfig['build']): string {
  const settings = JSON.stringify([build.builder, build.buildCommand, build.dockerfilePath]);
  const digest = createHash('sha256').update(settings).digest('hex').slice(0, 16);
  return `${sha}:${rootDirectory || '.'}:${digest}`;
}

/**
 * One build per key: a deployment whose key is being built waits for that build, then reuses its
 * artifact; a finished build is found in the store as long as its artifact is still on disk.
 */
export class SharedBuilds {
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly store: Store) {}

  /** Returns the deployment whose build was reused, or null after running `build` itself. */
  async run(key: string, build: () => Promise<void>): Promise<{ id: string; artifactPath: string } | null> {
    for (let p = this.pending.get(key); p; p = this.pending.get(key)) await p.catch(() => undefined);
    // From here to `set` nothing awaits, so two deployments of one key cannot both start building.
    const done = this.store.deployments
      .builtWithKey(key)
      .find((b) => fs.existsSync(path.join(b.artifactPath, 'artifact.json')));
    if (done) return done;
    const running = build();
    this.pending.set(key, running);
    try {
      await running;
    } finally {
      if (this.pending.get(key) === running) this.pending.delete(key);
    }
    return null;
  }
}
