/**
 * Turns a parsed config document into layers: the base `build`/`deploy` and one layer per
 * `[environments.<name>]` block. Every block is validated, selected or not, so a typo in a staging
 * override fails the production deploy too instead of surprising someone later.
 */
import { ConfigError } from '../errors.js';
import {
  type At,
  BUILD_FIELDS,
  type BuildConfig,
  DEPLOY_FIELDS,
  type DeployConfig,
  describe,
  EDGE_FIELDS,
  type EdgeConfig,
  IGNORED_KEYS,
  invalid,
  isAbsent,
  isTable,
  wholeNumber,
} from './fields.js';

/** What one layer (base file or an override block) says; undefined keys have no opinion. */
export interface Layer {
  build: Partial<BuildConfig>;
  deploy: Partial<DeployConfig>;
  edge: Partial<EdgeConfig>;
}

export interface ParsedDocument {
  base: Layer;
  /** A Map so environment names like "constructor" cannot hit Object.prototype. */
  environments: Map<string, Layer>;
}

export interface DocumentContext {
  file: string;
  format: 'toml' | 'json';
  warnings: string[];
}

type Section = 'build' | 'deploy' | 'edge';

const SECTION_KEYS: Record<Section, readonly string[]> = {
  build: [...Object.keys(BUILD_FIELDS), ...IGNORED_KEYS.build],
  deploy: [...Object.keys(DEPLOY_FIELDS), 'multiRegionConfig', 'limitOverride', ...IGNORED_KEYS.deploy],
  edge: Object.keys(EDGE_FIELDS),
};
const TOP_LEVEL_KEYS = ['$schema', 'build', 'deploy', 'edge', 'environments'];

export function parseDocument(doc: unknown, ctx: DocumentContext): ParsedDocument {
  if (!isTable(doc)) {
    throw new ConfigError(
      ctx.file,
      null,
      `must hold ${tableWord(ctx)} at the top level (got ${describe(doc)})`,
    );
  }
  const result: ParsedDocument = { base: parseLayer(doc, '', ctx), environments: new Map() };
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'environments') parseEnvironments(value, ctx, result.environments);
    else if (!TOP_LEVEL_KEYS.includes(key)) warnUnknown(ctx, key, value, suggest(key, '', null));
  }
  return result;
}

function parseEnvironments(value: unknown, ctx: DocumentContext, into: Map<string, Layer>): void {
  if (isAbsent(value)) return;
  if (!isTable(value)) {
    invalid({ file: ctx.file, key: 'environments' }, `must be ${tableWord(ctx)} of environment names`, value);
  }
  for (const [name, block] of Object.entries(value)) {
    const prefix = `environments.${name}`;
    if (isAbsent(block)) continue;
    if (!isTable(block)) {
      invalid({ file: ctx.file, key: prefix }, `must be ${tableWord(ctx)} with build and/or deploy`, block);
    }
    for (const [key, inner] of Object.entries(block)) {
      if (key !== 'build' && key !== 'deploy' && key !== 'edge')
        warnUnknown(ctx, `${prefix}.${key}`, inner, suggest(key, prefix, null));
    }
    into.set(name, parseLayer(block, `${prefix}.`, ctx));
  }
}

/** `prefix` is "" for the base or "environments.<name>." for an override block. */
function parseLayer(table: Record<string, unknown>, prefix: string, ctx: DocumentContext): Layer {
  return {
    build: parseSection(table.build, 'build', prefix, ctx, BUILD_FIELDS),
    deploy: parseDeploy(table.deploy, prefix, ctx),
    edge: parseSection(table.edge, 'edge', prefix, ctx, EDGE_FIELDS),
  };
}

function parseSection<T>(
  raw: unknown,
  section: Section,
  prefix: string,
  ctx: DocumentContext,
  fields: { [K in keyof T]-?: (value: unknown, at: At) => T[K] | undefined },
): Partial<T> {
  const out: Partial<T> = {};
  const sectionKey = `${prefix}${section}`;
  if (isAbsent(raw)) return out;
  if (!isTable(raw)) return invalid({ file: ctx.file, key: sectionKey }, `must be ${tableWord(ctx)}`, raw);
  for (const [key, value] of Object.entries(raw)) {
    const at = { file: ctx.file, key: `${sectionKey}.${key}` };
    if (Object.hasOwn(fields, key)) {
      const field = key as keyof T;
      const parsed = fields[field](value, at);
      if (parsed !== undefined) out[field] = parsed;
    } else if (section !== 'edge' && (IGNORED_KEYS[section] as readonly string[]).includes(key)) {
      if (!isAbsent(value))
        ctx.warnings.push(`${ctx.file}: ${at.key} is a Railway setting Berth does not use; it is ignored`);
    } else if (!(section === 'deploy' && (key === 'multiRegionConfig' || key === 'limitOverride'))) {
      warnUnknown(ctx, at.key, value, suggest(key, prefix.slice(0, -1), section));
    }
  }
  return out;
}

