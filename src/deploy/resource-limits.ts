/**
 * A replica's resource limits from its deployment's config (memoryLimit, cpuLimit, pidsLimit; Railway's
 * limitOverride lands in the first two), what the runtime driver can enforce of them here, and how they read.
 */
import type { ServiceConfig } from '../core/model.js';
import { formatBytes } from '../lib/format-bytes.js';
import type { LimitName, ResourceLimits } from '../runtime/driver.js';

/** Processes and threads one replica may have at once unless pidsLimit says otherwise: a fork bomb stops here. */
export const DEFAULT_PIDS_LIMIT = 4096;

export interface ReplicaLimits {
  /** What the driver is asked to enforce (those it can, only). */
  limits: ResourceLimits;
  /** Set when limits the config asks for cannot be enforced on this host: one sentence saying which and why. */
  notEnforced: string | null;
  /** For the deployment log: "memory 256 MiB, 0.5 CPU, 4096 processes"; empty when the config sets none. */
  summary: string;
  /** The config sets at least one limit. */
  configured: boolean;
}

type Deploy = ServiceConfig['deploy'];

const NAMES: [keyof ResourceLimits, keyof Deploy][] = [
  ['memoryBytes', 'memoryLimit'],
  ['cpus', 'cpuLimit'],
  ['pids', 'pidsLimit'],
];

function describeLimit(name: keyof ResourceLimits, v: number): string {
  if (name === 'memoryBytes') return `memory ${formatBytes(v)}`;
  if (name === 'cpus') return `${v} CPU`;
  return `${v} processes`;
}

/**
 * The limits for one replica. The default process limit is a safety net, not the user's request: when the host
 * cannot enforce it nothing is said; when it cannot enforce what the config asks for, notEnforced says so.
 */
export function replicaLimits(
  deploy: Deploy,
  driver: { limits: readonly LimitName[]; limitsNote: string | null },
): ReplicaLimits {
  const wanted: ResourceLimits = {};
  for (const [name, key] of NAMES) {
    const v = deploy[key];
    if (typeof v === 'number') wanted[name] = v;
  }
  wanted.pids ??= DEFAULT_PIDS_LIMIT;
  const limits: ResourceLimits = {};
  const dropped: string[] = [];
  for (const [name, key] of NAMES) {
    const v = wanted[name];
    if (v === undefined) continue;
    if (driver.limits.includes(name)) limits[name] = v;
    else if (typeof deploy[key] === 'number') dropped.push(`${key} (${describeLimit(name, v)})`);
  }
  const why = driver.limitsNote ?? 'the runtime driver cannot enforce it';
  const notEnforced =
    dropped.length === 0
      ? null
      : `${listed(dropped)} ${dropped.length === 1 ? 'is' : 'are'} not enforced on this host: ${why}.`;
  const asked = NAMES.some(([, key]) => typeof deploy[key] === 'number');
  const summary = !asked
    ? ''
    : NAMES.filter(([n]) => limits[n] !== undefined)
        .map(([n]) => describeLimit(n, limits[n] as number))
        .join(', ');
  return { limits, notEnforced, summary, configured: asked };
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
