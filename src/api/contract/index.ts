/**
 * The HTTP API's contract: every route's request and answer shapes as JSON schemas with their TypeScript types.
 * Routes declare these schemas (so /v1/openapi.json has them); the CLI imports only this folder of server code.
 */
export * from './admin.js';
export * from './backups.js';
export * from './buckets.js';
export * from './cron.js';
export * from './data-services.js';
export * from './deployments.js';
export * from './domains.js';
export * from './environments.js';
export * from './errors.js';
export * from './exec.js';
export * from './metrics.js';
export * from './pitr.js';
export * from './projects.js';
export * from './scale.js';
export type { Static } from './schema.js';
export * from './sleep.js';
export * from './teardown.js';
export * from './tokens.js';
export * from './variables.js';
export * from './webhooks.js';
