/**
 * HAProxy's files in DIR/edge/haproxy as the driver writes them: haproxy.cfg (only once `haproxy -c` accepts
 * it), its pages and maps, and state.json (what the running HAProxy serves, for the next daemon).
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import {
  CONFIG_FILE,
  type RenderOptions,
  renderConfig,
  STATE_FILE,
  templateId,
  templateOf,
} from './config.js';
import type { HaproxyState } from './plan.js';

export class ConfigFiles {
  private version: [number, number] | null = null;

  constructor(
    private readonly dir: string,
    private readonly binary: string,
  ) {}

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Writes pages and maps, then haproxy.cfg once `haproxy -c` accepts it (the old one stays otherwise). */
  async write(state: HaproxyState): Promise<void> {
    const files = renderConfig(state, this.dir, await this.renderOptions());
    for (const [rel, text] of Object.entries(files)) {
      if (rel === CONFIG_FILE) continue;
      writeAtomic(this.file(rel), text);
    }
    const tmp = this.file(`${CONFIG_FILE}.new`);
    writeAtomic(tmp, files[CONFIG_FILE]);
    await new Promise<void>((resolve, reject) => {
      execFile(this.binary, ['-c', '-q', '-f', tmp], { timeout: 15_000 }, (err, stdout, stderr) => {
        if (err)
          reject(
            new Error(`HAProxy rejects the generated configuration: ${stderr || stdout || err.message}`),
          );
        else resolve();
      });
    });
    fs.renameSync(tmp, this.file(CONFIG_FILE));
    removeStalePages(this.file('pages'), files);
  }

  /** True when haproxy.cfg was rendered by a template other than this Berth's (or cannot be read). */
  async writtenByOtherTemplate(): Promise<boolean> {
    let written: string;
    try {
      written = fs.readFileSync(this.file(CONFIG_FILE), 'utf8');
    } catch {
      return true;
    }
    return templateOf(written) !== templateId(await this.renderOptions());
  }

  loadState(): HaproxyState | null {
    try {
      const s = JSON.parse(fs.readFileSync(this.file(STATE_FILE), 'utf8')) as HaproxyState;
      return Array.isArray(s.backends) && Array.isArray(s.staticHosts) ? s : null;
    } catch {
      return null;
    }
  }

  saveState(s: HaproxyState): void {
    writeAtomic(this.file(STATE_FILE), `${JSON.stringify(s, null, 2)}\n`);
  }

  private async renderOptions(): Promise<RenderOptions> {
    this.version ??= await haproxyVersion(this.binary);
    const [major, minor] = this.version;
    return { idleCloseOnResponse: major > 2 || (major === 2 && minor >= 7) };
  }
}

/** Replaces one of HAProxy's files whole (0600), making its directory first. */
export function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, text);
}

/** HAProxy's [major, minor] version from `haproxy -v`; [0, 0] when it cannot be read (no optional features then). */
export function haproxyVersion(binary: string): Promise<[number, number]> {
  return new Promise((resolve) => {
    execFile(binary, ['-v'], { timeout: 10_000 }, (err, stdout) => {
      const m = /version (\d+)\.(\d+)/.exec(String(stdout));
      resolve(!err && m ? [Number(m[1]), Number(m[2])] : [0, 0]);
    });
  });
}

/** Error pages of backends the live config no longer names (a service taken down or deleted) go with them. */
function removeStalePages(dir: string, files: Record<string, string>): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!(`pages/${name}` in files)) fs.rmSync(path.join(dir, name), { force: true });
  }
}
