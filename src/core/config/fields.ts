import { BlockList, isIP } from 'node:net';
import { Cron } from 'croner';
/**
 * One parser per ServiceConfig leaf. Each turns a raw value from the file into Berth's value or throws a
 * ConfigError naming the key and what was expected. Returning `undefined` means "no opinion at this
 * layer" (key absent or null), so a lower layer or the default decides.
 */
import { ConfigError } from '../errors.js';
import type { Builder, EdgeConfig, RestartPolicyType, ServiceConfig } from '../model.js';

export type BuildConfig = ServiceConfig['build'];
export type DeployConfig = ServiceConfig['deploy'];
export type { EdgeConfig };

/** Where a value sits, for messages: the file (or variable name) and the dotted key, if any. */
export interface At {
  file: string;
  key: string | null;
}

export type FieldParser<T> = (value: unknown, at: At) => T | undefined;

export const BUILDERS: readonly Builder[] = ['RAILPACK', 'NIXPACKS', 'DOCKERFILE', 'HEROKU', 'PAKETO'];
export const RESTART_POLICIES: readonly RestartPolicyType[] = ['ON_FAILURE', 'ALWAYS', 'NEVER'];

/**
 * Keys Railway documents but Berth has no use for. They must not fail a file that works on Railway,
 * but the user should know they have no effect here.
 */
export const IGNORED_KEYS = {
  build: ['railpackVersion', 'nixpacksPlan', 'nixpacksConfigPath', 'nixpacksVersion', 'buildEnvironment'],
  deploy: [
    'preDeployTimeoutSeconds',
    'region',
    'requiredMountPath',
    'registryCredentials',
    'ipv6EgressEnabled',
    'runtime',
  ],
} as const;

export function isAbsent(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

export function isTable(value: unknown): value is Record<string, unknown> {
  // smol-toml returns dates as Date objects; they are values, not tables.
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A short, quoted rendering of what the user wrote, for "(got …)". */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (isTable(value)) return 'a table';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function invalid(at: At, expected: string, value: unknown): never {
  throw new ConfigError(at.file, at.key, `${expected} (got ${describe(value)})`);
}

function keyAt(at: At, suffix: string): At {
  return { file: at.file, key: `${at.key ?? ''}${suffix}` };
}

function oneOf<T extends string>(choices: readonly T[]): FieldParser<T> {
  return (value, at) => {
    if (isAbsent(value)) return undefined;
    // Railway's own TOML examples write enums in lower case, its JSON examples in upper case.
    const match =
      typeof value === 'string' ? choices.find((c) => c === value.trim().toUpperCase()) : undefined;
    return match ?? invalid(at, `must be one of ${choices.join(', ')}`, value);
  };
}

/** An empty string clears the setting (like an emptied dashboard field); null leaves it to lower layers. */
const optionalString: FieldParser<string | null> = (value, at) => {
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'string') return invalid(at, 'must be a string', value);
  return value.trim() === '' ? null : value;
};

/** `acceptString` exists because Railway's docs show overlap/draining seconds as strings ("60"). */
export function wholeNumber(min: number, expected: string, acceptString = false): FieldParser<number> {
  return (value, at) => {
    if (isAbsent(value)) return undefined;
    const n = acceptString && typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= min) return n;
    return invalid(at, expected, value);
  };
}

const healthcheckPath: FieldParser<string | null> = (value, at) => {
  const path = optionalString(value, at);
  if (typeof path === 'string' && !path.startsWith('/')) {
    return invalid(at, 'must be a path starting with "/"', value);
  }
  return path;
};

/**
 * Railway takes 5-field crontabs (UTC). Berth also takes 6 fields with leading seconds, an extension
 * for jobs that must run more often than once a minute. croner checks each field's values.
 */
