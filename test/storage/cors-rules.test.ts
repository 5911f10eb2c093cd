/**
 * The pure side of bucket CORS: parsing a CORSConfiguration, S3's matching (first rule wins, one wildcard), the
 * headers a match answers; and the schema step that gives a database from before CORS its column.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CorsRule,
  corsHeaders,
  matchCors,
  parseCors,
  requestedHeaders,
  wildcardMatch,
} from '../../src/storage/cors.js';
import { Metadata } from '../../src/storage/metadata.js';
import { parseXmlBody } from '../../src/storage/xml.js';
import { makeTmpDir } from '../helpers/tmp.js';

const rule = (r: Partial<CorsRule>): CorsRule => ({
  id: '',
  allowedOrigins: ['*'],
  allowedMethods: ['GET'],
  allowedHeaders: [],
  exposeHeaders: [],
  maxAgeSeconds: null,
  ...r,
});

describe('CORS rules', () => {
  it('wildcards: one `*` matches any run of characters, empty included; case matters for origins', () => {
    expect(wildcardMatch('https://*.example.com', 'https://a.example.com')).toBe(true);
    expect(wildcardMatch('https://*.example.com', 'https://a.b.example.com')).toBe(true);
    expect(wildcardMatch('https://*.example.com', 'https://example.com')).toBe(false);
    expect(wildcardMatch('https://*.example.com', 'https://a.example.com.evil.net')).toBe(false);
    expect(wildcardMatch('https://*.example.com', 'https://Example.com')).toBe(false);
    expect(wildcardMatch('https://ab*ba', 'https://aba')).toBe(false);
    expect(wildcardMatch('x-amz-*', 'x-amz-')).toBe(true);
    expect(wildcardMatch('*', '')).toBe(true);
    expect(wildcardMatch('https://app.example.com', 'https://app.example.com')).toBe(true);
  });

  it('the first rule whose origin, method and every requested header match answers', () => {
    const rules = [
      rule({ id: 'a', allowedOrigins: ['https://a.test'], allowedMethods: ['GET'] }),
      rule({
        id: 'b',
        allowedOrigins: ['https://a.test'],
        allowedMethods: ['PUT'],
        allowedHeaders: ['Content-Type'],
      }),
      rule({ id: 'c', allowedOrigins: ['*'], allowedMethods: ['PUT'], allowedHeaders: ['*'] }),
    ];
    const ask = (origin: string, method: string, headers: string[] = []) =>
      matchCors(rules, { origin, method, headers })?.id ?? null;
    expect(ask('https://a.test', 'GET')).toBe('a');
    expect(ask('https://a.test', 'PUT', ['content-type'])).toBe('b');
    expect(ask('https://a.test', 'PUT', ['content-type', 'x-amz-meta-a'])).toBe('c');
    expect(ask('https://b.test', 'GET')).toBeNull();
    expect(ask('https://b.test', 'DELETE')).toBeNull();
  });

  it('Access-Control-Request-Headers splits on commas, trimmed and lower-cased', () => {
    expect(requestedHeaders(' Content-Type ,X-Amz-Date,, ')).toEqual(['content-type', 'x-amz-date']);
    expect(requestedHeaders(undefined)).toEqual([]);
  });

  it('a match answers the origin with credentials, or `*` without them when only `*` matched', () => {
    const r = rule({
      allowedOrigins: ['https://app.test', '*'],
      allowedMethods: ['PUT', 'GET'],
      exposeHeaders: ['ETag', 'x-amz-version-id'],
      maxAgeSeconds: 60,
    });
    expect(
      corsHeaders(r, { origin: 'https://app.test', method: 'PUT', headers: ['content-type'] }, true),
    ).toEqual({
      'access-control-allow-origin': 'https://app.test',
      'access-control-allow-methods': 'PUT, GET',
      'access-control-allow-credentials': 'true',
      'access-control-allow-headers': 'content-type',
      'access-control-expose-headers': 'ETag, x-amz-version-id',
      'access-control-max-age': '60',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    });
    expect(corsHeaders(r, { origin: 'https://other.test', method: 'GET', headers: [] }, false)).toEqual({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'PUT, GET',
      'access-control-expose-headers': 'ETag, x-amz-version-id',
      'access-control-max-age': '60',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    });
  });

  it('parses S3’s document, one element or many', () => {
    const doc = parseXmlBody(
      Buffer.from(
        `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><ID>up</ID>
         <AllowedOrigin>https://a.test</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod>
         <AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>
         <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`,
      ),
      'CORSConfiguration',
    );
    expect(parseCors(doc)).toEqual([
      rule({
        id: 'up',
        allowedOrigins: ['https://a.test'],
        allowedMethods: ['PUT', 'POST'],
        allowedHeaders: ['*'],
        exposeHeaders: ['ETag'],
        maxAgeSeconds: 3000,
      }),
      rule({}),
    ]);
    expect(() =>
      parseCors({ CORSRule: { AllowedOrigin: '*', AllowedMethod: 'GET', MaxAgeSeconds: '1.5' } }),
    ).toThrow('MaxAgeSeconds');
  });
});

describe('metadata schema steps', () => {
  const { dir, cleanup } = makeTmpDir('berth-meta-');
  afterAll(cleanup);

  it('a database from before CORS gains the column and keeps its rows; reopening applies nothing twice', () => {
    const file = path.join(dir, 'metadata.db');
    const old = new Database(file);
    old.exec('CREATE TABLE buckets (name TEXT PRIMARY KEY, created INTEGER NOT NULL, lifecycle TEXT)');
    old.prepare('INSERT INTO buckets VALUES (?, ?, ?)').run('b-1', 5, '[]');
    old.close();
    const meta = new Metadata(file);
    expect(meta.bucketCreated('b-1')).toBe(5);
    expect(meta.cors('b-1')).toBeNull();
    meta.setCors('b-1', '[{"id":"x"}]');
    meta.close();
    const again = new Metadata(file);
    expect(again.cors('b-1')).toBe('[{"id":"x"}]');
    expect(again.lifecycle('b-1')).toBe('[]');
    again.close();
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.close();
  });
});
