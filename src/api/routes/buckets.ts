import type { FastifyInstance } from 'fastify';
import { endpointOf } from '../../buckets/variables.js';
import type { Environment, Service } from '../../core/model.js';
import type { Bucket } from '../../store/buckets.js';
import {
  type BucketCors,
  type BucketCorsBody,
  type BucketCredentials,
  type BucketLifecycle,
  type BucketLifecycleBody,
  type BucketList,
  type BucketView,
  bucketCorsBodySchema,
  bucketCorsSchema,
  bucketCredentialsSchema,
  bucketLifecycleBodySchema,
  bucketLifecycleSchema,
  bucketListSchema,
  bucketSchema,
  type CreateBucketBody,
  createBucketBodySchema,
  type DeletedBucket,
  deletedBucketSchema,
  type RenameBucketBody,
  renameBucketBodySchema,
  type UpdateBucketBody,
  updateBucketBodySchema,
} from '../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { resolveScope, type ScopeParams, scopeParamsSchema } from '../lookup.js';

/** Buckets: `berth bucket create|list|info|credentials|rename|delete|update|lifecycle|cors`. */
export function bucketRoutes(deps: ApiDeps) {
  const { store, engine } = deps;
  const site = engine.buckets.site;
  const base = '/v1/projects/:project/environments/:env/services/:service/bucket';

  const view = (service: Service, environment: Environment, b: Bucket): BucketView => ({
    service: service.name,
    environment: environment.name,
    s3Name: b.s3Name,
    endpoint: endpointOf(site),
    region: engine.buckets.region,
    public: b.public,
    publicUrl: engine.buckets.publicUrlOf(b),
    customDomains: store.domains.list(b.serviceId, b.environmentId).map((d) => d.hostname),
    accessKeyId: b.accessKeyId,
    createdAt: b.createdAt,
  });
  const credentials = (b: Bucket): BucketCredentials => ({
    bucket: b.s3Name,
    endpoint: endpointOf(site),
    region: engine.buckets.region,
    accessKeyId: b.accessKeyId,
    secretAccessKey: b.secretAccessKey,
  });
  const scope = (p: ScopeParams) => {
    const s = resolveScope(store, p);
    return { ...s, bucket: engine.buckets.get(s.service, s.environment) };
  };

  return async (app: FastifyInstance) => {
    app.post<{ Params: { project: string; env: string }; Body: CreateBucketBody }>(
      '/v1/projects/:project/environments/:env/buckets',
      {
        schema: {
          summary:
            'Create a bucket in the environment (a service of kind bucket): its S3 name and keys; answers once the store serves it',
          body: createBucketBodySchema,
          response: { 201: bucketSchema },
        },
      },
      async (req, reply) => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        const b = await engine.buckets.create(project, environment, req.body.name, req.body.public ?? false);
        return reply.code(201).send(view(store.services.getById(b.serviceId), environment, b));
      },
    );

    app.get<{ Params: { project: string; env: string } }>(
      '/v1/projects/:project/environments/:env/buckets',
      { schema: { summary: "The environment's buckets", response: { 200: bucketListSchema } } },
      async (req): Promise<BucketList> => {
        const project = store.projects.get(req.params.project);
        const environment = store.environments.get(project, req.params.env);
        return engine.buckets.list(project, environment).map((x) => view(x.service, environment, x.bucket));
      },
    );

    app.get<{ Params: ScopeParams }>(
      base,
      {
        schema: {
          summary: 'A bucket: its S3 name, endpoint, public URL',
          params: scopeParamsSchema,
          response: { 200: bucketSchema },
        },
      },
      async (req): Promise<BucketView> => {
        const { service, environment, bucket } = scope(req.params);
        return view(service, environment, bucket);
      },
    );

    app.patch<{ Params: ScopeParams; Body: UpdateBucketBody }>(
      base,
      {
        schema: {
          summary:
            'Make a bucket public-read or private; answers once the store and the edge serve the change',
          params: scopeParamsSchema,
          body: updateBucketBodySchema,
          response: { 200: bucketSchema },
        },
      },
      async (req): Promise<BucketView> => {
        const { service, environment, bucket } = scope(req.params);
        const b =
          req.body.public === undefined ? bucket : await engine.buckets.setPublic(bucket, req.body.public);
        return view(service, environment, b);
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/credentials`,
      {
        schema: {
          summary: "A bucket's keys (scoped to it alone)",
          params: scopeParamsSchema,
          response: { 200: bucketCredentialsSchema },
        },
      },
      async (req): Promise<BucketCredentials> => credentials(scope(req.params).bucket),
    );

    app.post<{ Params: ScopeParams }>(
      `${base}/credentials/reset`,
      {
        schema: {
          summary: 'New keys for a bucket: the store refuses the old ones once this answers',
          params: scopeParamsSchema,
          response: { 200: bucketCredentialsSchema },
        },
      },
      async (req): Promise<BucketCredentials> => {
        const { environment, bucket } = scope(req.params);
        const reset = await engine.buckets.resetCredentials(bucket);
        // Like a variable change: what references the old keys is redeployed with the new ones.
        const services = engine.servicesWithPendingChanges(environment);
        engine.redeployBatch(environment, services);
        return { ...credentials(reset), redeployed: services.map((s) => s.name) };
      },
    );

    app.post<{ Params: ScopeParams; Body: RenameBucketBody }>(
      `${base}/rename`,
      {
        schema: {
          summary: "A bucket's new display name (its S3 name stays)",
          params: scopeParamsSchema,
          body: renameBucketBodySchema,
          response: { 200: bucketSchema },
        },
      },
      async (req): Promise<BucketView> => {
        const { project, service, environment, bucket } = scope(req.params);
        const renamed = await engine.buckets.rename(project, service, req.body.name);
        return view(renamed, environment, bucket);
      },
    );

    app.delete<{ Params: ScopeParams }>(
      base,
      {
        schema: {
          summary:
            "Delete a bucket from the environment with its objects; the service goes with its last environment's bucket",
          params: scopeParamsSchema,
          response: { 200: deletedBucketSchema },
        },
      },
      async (req): Promise<DeletedBucket> => {
        const { project, service, environment, bucket } = scope(req.params);
        await engine.buckets.delete(bucket);
        const last = store.buckets.ofService(service.id).length === 0;
        if (last) await engine.teardown.deleteService(project, service, { deleteData: true });
        return {
          service: service.name,
          environment: environment.name,
          s3Name: bucket.s3Name,
          serviceDeleted: last,
        };
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/lifecycle`,
      {
        schema: {
          summary: "A bucket's lifecycle rules, as the store holds them",
          params: scopeParamsSchema,
          response: { 200: bucketLifecycleSchema },
        },
      },
      async (req): Promise<BucketLifecycle> => {
        const { bucket } = scope(req.params);
        return { bucket: bucket.s3Name, rules: await engine.buckets.lifecycle(bucket) };
      },
    );

    app.put<{ Params: ScopeParams; Body: BucketLifecycleBody }>(
      `${base}/lifecycle`,
      {
        schema: {
          summary:
            'Expire objects under a prefix after N days (and abandoned multipart uploads), through the S3 lifecycle API',
          params: scopeParamsSchema,
          body: bucketLifecycleBodySchema,
          response: { 200: bucketLifecycleSchema },
        },
      },
      async (req): Promise<BucketLifecycle> => {
        const { bucket } = scope(req.params);
        const rules = await engine.buckets.setLifecycle(bucket, req.body.prefix ?? '', req.body.expireDays);
        return { bucket: bucket.s3Name, rules };
      },
    );

    app.get<{ Params: ScopeParams }>(
      `${base}/cors`,
      {
        schema: {
          summary: "A bucket's CORS rules, as the store holds them",
          params: scopeParamsSchema,
          response: { 200: bucketCorsSchema },
        },
      },
      async (req): Promise<BucketCors> => {
        const { bucket } = scope(req.params);
        return { bucket: bucket.s3Name, rules: await engine.buckets.cors(bucket) };
      },
    );

    app.put<{ Params: ScopeParams; Body: BucketCorsBody }>(
      `${base}/cors`,
      {
        schema: {
          summary:
            'Let browsers on these origins use the bucket (presigned uploads), through the S3 CORS API; replaces its rules',
          params: scopeParamsSchema,
          body: bucketCorsBodySchema,
          response: { 200: bucketCorsSchema },
        },
      },
      async (req): Promise<BucketCors> => {
        const { bucket } = scope(req.params);
        const rules = await engine.buckets.setCors(bucket, {
          origins: req.body.origins,
          methods: req.body.methods ?? ['GET', 'HEAD', 'PUT'],
          maxAgeSeconds: req.body.maxAgeSeconds ?? null,
        });
        return { bucket: bucket.s3Name, rules };
      },
    );

    app.delete<{ Params: ScopeParams }>(
      `${base}/cors`,
      {
        schema: {
          summary: "Remove a bucket's CORS rules (browsers on other origins are refused again)",
          params: scopeParamsSchema,
          response: { 200: bucketCorsSchema },
        },
      },
      async (req): Promise<BucketCors> => {
        const { bucket } = scope(req.params);
        await engine.buckets.clearCors(bucket);
        return { bucket: bucket.s3Name, rules: [] };
      },
    );
  };
}
