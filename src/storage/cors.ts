/**
 * A bucket's CORS rules (S3's CORSConfiguration): parsed and validated, rendered back, and matched against a
 * browser's request (first matching rule wins), with the headers the match answers. Pure.
 */
import { S3Error } from './errors.js';
import { list, text, type XmlObject } from './xml.js';

export interface CorsRule {
  id: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds: number | null;
}

export const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];
const MAX_RULES = 100;
export const MAX_CORS_DOCUMENT = 64 * 1024;

function strings(node: unknown, name: string): string[] {
  return list(node, name).map((v) => (typeof v === 'string' || typeof v === 'number' ? String(v) : ''));
}

function oneWildcard(value: string, element: string): void {
  if (value.split('*').length > 2) {
    throw new S3Error('InvalidRequest', `${element} "${value}" can not have more than one wildcard.`);
  }
}

/** The rules of a CORSConfiguration document (its root element's children), or S3's error for the first fault. */
export function parseCors(doc: Record<string, unknown>): CorsRule[] {
  const rules = list(doc, 'CORSRule');
  if (rules.length === 0) {
    throw new S3Error('MalformedXML', 'A CORS configuration needs at least one <CORSRule>.');
  }
  if (rules.length > MAX_RULES) {
    throw new S3Error('MalformedXML', `A CORS configuration has at most ${MAX_RULES} rules.`);
  }
  return rules.map((node, i) => {
    const allowedOrigins = strings(node, 'AllowedOrigin');
    const allowedMethods = strings(node, 'AllowedMethod');
    if (allowedOrigins.length === 0 || allowedMethods.length === 0) {
      throw new S3Error(
        'MalformedXML',
        `CORS rule ${i + 1} needs at least one <AllowedOrigin> and one <AllowedMethod>.`,
      );
    }
    for (const m of allowedMethods) {
      if (!CORS_METHODS.includes(m)) {
        throw new S3Error(
          'InvalidRequest',
          `Found unsupported HTTP method in CORS config. Unsupported method is ${m} (use GET, PUT, POST, DELETE or HEAD).`,
        );
      }
    }
    for (const o of allowedOrigins) {
      if (o === '') throw new S3Error('MalformedXML', `CORS rule ${i + 1} has an empty <AllowedOrigin>.`);
      oneWildcard(o, 'AllowedOrigin');
    }
    const allowedHeaders = strings(node, 'AllowedHeader');
    for (const h of allowedHeaders) oneWildcard(h, 'AllowedHeader');
    const exposeHeaders = strings(node, 'ExposeHeader');
    for (const h of exposeHeaders) {
      if (h.includes('*')) {
        throw new S3Error(
          'InvalidRequest',
          `ExposeHeader "${h}" contains wildcard. We currently do not support wildcard for ExposeHeader.`,
        );
      }
    }
    const id = text(node, 'ID');
    if (id.length > 255) {
      throw new S3Error('InvalidArgument', `CORS rule ${i + 1}'s ID is longer than 255 characters.`);
    }
    const maxAge = text(node, 'MaxAgeSeconds');
    let maxAgeSeconds: number | null = null;
    if (maxAge !== '') {
      maxAgeSeconds = Number(maxAge);
      if (!/^\d+$/.test(maxAge) || !Number.isSafeInteger(maxAgeSeconds)) {
        throw new S3Error(
          'MalformedXML',
          `CORS rule ${i + 1}'s MaxAgeSeconds must be a whole number of seconds.`,
        );
      }
    }
    return { id, allowedOrigins, allowedMethods, allowedHeaders, exposeHeaders, maxAgeSeconds };
  });
}

export function corsXml(rules: CorsRule[]): XmlObject {
  return {
    CORSRule: rules.map((r) => ({
      ID: r.id === '' ? undefined : r.id,
      AllowedHeader: r.allowedHeaders,
      AllowedMethod: r.allowedMethods,
      AllowedOrigin: r.allowedOrigins,
      ExposeHeader: r.exposeHeaders,
      MaxAgeSeconds: r.maxAgeSeconds ?? undefined,
    })),
  };
}

/** `pattern` with at most one `*` (any run of characters, empty included) against `value`. */
export function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

export interface CorsAsk {
  origin: string;
  /** The actual request's method, or a preflight's Access-Control-Request-Method. */
  method: string;
  /** A preflight's Access-Control-Request-Headers (lower-cased); [] for actual requests. */
  headers: string[];
}

/** S3's order: the first rule whose origin, method and every requested header match. */
export function matchCors(rules: CorsRule[], ask: CorsAsk): CorsRule | null {
  for (const r of rules) {
    if (!r.allowedOrigins.some((o) => wildcardMatch(o, ask.origin))) continue;
    if (!r.allowedMethods.includes(ask.method)) continue;
    const allowed = r.allowedHeaders.map((h) => h.toLowerCase());
    if (!ask.headers.every((h) => allowed.some((a) => wildcardMatch(a, h)))) continue;
    return r;
  }
  return null;
}

/** Access-Control-Request-Headers as a list of lower-cased names. */
export function requestedHeaders(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}

/** What a browser caching either answer must key on. */
export const CORS_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

/**
 * The headers a matching rule answers: `*` for a rule allowing any origin (and then no credentials), else the
 * origin itself with credentials allowed, as S3 does. A preflight also gets the headers it asked for.
 */
export function corsHeaders(rule: CorsRule, ask: CorsAsk, preflight: boolean): Record<string, string> {
  const anyOrigin = !rule.allowedOrigins.some((o) => o !== '*' && wildcardMatch(o, ask.origin));
  const out: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : ask.origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
  };
  if (!anyOrigin) out['access-control-allow-credentials'] = 'true';
  if (preflight && ask.headers.length > 0) out['access-control-allow-headers'] = ask.headers.join(', ');
  if (rule.exposeHeaders.length > 0) out['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== null) out['access-control-max-age'] = String(rule.maxAgeSeconds);
  out.vary = CORS_VARY;
  return out;
}
