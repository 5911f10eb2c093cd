/**
 * The certificates HAProxy's HTTPS listener serves: the same `<edge-state>/certs/<hostname>.pem` files the
 * built-in edge reads (key + chain in one PEM, written by the daemon before every apply). Each file is
 * checked the way the built-in edge loads it, because one unreadable file in a crt-list would make HAProxy
 * refuse the whole configuration; such a file is skipped and reported instead.
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { CertFile } from './plan.js';

export interface CertScan {
  certs: CertFile[];
  /** One line per skipped file. */
  problems: string[];
}

export function scanCertificates(dir: string): CertScan {
  const certs: CertFile[] = [];
  const problems: string[] = [];
  let names: string[] = [];
  try {
    names = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.pem'))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${dir}: ${(err as Error).message}`);
  }
  for (const n of names) {
    const file = path.join(dir, n);
    const name = n.slice(0, -4).toLowerCase();
    // crt-list lines are split on spaces; a name HAProxy could misread is no host name anyway.
    if (!/^(\*\.)?[a-z0-9.-]+$/.test(name) || /\s/.test(file)) {
      problems.push(`${file}: not a host name`);
      continue;
    }
    try {
      const pem = fs.readFileSync(file);
      tls.createSecureContext({ key: pem, cert: pem });
      certs.push({ name, file, hash: createHash('sha256').update(pem).digest('hex').slice(0, 16) });
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { certs, problems };
}

/** crt-list content: one certificate per line, served only for its own SNI name (as the built-in edge does). */
export function renderCrtList(certs: CertFile[]): string {
  return certs.map((c) => `${c.file} ${c.name}\n`).join('');
}