const cronSchedule: FieldParser<string | null> = (value, at) => {
  const schedule = optionalString(value, at);
  if (typeof schedule !== 'string') return schedule;
  const fields = schedule.trim().split(/\s+/);
  const expected =
    'must be a 5-field crontab schedule (minute hour day month weekday) such as "0 3 * * *", ' +
    'or 6 fields with leading seconds';
  if (fields.length !== 5 && fields.length !== 6) {
    throw new ConfigError(
      at.file,
      at.key,
      `${expected} (got ${describe(value)}, which has ${fields.length} field${fields.length === 1 ? '' : 's'})`,
    );
  }
  try {
    new Cron(fields.join(' '), { paused: true, utcOffset: 0 }).stop();
  } catch (err) {
    throw new ConfigError(at.file, at.key, `${expected} (got ${describe(value)}: ${(err as Error).message})`);
  }
  return fields.join(' ');
};

const boolean: FieldParser<boolean> = (value, at) => {
  if (isAbsent(value)) return undefined;
  return typeof value === 'boolean' ? value : invalid(at, 'must be true or false', value);
};

const watchPatterns: FieldParser<string[]> = (value, at) => {
  if (isAbsent(value)) return undefined;
  if (!Array.isArray(value)) return invalid(at, 'must be a list of gitignore-style patterns', value);
  return value.map((pattern, i) =>
    typeof pattern === 'string' ? pattern : invalid(keyAt(at, `[${i}]`), 'must be a string', pattern),
  );
};

const preDeployCommand: FieldParser<string[]> = (value, at) => {
  if (isAbsent(value)) return undefined;
  const command = (entry: unknown, entryAt: At): string =>
    typeof entry === 'string' && entry.trim() !== ''
      ? entry
      : invalid(entryAt, 'must be a non-empty command string', entry);
  if (typeof value === 'string') return [command(value, at)];
  if (Array.isArray(value)) return value.map((entry, i) => command(entry, keyAt(at, `[${i}]`)));
  return invalid(at, 'must be a command string or a list of command strings', value);
};

/** `1048576`, `"512kb"`, `"10mb"`, `"1gb"` (powers of 1024) → bytes; null clears the limit. */
const byteSize: FieldParser<number | null> = (value, at) => {
  if (value === null || value === undefined) return undefined;
  const expected = 'must be a size in bytes, like 1048576 or "10mb" (kb, mb, gb)';
  if (typeof value === 'number')
    return Number.isSafeInteger(value) && value > 0 ? value : invalid(at, expected, value);
  if (typeof value !== 'string') return invalid(at, expected, value);
  const m = /^\s*(\d+)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!m) return invalid(at, expected, value);
  const unit = (m[2] ?? 'b').toLowerCase();
  const n = Number(m[1]) * { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[unit as 'b'];
  return n > 0 && Number.isSafeInteger(n) ? n : invalid(at, expected, value);
};

const optionalCount: FieldParser<number | null> = (value, at) => {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1
    ? value
    : invalid(at, 'must be a whole number of requests, 1 or more', value);
};

/** IP addresses or CIDR ranges (IPv4 and IPv6), checked with node:net's BlockList. */
const ipList: FieldParser<string[]> = (value, at) => {
  if (isAbsent(value)) return undefined;
  if (!Array.isArray(value)) return invalid(at, 'must be a list of IP addresses or CIDR ranges', value);
  return value.map((entry, i) => {
    const entryAt = keyAt(at, `[${i}]`);
    if (typeof entry !== 'string') return invalid(entryAt, 'must be an IP address or CIDR range', entry);
    const [addr, bits, extra] = entry.trim().split('/');
    const family = isIP(addr ?? '');
    const prefix = bits === undefined ? null : Number(bits);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (prefix !== null && (!/^\d+$/.test(bits) || prefix > max))) {
      return invalid(entryAt, 'must be an IP address or CIDR range like 203.0.113.0/24', entry);
    }
    new BlockList().addSubnet(addr, prefix ?? max, family === 6 ? 'ipv6' : 'ipv4');
    return entry.trim();
  });
};

