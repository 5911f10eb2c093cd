/** The metadata's records (what the store works with) and their SQLite rows, schema and conversions. */
import type { ChecksumAlgorithm, ChecksumType } from './checksums.js';

export interface Segment {
  /** Relative to the data dir. */
  file: string;
  size: number;
}

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64; a composite multipart checksum ends in `-N`. */
  value: string;
  type: ChecksumType;
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
  lastModified: number;
  contentType: string;
  /** cache-control, content-disposition, content-encoding, content-language, expires. */
  headers: Record<string, string>;
  /** x-amz-meta-* without the prefix. */
  meta: Record<string, string>;
  checksum: StoredChecksum | null;
  tags: Array<[string, string]>;
  /** The data: inline bytes, or files read in order. */
  inline: Buffer | null;
  segments: Segment[];
  partsCount: number;
}

export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: number;
  contentType: string;
  headers: Record<string, string>;
  meta: Record<string, string>;
  tags: Array<[string, string]>;
  checksumAlgorithm: ChecksumAlgorithm | null;
  checksumType: ChecksumType | null;
}

export interface PartRecord {
  uploadId: string;
  partNumber: number;
  size: number;
  etag: string;
  file: string;
  /** base64 of the part's checksum in the upload's algorithm. */
  checksum: string | null;
  lastModified: number;
}

export interface ObjectRow {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  last_modified: number;
  content_type: string;
  headers: string;
  meta: string;
  checksum: string | null;
  tags: string;
  inline: Buffer | null;
  segments: string;
  parts_count: number;
}

export interface UploadRow {
  upload_id: string;
  bucket: string;
  key: string;
  initiated: number;
  content_type: string;
  headers: string;
  meta: string;
  tags: string;
  checksum_algorithm: string | null;
  checksum_type: string | null;
}

export interface PartRow {
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  file: string;
  checksum: string | null;
  last_modified: number;
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created INTEGER NOT NULL, lifecycle TEXT);
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL, content_type TEXT NOT NULL, headers TEXT NOT NULL, meta TEXT NOT NULL,
  checksum TEXT, tags TEXT NOT NULL, inline BLOB, segments TEXT NOT NULL, parts_count INTEGER NOT NULL,
  PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, initiated INTEGER NOT NULL,
  content_type TEXT NOT NULL, headers TEXT NOT NULL, meta TEXT NOT NULL, tags TEXT NOT NULL,
  checksum_algorithm TEXT, checksum_type TEXT);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  file TEXT NOT NULL, checksum TEXT, last_modified INTEGER NOT NULL,
  PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
`;

/**
 * Changes to a database made by an earlier version, in order; PRAGMA user_version counts those applied. SCHEMA
 * (idempotent) is the first version's tables, so a database from before versioning starts at 0 like a new one.
 */
export const SCHEMA_STEPS: readonly string[] = [
  // 1: bucket CORS rules (JSON), beside the lifecycle rules.
  'ALTER TABLE buckets ADD COLUMN cors TEXT',
];

/** Keys are compared as UTF-8 bytes (S3's order), so a prefix is matched on bytes too. */
export const PREFIX_MATCH = 'substr(CAST(key AS BLOB), 1, ?) = ?';
export function prefixArgs(prefix: string): [number, Buffer] {
  const b = Buffer.from(prefix, 'utf8');
  return [b.length, b];
}

export function toObject(r: ObjectRow): ObjectRecord {
  return {
    bucket: r.bucket,
    key: r.key,
    size: r.size,
    etag: r.etag,
    lastModified: r.last_modified,
    contentType: r.content_type,
    headers: JSON.parse(r.headers),
    meta: JSON.parse(r.meta),
    checksum: r.checksum ? JSON.parse(r.checksum) : null,
    tags: JSON.parse(r.tags),
    inline: r.inline,
    segments: JSON.parse(r.segments),
    partsCount: r.parts_count,
  };
}

export function toUpload(r: UploadRow): UploadRecord {
  return {
    uploadId: r.upload_id,
    bucket: r.bucket,
    key: r.key,
    initiated: r.initiated,
    contentType: r.content_type,
    headers: JSON.parse(r.headers),
    meta: JSON.parse(r.meta),
    tags: JSON.parse(r.tags),
    checksumAlgorithm: r.checksum_algorithm as ChecksumAlgorithm | null,
    checksumType: r.checksum_type as ChecksumType | null,
  };
}

export function toPart(r: PartRow): PartRecord {
  return {
    uploadId: r.upload_id,
    partNumber: r.part_number,
    size: r.size,
    etag: r.etag,
    file: r.file,
    checksum: r.checksum,
    lastModified: r.last_modified,
  };
}
