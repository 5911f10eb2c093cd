import type { Environment, Project } from '../core/model.js';
import { fitDnsLabel } from '../lib/dns-label.js';
import type { Store } from '../store/store.js';

/** Branches that deploy to production. */
export const PRODUCTION_BRANCHES: ReadonlySet<string> = new Set(['main', 'master']);

/** Where a branch deploys: an existing environment, or a preview to create (named `name`). */
export type BranchTarget = { environment: Environment } | { create: string };

/**
 * A branch's preview environment name: `br-` + the branch as a DNS label (lowercase letters, digits
 * and `-`; other characters become `-`). Names cut to fit 63 characters get a short hash of the full
 * branch, so two long branches sharing a prefix do not collide.
 */
export function previewName(branch: string, prefix = 'br-'): string {
  const label = branch
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return fitDnsLabel(`${prefix}${label || 'branch'}`, branch);
}

/**
 * main/master → production; a branch named like an existing environment → that environment; a branch
 * that already has a preview → it; anything else → a new preview `br-<branch>`.
 */
export function targetForBranch(store: Store, project: Project, branch: string): BranchTarget {
  if (PRODUCTION_BRANCHES.has(branch)) return { environment: store.environments.get(project, 'production') };
  const named = store.environments.find(project, branch);
  if (named && named.name === branch) return { environment: named };
  const preview = store.environments.findPreview(project, branch);
  if (preview) return { environment: preview };
  return { create: previewName(branch) };
}
