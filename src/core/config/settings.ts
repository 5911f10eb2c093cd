/**
 * Service settings (`berth service update`, Railway's dashboard) as a config layer: validated by the same
 * parsers as the file's keys, ranked below the config file (config as code wins, as on Railway).
 */
import type { ServiceSettings } from '../model.js';
import type { Layer } from './document.js';
import { BUILD_FIELDS, DEPLOY_FIELDS } from './fields.js';

const FILE = 'service settings';

/** The settings as a layer; throws a ConfigError ("service settings: deploy.cronSchedule …") for bad values. */
export function settingsLayer(s: ServiceSettings): Layer {
  const at = (key: string) => ({ file: FILE, key });
  const layer: Layer = { build: {}, deploy: {}, edge: {} };
  if (s.buildCommand !== undefined)
    layer.build.buildCommand = BUILD_FIELDS.buildCommand(s.buildCommand, at('build.buildCommand'));
  if (s.watchPatterns !== undefined)
    layer.build.watchPatterns = BUILD_FIELDS.watchPatterns(s.watchPatterns, at('build.watchPatterns'));
  if (s.startCommand !== undefined)
    layer.deploy.startCommand = DEPLOY_FIELDS.startCommand(s.startCommand, at('deploy.startCommand'));
  if (s.preDeployCommand !== undefined)
    layer.deploy.preDeployCommand = DEPLOY_FIELDS.preDeployCommand(
      s.preDeployCommand,
      at('deploy.preDeployCommand'),
    );
  if (s.cronSchedule !== undefined)
    layer.deploy.cronSchedule = DEPLOY_FIELDS.cronSchedule(s.cronSchedule, at('deploy.cronSchedule'));
  if (s.healthcheckPath !== undefined)
    layer.deploy.healthcheckPath = DEPLOY_FIELDS.healthcheckPath(
      s.healthcheckPath,
      at('deploy.healthcheckPath'),
    );
  if (s.numReplicas !== undefined)
    layer.deploy.numReplicas = DEPLOY_FIELDS.numReplicas(s.numReplicas, at('deploy.numReplicas'));
  return layer;
}
