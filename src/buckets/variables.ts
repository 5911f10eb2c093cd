/** The variables a bucket provides to references (`${{files.AWS_ACCESS_KEY_ID}}`): Railway's names. */
import type { SiteOptions } from '../deploy/context.js';
import { publicUrl } from '../deploy/hostnames.js';
import type { Bucket } from '../store/buckets.js';
import type { Store } from '../store/store.js';
import { BUCKET_REGION, storageHostOf } from './names.js';

/** `AWS_ENDPOINT_URL`: the storage host through the edge. */
export function endpointOf(site: SiteOptions): string {
  return publicUrl(storageHostOf(site.domain), site.httpPort);
}

export function variablesOf(b: Bucket, site: SiteOptions): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpointOf(site),
    AWS_DEFAULT_REGION: BUCKET_REGION,
    AWS_S3_BUCKET_NAME: b.s3Name,
    AWS_ACCESS_KEY_ID: b.accessKeyId,
    AWS_SECRET_ACCESS_KEY: b.secretAccessKey,
  };
}

/** What the bucket of serviceId provides in an environment ({} where it has none). */
export function bucketVariables(
  store: Store,
  serviceId: string,
  environmentId: string,
  site: SiteOptions,
): Record<string, string> {
  const b = store.buckets.find(serviceId, environmentId);
  return b ? variablesOf(b, site) : {};
}
