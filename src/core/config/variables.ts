/**
 * Service variables that Railway treats as settings (railway-compat §1.6). They rank below the config
 * file and above defaults, so each one becomes its own layer with its own origin.
 */
import type { Layer } from './document.js';
import { type At, wholeNumber } from './fields.js';
import type { SourcedLayer } from './merge.js';

const seconds = wholeNumber(0, 'must be a whole number of seconds, 0 or more', true);
const positiveSeconds = wholeNumber(1, 'must be a positive whole number of seconds', true);

const CONFIG_VARIABLES: ReadonlyArray<{ name: string; toLayer: (value: string, at: At) => Layer }> = [
  {
    name: 'RAILWAY_DEPLOYMENT_OVERLAP_SECONDS',
    toLayer: (value, at) => ({ build: {}, deploy: { overlapSeconds: seconds(value, at) }, edge: {} }),
  },
  {
    name: 'RAILWAY_DEPLOYMENT_DRAINING_SECONDS',
    toLayer: (value, at) => ({ build: {}, deploy: { drainingSeconds: seconds(value, at) }, edge: {} }),
  },
  {
    name: 'RAILWAY_HEALTHCHECK_TIMEOUT_SEC',
    toLayer: (value, at) => ({
      build: {},
      deploy: { healthcheckTimeout: positiveSeconds(value, at) },
      edge: {},
    }),
  },
  {
    name: 'RAILWAY_DOCKERFILE_PATH',
    toLayer: (value) => ({ build: { dockerfilePath: value }, deploy: {}, edge: {} }),
  },
];

/**
 * Every config variable is validated even when the file overrides it, so a bad value is reported
 * now rather than on the day someone deletes the file's setting. Empty values count as unset.
 */
export function variableLayers(variables: Record<string, string>): SourcedLayer[] {
  const layers: SourcedLayer[] = [];
  for (const { name, toLayer } of CONFIG_VARIABLES) {
    if (!Object.hasOwn(variables, name)) continue;
    const value = variables[name];
    if (typeof value !== 'string' || value.trim() === '') continue;
    layers.push({
      layer: toLayer(value, { file: name, key: null }),
      origin: { source: 'variable', variable: name },
    });
  }
  return layers;
}
