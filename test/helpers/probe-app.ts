import fs from 'node:fs';
import path from 'node:path';
import type { BerthHarness } from './berth.js';

/** One thing a probe tries (see test/fixtures/apps/sandbox-probe/probe.js). */
export interface ProbeTarget {
  label: string;
  path: string;
  op?: 'read' | 'list' | 'write' | 'create';
}

/** A copy of the sandbox-probe fixture that tries `targets`, with extra railway.toml text. */
export function probeApp(berth: BerthHarness, name: string, targets: ProbeTarget[], toml = ''): string {
  const dir = berth.app('sandbox-probe', name);
  fs.writeFileSync(path.join(dir, 'targets.json'), JSON.stringify(targets));
  if (toml) fs.writeFileSync(path.join(dir, 'railway.toml'), toml);
  return dir;
}

/** label → what the probe got ('READ', 'DENIED', 'WROTE', ...), from PROBE lines anywhere in text. */
export function probeResults(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/PROBE (\S+) (READ|DENIED|WROTE|CREATED|LISTED)/g)) out.set(m[1], m[2]);
  return out;
}

/** Pids of every process in the process group pgid (a replica's bwrap and everything inside). */
export function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}
