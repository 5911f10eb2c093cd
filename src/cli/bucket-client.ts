/** The API calls of `berth bucket …` (kept apart from client.ts, which is long enough). */
import type {
  BucketCors,
  BucketCorsBody,
  BucketCredentials,
  BucketLifecycle,
  BucketLifecycleBody,
  BucketList,
  BucketView,
  CreateBucketBody,
  DeletedBucket,
} from '../api/contract/index.js';
import { ApiClient, environmentPath, servicePath } from './client.js';

interface Scope {
  project: string;
  environment: string;
  service: string;
}

const bucketPath = (t: Scope) => `${servicePath(t.project, t.environment, t.service)}/bucket`;

export class BucketClient extends ApiClient {
  createBucket(project: string, environment: string, body: CreateBucketBody): Promise<BucketView> {
    return this.json('POST', `${environmentPath(project, environment)}/buckets`, {
      json: body,
      headersTimeout: 60_000,
    });
  }

  buckets(project: string, environment: string): Promise<BucketList> {
    return this.json('GET', `${environmentPath(project, environment)}/buckets`);
  }

  bucket(t: Scope): Promise<BucketView> {
    return this.json('GET', bucketPath(t));
  }

  updateBucket(t: Scope, body: { public: boolean }): Promise<BucketView> {
    return this.json('PATCH', bucketPath(t), { json: body });
  }

  credentials(t: Scope, reset: boolean): Promise<BucketCredentials> {
    return reset
      ? this.json('POST', `${bucketPath(t)}/credentials/reset`)
      : this.json('GET', `${bucketPath(t)}/credentials`);
  }

  renameBucket(t: Scope, name: string): Promise<BucketView> {
    return this.json('POST', `${bucketPath(t)}/rename`, { json: { name } });
  }

  deleteBucket(t: Scope): Promise<DeletedBucket> {
    return this.json('DELETE', bucketPath(t), { headersTimeout: 600_000 });
  }

  lifecycle(t: Scope, body: BucketLifecycleBody | null): Promise<BucketLifecycle> {
    return body === null
      ? this.json('GET', `${bucketPath(t)}/lifecycle`)
      : this.json('PUT', `${bucketPath(t)}/lifecycle`, { json: body });
  }

  cors(t: Scope, body: BucketCorsBody | null): Promise<BucketCors> {
    return body === null
      ? this.json('GET', `${bucketPath(t)}/cors`)
      : this.json('PUT', `${bucketPath(t)}/cors`, { json: body });
  }

  clearCors(t: Scope): Promise<BucketCors> {
    return this.json('DELETE', `${bucketPath(t)}/cors`);
  }
}
