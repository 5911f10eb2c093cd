import { readArtifact } from '../build/index.js';
import type { BuildResult } from '../build/types.js';
import type { Deployment } from '../core/model.js';

/**
 * A deployment's artifact as it runs: a build shared by several services (one monorepo root, one
 * commit) starts each with its own deploy.startCommand.
 */
export function artifactOf(d: Deployment): BuildResult {
  const artifact = readArtifact(d.artifactPath as string);
  const start = d.config?.deploy.startCommand?.trim();
  return artifact.kind === 'process' && start ? { ...artifact, startCommand: start } : artifact;
}
