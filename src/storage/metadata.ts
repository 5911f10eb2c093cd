/**
 * The store's metadata in SQLite (WAL): objects, multipart uploads and parts, lifecycle and CORS rules,
 * buckets seen. Reads are immediate; writes go through GroupCommit (durable before they resolve).
 */
import Database from 'better-sqlite3';
import { GroupCommit } from './group-commit.js';
import {
  type ObjectRecord,
  type ObjectRow,
  type PartRecord,
  type PartRow,
  PREFIX_MATCH,
  prefixArgs,
  SCHEMA,
  SCHEMA_STEPS,
  type Segment,
  toObject,
  toPart,
  toUpload,
  type UploadRecord,
  type UploadRow,
} from './metadata-rows.js';

export type { ObjectRecord, PartRecord, Segment, StoredChecksum, UploadRecord } from './metadata-rows.js';

export class Metadata {
  private readonly db: Database.Database;
  private readonly commits: GroupCommit;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL: a commit does not fsync on the event loop; GroupCommit syncs the WAL itself before resolving.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.migrate();
    this.commits = new GroupCommit(this.db, `${file}-wal`);
  }

  close(): void {
    this.db.close();
    this.commits.close();
  }

  /** Applies the schema steps this database lacks, each with its version bump in one transaction. */
  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < SCHEMA_STEPS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(SCHEMA_STEPS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** Runs fn in the next group commit; resolves once it is durable. */
  write<T>(fn: () => T): Promise<T> {
    return this.commits.write(fn);
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once: preparing costs more than running most of these. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  // ------------------------------------------------------------------ buckets

  ensureBucket(name: string, now: number): void {
    this.stmt('INSERT OR IGNORE INTO buckets (name, created) VALUES (?, ?)').run(name, now);
  }

  bucketCreated(name: string): number | null {
    const r = this.stmt('SELECT created FROM buckets WHERE name = ?').get(name) as
      | { created: number }
      | undefined;
    return r?.created ?? null;
  }

  knownBuckets(): string[] {
    return (this.stmt('SELECT name FROM buckets').all() as Array<{ name: string }>).map((r) => r.name);
  }

  /** Forgets a bucket and everything in it (the daemon deleted it); its files are removed by the caller. */
  dropBucket(name: string): void {
    this.db.transaction(() => {
      this.stmt('DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)').run(
        name,
      );
      this.stmt('DELETE FROM uploads WHERE bucket = ?').run(name);
      this.stmt('DELETE FROM objects WHERE bucket = ?').run(name);
      this.stmt('DELETE FROM buckets WHERE name = ?').run(name);
    })();
  }

  lifecycle(bucket: string): string | null {
    const r = this.stmt('SELECT lifecycle FROM buckets WHERE name = ?').get(bucket) as
      | { lifecycle: string | null }
      | undefined;
    return r?.lifecycle ?? null;
  }

  setLifecycle(bucket: string, rules: string | null): void {
    this.stmt('UPDATE buckets SET lifecycle = ? WHERE name = ?').run(rules, bucket);
  }

  /** The bucket's CORS rules as stored (JSON), or null when it has none. */
  cors(bucket: string): string | null {
    const r = this.stmt('SELECT cors FROM buckets WHERE name = ?').get(bucket) as
      | { cors: string | null }
      | undefined;
    return r?.cors ?? null;
  }

  setCors(bucket: string, rules: string | null): void {
    this.stmt('UPDATE buckets SET cors = ? WHERE name = ?').run(rules, bucket);
  }

  // ------------------------------------------------------------------ objects

  getObject(bucket: string, key: string): ObjectRecord | null {
    const r = this.stmt('SELECT * FROM objects WHERE bucket = ? AND key = ?').get(bucket, key) as
      | ObjectRow
      | undefined;
    return r ? toObject(r) : null;
  }

  /** Inserts or replaces; returns the files of the object it replaced (to remove after the commit). */
  putObject(o: ObjectRecord): string[] {
    const old = this.stmt('SELECT segments FROM objects WHERE bucket = ? AND key = ?').get(o.bucket, o.key) as
      | { segments: string }
      | undefined;
    this.stmt(
      `INSERT OR REPLACE INTO objects (bucket, key, size, etag, last_modified, content_type, headers, meta, checksum,
         tags, inline, segments, parts_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      o.bucket,
      o.key,
      o.size,
      o.etag,
      o.lastModified,
      o.contentType,
      JSON.stringify(o.headers),
      JSON.stringify(o.meta),
      o.checksum ? JSON.stringify(o.checksum) : null,
      JSON.stringify(o.tags),
      o.inline,
      JSON.stringify(o.segments),
      o.partsCount,
    );
    return old ? (JSON.parse(old.segments) as Segment[]).map((s) => s.file) : [];
  }

  /** Returns the removed object's files, or null when there was none. */
  deleteObject(bucket: string, key: string): string[] | null {
    const old = this.stmt('DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING segments').get(
      bucket,
      key,
    ) as { segments: string } | undefined;
    return old ? (JSON.parse(old.segments) as Segment[]).map((s) => s.file) : null;
  }

  setTags(bucket: string, key: string, tags: Array<[string, string]>): boolean {
    return (
      this.stmt('UPDATE objects SET tags = ? WHERE bucket = ? AND key = ?').run(
        JSON.stringify(tags),
        bucket,
        key,
      ).changes > 0
    );
  }

  /** Keys in order after `after` (exclusive), from `from` (inclusive); rows lack data. */
  *iterateKeys(bucket: string, from: string, after: string | null): Generator<ObjectRecord> {
    const stmt = this.stmt(
      `SELECT bucket, key, size, etag, last_modified, content_type, '{}' AS headers, '{}' AS meta, checksum,
       '[]' AS tags, NULL AS inline, '[]' AS segments, parts_count FROM objects
       WHERE bucket = ? AND key >= ? AND (? IS NULL OR key > ?) ORDER BY key LIMIT 1000`,
    );
    let cursorFrom = from;
    let cursorAfter = after;
    for (;;) {
      const rows = stmt.all(bucket, cursorFrom, cursorAfter, cursorAfter) as ObjectRow[];
      for (const r of rows) yield toObject(r);
      if (rows.length < 1000) return;
      cursorAfter = rows[rows.length - 1].key;
      cursorFrom = '';
    }
  }

  /** (key, lastModified, files) of objects in a bucket under a prefix, for the lifecycle sweep. */
  objectsOlderThan(bucket: string, prefix: string, before: number, limit: number): Array<{ key: string }> {
    return this.stmt(
      `SELECT key FROM objects WHERE bucket = ? AND key >= ? AND ${PREFIX_MATCH} AND last_modified < ?
         ORDER BY key LIMIT ?`,
    ).all(bucket, prefix, ...prefixArgs(prefix), before, limit) as Array<{ key: string }>;
  }

  /** Every file some object or part names (start-up reconciliation). */
  referencedFiles(): Set<string> {
    const out = new Set<string>();
    for (const r of this.stmt("SELECT segments FROM objects WHERE segments != '[]'").iterate() as Iterable<{
      segments: string;
    }>) {
      for (const s of JSON.parse(r.segments) as Segment[]) out.add(s.file);
    }
    for (const r of this.stmt('SELECT file FROM parts').iterate() as Iterable<{ file: string }>)
      out.add(r.file);
    return out;
  }

  // ------------------------------------------------------------------ multipart

  createUpload(u: UploadRecord): void {
    this.stmt(
      `INSERT INTO uploads (upload_id, bucket, key, initiated, content_type, headers, meta, tags, checksum_algorithm,
         checksum_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      u.uploadId,
      u.bucket,
      u.key,
      u.initiated,
      u.contentType,
      JSON.stringify(u.headers),
      JSON.stringify(u.meta),
      JSON.stringify(u.tags),
      u.checksumAlgorithm,
      u.checksumType,
    );
  }

  getUpload(uploadId: string): UploadRecord | null {
    const r = this.stmt('SELECT * FROM uploads WHERE upload_id = ?').get(uploadId) as UploadRow | undefined;
    return r ? toUpload(r) : null;
  }

  listUploads(
    bucket: string,
    prefix: string,
    afterKey: string | null,
    afterId: string | null,
    limit: number,
  ): UploadRecord[] {
    return (
      this.stmt(
        `SELECT * FROM uploads WHERE bucket = ? AND ${PREFIX_MATCH}
           AND (? IS NULL OR key > ? OR (key = ? AND upload_id > ?)) ORDER BY key, upload_id LIMIT ?`,
      ).all(bucket, ...prefixArgs(prefix), afterKey, afterKey, afterKey, afterId ?? '', limit) as UploadRow[]
    ).map(toUpload);
  }

  uploadsInitiatedBefore(bucket: string, prefix: string, before: number): UploadRecord[] {
    return (
      this.stmt(`SELECT * FROM uploads WHERE bucket = ? AND ${PREFIX_MATCH} AND initiated < ?`).all(
        bucket,
        ...prefixArgs(prefix),
        before,
      ) as UploadRow[]
    ).map(toUpload);
  }

  /** Returns the file of the part it replaced, if any. */
  putPart(p: PartRecord): string | null {
    const old = this.stmt('SELECT file FROM parts WHERE upload_id = ? AND part_number = ?').get(
      p.uploadId,
      p.partNumber,
    ) as { file: string } | undefined;
    this.stmt(
      `INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, file, checksum, last_modified)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(p.uploadId, p.partNumber, p.size, p.etag, p.file, p.checksum, p.lastModified);
    return old?.file ?? null;
  }

  listParts(uploadId: string, afterPart: number, limit: number): PartRecord[] {
    return (
      this.stmt(
        'SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?',
      ).all(uploadId, afterPart, limit) as PartRow[]
    ).map(toPart);
  }

  /** Removes the upload and its parts' rows; the caller removes `parts/<uploadId>` after the commit. */
  deleteUpload(uploadId: string): boolean {
    this.stmt('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
    return this.stmt('DELETE FROM uploads WHERE upload_id = ?').run(uploadId).changes > 0;
  }

  /** Start-up check: rows whose file is missing (which the write order rules out) are dropped, loudly. */
  dropRowsWithMissingFiles(exists: (rel: string) => boolean): string[] {
    const dropped: string[] = [];
    for (const r of this.stmt(
      "SELECT bucket, key, segments FROM objects WHERE segments != '[]'",
    ).all() as Array<{
      bucket: string;
      key: string;
      segments: string;
    }>) {
      if ((JSON.parse(r.segments) as Segment[]).some((s) => !exists(s.file))) {
        this.stmt('DELETE FROM objects WHERE bucket = ? AND key = ?').run(r.bucket, r.key);
        dropped.push(`${r.bucket}/${r.key}`);
      }
    }
    for (const r of this.stmt('SELECT upload_id, part_number, file FROM parts').all() as PartRow[]) {
      if (!exists(r.file)) {
        this.stmt('DELETE FROM parts WHERE upload_id = ? AND part_number = ?').run(
          r.upload_id,
          r.part_number,
        );
        dropped.push(`upload ${r.upload_id} part ${r.part_number}`);
      }
    }
    return dropped;
  }
}
