import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../core/errors.js';
import { now, type Row, type StoreContext } from './context.js';
import { bucketSecretAad } from './sealed-columns.js';

/** A bucket in one environment: its S3 name, its one key pair (the secret sealed at rest), public or not. */
export interface Bucket {
  id: string;
  serviceId: string;
  environmentId: string;
  s3Name: string;
  accessKeyId: string;
  secretAccessKey: string;
  public: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Table `buckets`: buckets per service and environment (the store process serves them all). */
export class Buckets {
  constructor(private readonly ctx: StoreContext) {}

  private toBucket(r: Row): Bucket {
    const id = String(r.id);
    return {
      id,
      serviceId: String(r.service_id),
      environmentId: String(r.environment_id),
      s3Name: String(r.s3_name),
      accessKeyId: String(r.access_key_id),
      secretAccessKey: this.ctx.box.open(String(r.secret_access_key), bucketSecretAad(id)),
      public: Number(r.public) === 1,
      createdAt: String(r.created_at),
      updatedAt: String(r.updated_at),
    };
  }

  create(b: Omit<Bucket, 'id' | 'createdAt' | 'updatedAt'>): Bucket {
    const id = randomUUID();
    const ts = now();
    this.ctx.db
      .prepare(
        `INSERT INTO buckets (id, service_id, environment_id, s3_name, access_key_id, secret_access_key, public,
                              created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        b.serviceId,
        b.environmentId,
        b.s3Name,
        b.accessKeyId,
        this.ctx.box.seal(b.secretAccessKey, bucketSecretAad(id)),
        b.public ? 1 : 0,
        ts,
        ts,
      );
    return this.getById(id);
  }

  find(serviceId: string, environmentId: string): Bucket | null {
    const r = this.ctx.db
      .prepare('SELECT * FROM buckets WHERE service_id = ? AND environment_id = ?')
      .get(serviceId, environmentId) as Row | undefined;
    return r ? this.toBucket(r) : null;
  }

  findById(id: string): Bucket | null {
    const r = this.ctx.db.prepare('SELECT * FROM buckets WHERE id = ?').get(id) as Row | undefined;
    return r ? this.toBucket(r) : null;
  }

  getById(id: string): Bucket {
    const b = this.findById(id);
    if (!b) throw new NotFoundError(`Bucket ${id} does not exist.`);
    return b;
  }

  /** Whether an S3 name is taken on this server (names are unique across projects, like S3's). */
  s3NameTaken(s3Name: string): boolean {
    return this.ctx.db.prepare('SELECT 1 FROM buckets WHERE s3_name = ?').get(s3Name) !== undefined;
  }

  /** Every bucket on the server, oldest first: what the store serves. */
  list(): Bucket[] {
    return this.ctx.db
      .prepare('SELECT * FROM buckets ORDER BY created_at, rowid')
      .all()
      .map((r) => this.toBucket(r as Row));
  }

  ofEnvironment(environmentId: string): Bucket[] {
    return this.list().filter((b) => b.environmentId === environmentId);
  }

  ofService(serviceId: string): Bucket[] {
    return this.list().filter((b) => b.serviceId === serviceId);
  }

  count(): number {
    return Number((this.ctx.db.prepare('SELECT COUNT(*) AS n FROM buckets').get() as Row).n);
  }

  setPublic(id: string, on: boolean): void {
    this.ctx.db
      .prepare('UPDATE buckets SET public = ?, updated_at = ? WHERE id = ?')
      .run(on ? 1 : 0, now(), id);
  }

  setKeys(id: string, accessKeyId: string, secretAccessKey: string): void {
    this.ctx.db
      .prepare('UPDATE buckets SET access_key_id = ?, secret_access_key = ?, updated_at = ? WHERE id = ?')
      .run(accessKeyId, this.ctx.box.seal(secretAccessKey, bucketSecretAad(id)), now(), id);
  }

  delete(id: string): void {
    this.ctx.db.prepare('DELETE FROM buckets WHERE id = ?').run(id);
  }
}
