/**
 * Static file serving for routes of kind 'static': GET/HEAD only, streams files, ETag/Last-Modified with 304,
 * `/dir/` → index.html, a single-page app's fallback file for client routes, else `404.html`. A file is served only when its real path is inside the deployment's
 * own `app/` directory: neither `..` nor a symlink the build made (of a file, a directory, or the root itself)
 * reaches anything else.
 */

import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { noteBodyBytes, sendPage, simplePage, staticNotFoundPage } from './pages.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.rss': 'application/rss+xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.bmp': 'image/bmp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.eot': 'application/vnd.ms-fontobject',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
};

export function contentTypeFor(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Where served files must really be, per `app/` directory: its parent resolved (Berth made it, and the data dir
 * may legitimately sit behind a symlink), its own name not: an `app` or root that the build turned into a
 * symlink resolves elsewhere, so nothing under it is served.
 */
const realAnchors = new Map<string, string>();

async function realAnchor(appDir: string): Promise<string> {
  let r = realAnchors.get(appDir);
  if (r === undefined) {
    r = path.join(await fs.promises.realpath(path.dirname(appDir)), path.basename(appDir));
    if (realAnchors.size > 1000) realAnchors.clear();
    realAnchors.set(appDir, r);
  }
  return r;
}

/** `p`'s real path when it is inside `anchor` (see realAnchor); null when not, or when it cannot be resolved. */
async function realPathWithin(anchor: string, p: string): Promise<string | null> {
  try {
    const real = await fs.promises.realpath(p);
    return within(await realAnchor(anchor), real) ? real : null;
  } catch {
    return null;
  }
}

function within(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

async function statFile(p: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.stat(p);
  } catch {
    return null;
  }
}

/**
 * Resolves a file under root for a URL path, or null. Directories resolve to their index.html; one asked for
 * without its trailing slash is a redirect to its canonical path (`location`, percent-encoded).
 */
async function resolveFile(
  root: string,
  anchor: string,
  urlPath: string,
): Promise<FoundFile | { location: string } | null> {
  const resolved = path.resolve(root, `.${urlPath}`);
  if (!within(root, resolved)) return null;
  let file = resolved;
  let st = await statFile(file);
  if (st?.isDirectory()) {
    // A redirect names the directory, so it must really be inside; its index.html is checked below anyway.
    if (!urlPath.endsWith('/')) {
      return (await realPathWithin(anchor, resolved)) !== null
        ? { location: canonicalDirectory(root, resolved) }
        : null;
    }
    file = path.join(resolved, 'index.html');
    st = await statFile(file);
  } else if (st === null && path.extname(resolved) === '' && !urlPath.endsWith('/')) {
    // Clean URLs as emitted by most static site generators: /about → about.html
    file = `${resolved}.html`;
    st = await statFile(file);
  }
  if (st === null || !st.isFile()) return null;
  // The read opens the real path that was checked, not the name again: links changed after the check are not
  // followed (a real directory on that path replaced by a link still would be; nothing but the build writes app/).
  const real = await realPathWithin(anchor, file);
  return real === null ? null : { file, real, stat: st };
}

/**
 * The path of a directory under root, with its trailing slash, each segment percent-encoded: never `//x` or
 * `/\x`, which browsers follow to another host (`/\evil.example/..` used to redirect to `/\evil.example/../`).
 */
function canonicalDirectory(root: string, dir: string): string {
  const rel = path.relative(root, dir);
  return rel === '' ? '/' : `/${rel.split(path.sep).map(encodeURIComponent).join('/')}/`;
}

function etagOf(st: fs.Stats): string {
  return `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
}

function notModified(req: IncomingMessage, etag: string, mtimeMs: number): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    const bare = etag.slice(2);
    return inm.split(',').some((t) => {
      const tag = t.trim();
      return tag === etag || tag === bare || tag === `W/${bare}`;
    });
  }
  const ims = req.headers['if-modified-since'];
  if (ims !== undefined) {
    const t = Date.parse(ims);
    if (!Number.isNaN(t)) return Math.floor(mtimeMs / 1000) * 1000 <= t;
  }
  return false;
}

/** A file resolveFile found: the name asked for (its type), the real path checked (what is opened), its stat. */
interface FoundFile {
  file: string;
  real: string;
  stat: fs.Stats;
}

function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  { file, real, stat: st }: FoundFile,
  status: number,
  conditional: boolean,
): void {
  const etag = etagOf(st);
  const headers: Record<string, string> = {
    'content-type': contentTypeFor(file),
    etag,
    'last-modified': st.mtime.toUTCString(),
    'cache-control': 'public, max-age=0, must-revalidate',
  };
  if (conditional && notModified(req, etag, st.mtimeMs)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['content-length'] = String(st.size);
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || st.size === 0) {
    res.end();
    return;
  }
  noteBodyBytes(res, st.size);
  pipeline(fs.createReadStream(real), res, () => {
    /* errors (client gone, file vanished) just end the response; pipeline destroys both sides */
  });
}

/**
 * A path the single-page app's router handles: its last segment has no extension (`/dashboard/settings`), or
 * the client asks for HTML (a browser navigating to `/u/jane.doe`). A missing asset (`/assets/x.js`, fetched
 * with `Accept: *\/*`) is not one: it gets a 404, never HTML a script tag would choke on.
 */
function isClientRoute(req: IncomingMessage, urlPath: string): boolean {
  const last = urlPath.slice(urlPath.lastIndexOf('/') + 1);
  if (path.extname(last) === '') return true;
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/html');
}

/**
 * Serves req from root (an absolute directory) with files really inside appDir (the deployment's `app/`, which
 * holds root; root itself when unknown). Never throws; always answers.
 */
export async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  appDir: string = root,
  spaFallback?: string,
): Promise<void> {
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendPage(res, 405, simplePage(405, 'Method not allowed', 'This is a static site.'), {
        allow: 'GET, HEAD',
      });
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let rawPath = q === -1 ? url : url.slice(0, q);
    if (!rawPath.startsWith('/')) {
      // absolute-form request target (http://host/path)
      try {
        rawPath = new URL(rawPath).pathname;
      } catch {
        sendPage(res, 400, simplePage(400, 'Bad request', 'Malformed request path.'));
        return;
      }
    }
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(rawPath);
    } catch {
      sendPage(res, 400, simplePage(400, 'Bad request', 'Malformed request path.'));
      return;
    }
    if (urlPath.includes('\0')) {
      sendPage(res, 400, simplePage(400, 'Bad request', 'Malformed request path.'));
      return;
    }
    const found = await resolveFile(root, appDir, urlPath);
    if (found !== null && 'location' in found) {
      const location = `${found.location}${q === -1 ? '' : url.slice(q)}`;
      res.writeHead(301, { location, 'content-length': '0' });
      res.end();
      return;
    }
    if (found !== null) {
      sendFile(req, res, found, 200, true);
      return;
    }
    if (spaFallback !== undefined && isClientRoute(req, urlPath)) {
      const page = await resolveFile(root, appDir, `/${spaFallback}`);
      if (page !== null && !('location' in page)) {
        sendFile(req, res, page, 200, true);
        return;
      }
    }
    const fallback = await resolveFile(root, appDir, '/404.html');
    if (fallback !== null && !('location' in fallback)) {
      sendFile(req, res, fallback, 404, false);
      return;
    }
    sendPage(res, 404, staticNotFoundPage(urlPath));
  } catch {
    if (!res.headersSent) sendPage(res, 500, simplePage(500, 'Internal error', 'Could not read the file.'));
    else res.destroy();
  }
}
