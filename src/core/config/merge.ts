/**
 * Applies layers over the defaults and records, per leaf key, which layer supplied it. Layers are a
 * plain priority list so new sources (e.g. the `pr` block of ephemeral environments) slot in without
 * touching this code.
 */
import type { ServiceConfig, ValueOrigin } from '../model.js';
import type { Layer } from './document.js';

export interface SourcedLayer {
  layer: Layer;
  origin: ValueOrigin;
}

export interface Resolved {
  config: ServiceConfig;
  origins: Record<string, ValueOrigin>;
}

/** `layers` are highest priority first; the first layer with a value for a key wins. */
export function resolveLayers(defaults: ServiceConfig, layers: readonly SourcedLayer[]): Resolved {
  const origins: Record<string, ValueOrigin> = {};
  const section = <T extends object>(
    name: keyof ServiceConfig,
    base: T,
    pick: (l: Layer) => Partial<T>,
  ): T => {
    const out = { ...base };
    for (const key of Object.keys(base) as (keyof T & string)[]) {
      const hit = layers.find((l) => pick(l.layer)[key] !== undefined);
      if (hit) out[key] = pick(hit.layer)[key] as T[typeof key];
      origins[`${name}.${key}`] = hit ? { ...hit.origin } : { source: 'default' };
    }
    return out;
  };
  return {
    config: {
      build: section('build', defaults.build, (l) => l.build),
      deploy: section('deploy', defaults.deploy, (l) => l.deploy),
      edge: section('edge', defaults.edge as NonNullable<ServiceConfig['edge']>, (l) => l.edge),
    },
    origins,
  };
}
