import { deploymentStatusSchema } from './deployments.js';
import { deletedEnvironmentSchema } from './environments.js';
import { boolean, nullableString, orNull, type Static, string, stringList } from './schema.js';

const forkPrs = { type: 'string', enum: ['build', 'skip'] } as const;

export const webhookSettingsSchema = {
  type: 'object',
  required: ['webhookUrl', 'gitlabWebhookUrl', 'secretSet', 'statusUrl', 'forkPrs'],
  additionalProperties: false,
  properties: {
    webhookUrl: string,
    gitlabWebhookUrl: string,
    secretSet: boolean,
    /** Only in the answer that generated it. */
    secret: string,
    statusUrl: nullableString,
    /** What pull requests from forks do: skipped, or built without copied variables. */
    forkPrs,
  },
} as const;
export type WebhookSettings = Static<typeof webhookSettingsSchema>;

export const webhookSettingsPatchSchema = {
  type: 'object',
  properties: { secret: nullableString, generateSecret: boolean, statusUrl: nullableString, forkPrs },
} as const;
export type WebhookSettingsPatch = Static<typeof webhookSettingsPatchSchema>;

/** What a GitHub or GitLab webhook did (202). */
export const webhookResultSchema = {
  type: 'object',
  required: ['event'],
  additionalProperties: false,
  properties: {
    event: string,
    ignored: string,
    environment: string,
    environmentCreated: boolean,
    deleted: nullableString,
    deployments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['deploymentId', 'service', 'status', 'url'],
        additionalProperties: false,
        properties: { deploymentId: string, service: string, status: string, url: string },
      },
    },
    released: stringList,
    skipped: stringList,
  },
} as const;
export type WebhookResult = Static<typeof webhookResultSchema>;

export const commitStatusBodySchema = {
  type: 'object',
  required: ['sha', 'state'],
  properties: {
    sha: { type: 'string', minLength: 7 },
    state: { type: 'string', enum: ['pending', 'success', 'failure', 'error'] },
    context: string,
    description: string,
  },
} as const;
export type CommitStatusBody = Static<typeof commitStatusBodySchema>;

/** Deployments WAITING for that commit that now run, and those that end SKIPPED. */
export const commitStatusResultSchema = {
  type: 'object',
  required: ['released', 'skipped'],
  additionalProperties: false,
  properties: { released: stringList, skipped: stringList },
} as const;
export type CommitStatusResult = Static<typeof commitStatusResultSchema>;

export const gitDeployBodySchema = {
  type: 'object',
  required: ['sha', 'branch'],
  properties: { sha: string, branch: { type: 'string', minLength: 1 }, before: string },
} as const;
export type GitDeployBody = Static<typeof gitDeployBodySchema>;

export const gitDeployResultSchema = {
  type: 'object',
  required: ['environment', 'environmentKind', 'environmentCreated', 'deployments'],
  additionalProperties: false,
  properties: {
    environment: string,
    environmentKind: { type: 'string', enum: ['persistent', 'preview'] },
    environmentCreated: boolean,
    deployments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['deploymentId', 'status', 'service', 'url'],
        additionalProperties: false,
        properties: {
          deploymentId: string,
          status: deploymentStatusSchema,
          service: string,
          url: nullableString,
        },
      },
    },
  },
} as const;
export type GitDeployResult = Static<typeof gitDeployResultSchema>;

export const gitRejectBodySchema = {
  type: 'object',
  required: ['branch', 'environment'],
  properties: {
    branch: { type: 'string', minLength: 1 },
    environment: { type: 'string', minLength: 1 },
  },
} as const;
export type GitRejectBody = Static<typeof gitRejectBodySchema>;

export const gitDeleteBodySchema = {
  type: 'object',
  required: ['branch'],
  properties: { branch: { type: 'string', minLength: 1 } },
} as const;
export type GitDeleteBody = Static<typeof gitDeleteBodySchema>;

/** The preview environment a git-reject or git-delete removed, or null. */
export const gitDeletedSchema = {
  type: 'object',
  required: ['deleted'],
  additionalProperties: false,
  properties: { deleted: orNull(deletedEnvironmentSchema) },
} as const;
export type GitDeleted = Static<typeof gitDeletedSchema>;
