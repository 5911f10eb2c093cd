import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { parseSealed, type SecretBox } from './secret-box.js';

/**
 * The master key that seals variable values (see secret-box.ts). It never goes into the database:
 * it comes from BERTH_MASTER_KEY or `<dataDir>/master.key` (mode 0600, base64 text, one line).
 * A backup of state.db without the key is useless, and losing the key loses every sealed value.
 */

export const MASTER_KEY_ENV = 'BERTH_MASTER_KEY';
export const MASTER_KEY_FILE = 'master.key';
const KEY_BYTES = 32;
const KEY_CHECK_PLAINTEXT = 'berth-key-check';
const KEY_CHECK_AAD = 'key-check';

export class MasterKeyError extends UserError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { status: 500, code: 'master_key', cause: opts.cause });
    this.name = 'MasterKeyError';
  }
}

export function masterKeyPath(dataDir: string): string {
  return path.join(dataDir, MASTER_KEY_FILE);
}

/** The value of BERTH_MASTER_KEY, or null when it is unset or blank. */
export function masterKeyFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const value = env[MASTER_KEY_ENV]?.trim();
  return value ? value : null;
}

/** Parses a key written as 64 hex chars or as base64/base64url of 32 bytes; `where` names it in errors. */
export function parseMasterKey(text: string, where: string): Buffer {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const key = Buffer.from(value, /[+/=]/.test(value) ? 'base64' : 'base64url');
    // Round-trip so stray characters that Node's decoder would silently drop are rejected.
    if (
      key.length === KEY_BYTES &&
      key.toString('base64url') === value.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
    ) {
      return key;
    }
  }
  throw new MasterKeyError(
    `${where} is not a valid master key: expected 32 bytes as base64/base64url (44 chars, e.g. \`openssl rand -base64 32\`) or 64 hex chars.`,
  );
}

/** The text written to a key file. */
export function formatMasterKey(key: Buffer): string {
  return `${key.toString('base64')}\n`;
}

/**
 * Reads and parses a key file, refusing one that group or others can read. Returns null when the
 * file does not exist.
 */
export function readKeyFile(file: string): Buffer | null {
  let text: string;
  let stat: fs.Stats;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      stat = fs.fstatSync(fd);
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MasterKeyError(`Cannot read the master key file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!stat.isFile()) throw new MasterKeyError(`The master key file ${file} is not a regular file.`);
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new MasterKeyError(
      `The master key file ${file} is readable by other users (mode ${(stat.mode & 0o777).toString(8).padStart(3, '0')}); run \`chmod 600 ${file}\` and start again.`,
    );
  }
  return parseMasterKey(text, `The master key file ${file}`);
}

/**
 * Writes a key file with mode 0600 and flag 'wx' (never overwrites: throws EEXIST), then fsyncs the
 * file and its directory so the key is on disk before anything is sealed with it.
 */
export function writeKeyFile(file: string, key: Buffer): void {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // in case the umask took owner bits away
    fs.writeSync(fd, formatMasterKey(key));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDir(path.dirname(file));
}

/** Makes renames/creations in `dir` durable (no-op where directories cannot be fsynced). */
export function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Loads the master key: BERTH_MASTER_KEY (base64/base64url of 32 bytes, or 64 hex chars) wins; else
 * `<dataDir>/master.key` (must be 0600). With neither: a database without secrets gets a freshly
 * generated key file; a database holding sealed values is an error (generating a key would make
 * every value unreadable).
 */
export function loadMasterKey(
  dataDir: string,
  opts: { databaseHasSecrets: boolean },
): { key: Buffer; source: 'env' | 'file' | 'generated' } {
  const fromEnv = masterKeyFromEnv();
  if (fromEnv !== null) return { key: parseMasterKey(fromEnv, MASTER_KEY_ENV), source: 'env' };

  const file = masterKeyPath(dataDir);
  const existing = readKeyFile(file);
  if (existing) return { key: existing, source: 'file' };

  if (opts.databaseHasSecrets) {
    throw new MasterKeyError(
      `The master key is missing: ${file} does not exist and ${MASTER_KEY_ENV} is not set, but the database holds encrypted values; restore the key file (Berth never stores it in the database)`,
    );
  }

  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(KEY_BYTES);
  try {
    writeKeyFile(file, key);
  } catch (err) {
    // Another process created it between our read and write: use theirs, never overwrite.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = readKeyFile(file);
      if (theirs) return { key: theirs, source: 'file' };
    }
    throw new MasterKeyError(`Cannot write the master key file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { key, source: 'generated' };
}

/** The value the store keeps (meta key_check) to recognise its master key before touching anything. */
export function keyCheckValue(box: SecretBox): string {
  return box.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD);
}

/** True when `storedCheck` was made by keyCheckValue with this box's key. */
export function keyMatches(box: SecretBox, storedCheck: string): boolean {
  try {
    return box.open(storedCheck, KEY_CHECK_AAD) === KEY_CHECK_PLAINTEXT;
  } catch {
    return false;
  }
}

/**
 * Throws MasterKeyError unless `box` holds the key that made `storedCheck`. `dataDir` only makes the
 * message name the real key file path.
 */
export function verifyKey(box: SecretBox, storedCheck: string, dataDir?: string): void {
  if (keyMatches(box, storedCheck)) return;
  const file = dataDir === undefined ? `<data-dir>/${MASTER_KEY_FILE}` : masterKeyPath(dataDir);
  const expected = parseSealed(storedCheck)?.keyId;
  if (expected === undefined || expected === box.keyId) {
    // Same key id but the check does not open: the stored check itself is broken, not the key.
    throw new MasterKeyError(
      `The database's master key check (meta key_check) is damaged, so the master key (id ${box.keyId}) cannot be verified; restore state.db from a backup — nothing was changed.`,
    );
  }
  throw new MasterKeyError(
    `The master key does not match this database (key id ${box.keyId}, database expects ${expected}); start with the right ${file} or ${MASTER_KEY_ENV} — nothing was changed.`,
  );
}