const pathPrefixes: FieldParser<string[]> = (value, at) => {
  if (isAbsent(value)) return undefined;
  if (!Array.isArray(value)) return invalid(at, 'must be a list of path prefixes like "/admin"', value);
  return value.map((entry, i) =>
    typeof entry === 'string' && entry.startsWith('/')
      ? entry
      : invalid(keyAt(at, `[${i}]`), 'must be a path prefix starting with "/"', entry),
  );
};

type Parsers<T> = { [K in keyof T]-?: FieldParser<T[K]> };

export const EDGE_FIELDS: Parsers<EdgeConfig> = {
  rateLimit: optionalCount,
  rateLimitWindowSeconds: wholeNumber(1, 'must be a whole number of seconds, 1 or more'),
  maxBodySize: byteSize,
  allowIps: ipList,
  denyIps: ipList,
  denyPaths: pathPrefixes,
};

export const BUILD_FIELDS: Parsers<BuildConfig> = {
  builder: oneOf(BUILDERS),
  buildCommand: optionalString,
  watchPatterns,
  dockerfilePath: optionalString,
};

/** Bytes, or a size with a unit (powers of 1024): 536870912, "512Mi", "512MB", "1.5Gi". At least 4 MiB. */
export const memorySize: FieldParser<number | null> = (value, at) => {
  if (isAbsent(value)) return undefined;
  const expected =
    'must be a memory size in bytes or with a unit, like 536870912 or "512Mi" (Ki, Mi, Gi), 4Mi or more';
  const units: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b?)\s*$/i.exec(value);
    if (!m) return invalid(at, expected, value);
    n = Math.floor(Number(m[1]) * (units[m[2].toLowerCase()] ?? 1));
  } else return invalid(at, expected, value);
  return Number.isSafeInteger(n) && n >= 4 * 1024 ** 2 ? n : invalid(at, expected, value);
};

/** CPUs as a number: 0.5 is half a core. */
export const cpuCount: FieldParser<number | null> = (value, at) => {
  if (isAbsent(value)) return undefined;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0.01 && value <= 1024
    ? value
    : invalid(at, 'must be a number of CPUs from 0.01 to 1024, like 0.5 or 2', value);
};

export const DEPLOY_FIELDS: Parsers<DeployConfig> = {
  startCommand: optionalString,
  preDeployCommand,
  healthcheckPath,
  healthcheckTimeout: wholeNumber(1, 'must be a positive whole number of seconds'),
  restartPolicyType: oneOf(RESTART_POLICIES),
  restartPolicyMaxRetries: wholeNumber(0, 'must be a whole number, 0 or more'),
  numReplicas: wholeNumber(1, 'must be a whole number, 1 or more'),
  cronSchedule,
  sleepApplication: boolean,
  sleepAfterSeconds: wholeNumber(1, 'must be a whole number of seconds, 1 or more'),
  overlapSeconds: wholeNumber(0, 'must be a whole number of seconds, 0 or more', true),
  drainingSeconds: wholeNumber(0, 'must be a whole number of seconds, 0 or more', true),
  workerStabilitySeconds: wholeNumber(0, 'must be a whole number of seconds, 0 or more'),
  singleton: boolean,
  cronTimeoutSeconds: wholeNumber(1, 'must be a whole number of seconds, 1 or more'),
  memoryLimit: memorySize,
  cpuLimit: cpuCount,
  pidsLimit: wholeNumber(8, 'must be a whole number of processes, 8 or more'),
  minReplicas: wholeNumber(1, 'must be a whole number, 1 or more'),
  maxReplicas: wholeNumber(1, 'must be a whole number, 1 or more'),
  targetCPUPercent: wholeNumber(
    1,
    'must be a whole percentage, 1 or more (of a replica’s cpuLimit, or of one core)',
  ),
  scaleUpWindowSeconds: wholeNumber(1, 'must be a whole number of seconds, 1 or more'),
  scaleDownWindowSeconds: wholeNumber(1, 'must be a whole number of seconds, 1 or more'),
};