function parseDeploy(raw: unknown, prefix: string, ctx: DocumentContext): Partial<DeployConfig> {
  const deploy = parseSection<DeployConfig>(raw, 'deploy', prefix, ctx, DEPLOY_FIELDS);
  if (!isTable(raw)) return deploy;
  const regional = regionReplicas(raw.multiRegionConfig, `${prefix}deploy.multiRegionConfig`, ctx);
  // An explicit numReplicas in the same block is the more specific statement, so it wins.
  if (deploy.numReplicas === undefined && regional !== undefined) deploy.numReplicas = regional;
  const limits = limitOverride(raw.limitOverride, `${prefix}deploy.limitOverride`, ctx);
  // Berth's own keys in the same block are the more specific statement, like numReplicas above.
  deploy.memoryLimit ??= limits.memoryLimit;
  deploy.cpuLimit ??= limits.cpuLimit;
  return deploy;
}

/** Railway's `limitOverride = { containers = { cpu, memoryBytes } }`: per-replica limits (diskBytes is not used). */
function limitOverride(
  raw: unknown,
  key: string,
  ctx: DocumentContext,
): Pick<Partial<DeployConfig>, 'memoryLimit' | 'cpuLimit'> {
  if (isAbsent(raw)) return {};
  if (!isTable(raw))
    return invalid(
      { file: ctx.file, key },
      `must be ${tableWord(ctx)} like { containers = { cpu = 1, memoryBytes = 536870912 } }`,
      raw,
    );
  for (const [name, value] of Object.entries(raw)) {
    if (name !== 'containers') warnUnknown(ctx, `${key}.${name}`, value, null);
  }
  const containers = raw.containers;
  const at = (k: string) => ({ file: ctx.file, key: `${key}.containers${k}` });
  if (isAbsent(containers)) return {};
  if (!isTable(containers))
    return invalid(at(''), `must be ${tableWord(ctx)} with cpu and/or memoryBytes`, containers);
  for (const [name, value] of Object.entries(containers)) {
    if (name === 'diskBytes') {
      if (!isAbsent(value))
        ctx.warnings.push(
          `${ctx.file}: ${key}.containers.diskBytes is a Railway setting Berth does not use; it is ignored`,
        );
    } else if (name !== 'cpu' && name !== 'memoryBytes')
      warnUnknown(ctx, `${key}.containers.${name}`, value, null);
  }
  return {
    memoryLimit: DEPLOY_FIELDS.memoryLimit(containers.memoryBytes, at('.memoryBytes')),
    cpuLimit: DEPLOY_FIELDS.cpuLimit(containers.cpu, at('.cpu')),
  };
}

/** Berth runs on one host, so per-region replica counts collapse into one total. */
function regionReplicas(raw: unknown, key: string, ctx: DocumentContext): number | undefined {
  if (isAbsent(raw)) return undefined;
  const at = { file: ctx.file, key };
  if (!isTable(raw)) return invalid(at, `must be ${tableWord(ctx)} of region → { numReplicas = N }`, raw);
  const count = wholeNumber(0, 'must be a whole number, 0 or more');
  let total = 0;
  let listed = 0;
  let regions = 0;
  for (const [region, settings] of Object.entries(raw)) {
    // Railway uses null to drop a region from an inherited config.
    if (isAbsent(settings)) continue;
    const regionAt = { file: ctx.file, key: `${key}.${region}` };
    if (!isTable(settings))
      return invalid(regionAt, `must be ${tableWord(ctx)} like { numReplicas = 1 }`, settings);
    listed += 1;
    for (const [name, value] of Object.entries(settings)) {
      if (name !== 'numReplicas') warnUnknown(ctx, `${regionAt.key}.${name}`, value, null);
    }
    const n = count(settings.numReplicas, { file: ctx.file, key: `${regionAt.key}.numReplicas` }) ?? 0;
    total += n;
    if (n > 0) regions += 1;
  }
  if (listed === 0) return undefined;
  if (total === 0) return invalid(at, 'must give at least one region 1 or more replicas', raw);
  if (regions > 1) {
    ctx.warnings.push(
      `${ctx.file}: ${key} lists ${regions} regions; Berth runs all ${total} replicas on this host`,
    );
  }
  return total;
}

function warnUnknown(ctx: DocumentContext, key: string, value: unknown, suggestion: string | null): void {
  // Report leaves ("service.internalPort"), which is what the user will search their file for.
  if (isTable(value) && Object.keys(value).length > 0 && suggestion === null) {
    for (const [inner, innerValue] of Object.entries(value))
      warnUnknown(ctx, `${key}.${inner}`, innerValue, null);
    return;
  }
  const hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
  ctx.warnings.push(`${ctx.file}: unknown key "${key}" is ignored${hint}`);
}

/**
 * A likely intended key for an unknown one: a case slip ("healthCheckPath") or a setting put in the
 * wrong section ("build.startCommand", or top-level "startCommand"). `parent` is "" or "environments.x".
 */
function suggest(key: string, parent: string, section: Section | null): string | null {
  const lower = key.toLowerCase();
  const at = (path: string) => (parent ? `${parent}.${path}` : path);
  if (section === null) {
    const top = parent ? ['build', 'deploy'] : TOP_LEVEL_KEYS;
    const match = top.find((k) => k.toLowerCase() === lower);
    if (match) return at(match);
  }
  const order: Section[] = section === 'deploy' ? ['deploy', 'build'] : ['build', 'deploy'];
  for (const candidate of order) {
    const match = SECTION_KEYS[candidate].find((k) => k.toLowerCase() === lower);
    if (match) return at(`${candidate}.${match}`);
  }
  return null;
}

function tableWord(ctx: DocumentContext): string {
  return ctx.format === 'json' ? 'an object' : 'a table';
}
