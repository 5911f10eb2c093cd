import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import {
  fsyncDir,
  keyCheckValue,
  keyMatches,
  MASTER_KEY_ENV,
  MasterKeyError,
  masterKeyFromEnv,
  masterKeyPath,
  parseMasterKey,
  readKeyFile,
  verifyKey,
  writeKeyFile,
} from './master-key.js';
import { SecretBox } from './secret-box.js';

/**
 * Master key rotation. The key files and the database cannot change in one atomic step, so the
 * order makes every crash point recoverable by recoverInterruptedRotation():
 *   1. write <dataDir>/master.key.next (0600, fsynced)
 *   2. one DB transaction re-seals every value and sets meta key_check for the new key
 *   3. rename master.key → master.key.previous, master.key.next → master.key, fsync the dir
 * Crash before 2 commits: the DB still matches master.key, and master.key.next is deleted.
 * Crash after 2 commits: the DB matches master.key.next, and the renames are finished.
 */

export interface SealedColumn {
  table: string;
  idColumns: string[];
  column: string;
  /** builds the AAD from the row's id column values */
  aad: (row: Record<string, unknown>) => string;
}

const KEY_CHECK = 'key_check';

export function nextKeyPath(dataDir: string): string {
  return path.join(dataDir, 'master.key.next');
}

export function previousKeyPath(dataDir: string): string {
  return path.join(dataDir, 'master.key.previous');
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function readKeyCheck(db: Database.Database): string | null {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!hasMeta) return null;
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(KEY_CHECK) as
    | { value: string }
    | undefined;
  return row ? row.value : null;
}

function removeIfExists(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Step 3: master.key → master.key.previous (if present), master.key.next → master.key. */
function promoteNextKey(dataDir: string): void {
  const current = masterKeyPath(dataDir);
  if (fs.existsSync(current)) fs.renameSync(current, previousKeyPath(dataDir));
  fs.renameSync(nextKeyPath(dataDir), current);
  fsyncDir(dataDir);
}

/**
 * Re-seals every sealed value of `columns` under a new random key in ONE transaction and updates the
 * key check, then swaps the key files. Values that are not sealed (SecretBox.isSealed false) are left
 * alone. Any value that does not open with `current` aborts the whole rotation with nothing changed.
 * Returns the new box too, so a running store can switch to it without reloading the key.
 */
export function rotateMasterKey(
  db: Database.Database,
  dataDir: string,
  columns: SealedColumn[],
  current: SecretBox,
): { oldKeyId: string; newKeyId: string; values: number; box: SecretBox } {
  const keyFile = masterKeyPath(dataDir);
  if (masterKeyFromEnv() !== null) {
    throw new MasterKeyError(
      `The master key comes from ${MASTER_KEY_ENV}, so Berth cannot rotate it in place. To rotate: stop Berth; write the current key to ${keyFile} (\`chmod 600\`); unset ${MASTER_KEY_ENV} and rotate again; then put the new contents of ${keyFile} into ${MASTER_KEY_ENV} (and remove ${keyFile} and ${previousKeyPath(dataDir)} if keys must not live in the data dir).`,
    );
  }
  if (db.inTransaction) {
    throw new Error(
      'rotateMasterKey must not run inside a transaction: its commit must be final before the key files move.',
    );
  }

  // Nothing is touched unless the key in use is the database's key and the key file on disk.
  const storedCheck = readKeyCheck(db);
  if (storedCheck !== null) verifyKey(current, storedCheck, dataDir);
  const onDisk = readKeyFile(keyFile);
  if (onDisk && new SecretBox(onDisk).keyId !== current.keyId) {
    throw new MasterKeyError(
      `${keyFile} holds key id ${new SecretBox(onDisk).keyId} but the key in use is ${current.keyId}; restart Berth with the right key before rotating — nothing was changed.`,
    );
  }

  // 1. The new key is durable on disk before anything is sealed with it.
  const nextKey = crypto.randomBytes(32);
  const next = new SecretBox(nextKey);
  try {
    writeKeyFile(nextKeyPath(dataDir), nextKey);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new MasterKeyError(
        `${nextKeyPath(dataDir)} exists: another rotation is running or one was interrupted; restart Berth to finish or undo it, then rotate again — nothing was changed.`,
      );
    }
    throw err;
  } finally {
    nextKey.fill(0); // the box keeps its own copy
  }

  // 2. One transaction: every value re-sealed and the key check switched, or nothing.
  let values = 0;
  const secureDelete = db.pragma('secure_delete', { simple: true });
  try {
    // Zero the space of the old ciphertexts so the old key cannot read them from free pages.
    db.pragma('secure_delete = ON');
    // IMMEDIATE: take the write lock before reading, so no other writer slips in between.
    db.transaction(() => {
      const check = readKeyCheck(db);
      if (check !== null) verifyKey(current, check, dataDir);
      for (const col of columns) values += resealColumn(db, col, current, next);
      db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ).run(KEY_CHECK, keyCheckValue(next));
    }).immediate();
  } catch (err) {
    // Normally rolled back (then master.key.next goes); if a failed COMMIT did land, the same check
    // that runs on start promotes the new key instead. If even that fails, the start-up run decides.
    try {
      recoverInterruptedRotation(db, dataDir);
    } catch {
      /* left for recoverInterruptedRotation on the next start */
    }
    throw err;
  } finally {
    db.pragma(`secure_delete = ${Number(secureDelete) ? 'ON' : 'OFF'}`);
  }
  // Old ciphertexts may still sit in WAL frames; best effort (busy readers just delay it).
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    /* not fatal: the next checkpoint copies the same pages */
  }

  // 3. Swap the key files.
  promoteNextKey(dataDir);
  return { oldKeyId: current.keyId, newKeyId: next.keyId, values, box: next };
}

function resealColumn(db: Database.Database, col: SealedColumn, from: SecretBox, to: SecretBox): number {
  if (col.idColumns.length === 0)
    throw new Error(`Sealed column ${col.table}.${col.column} has no id columns.`);
  const table = quoteIdent(col.table);
  const column = quoteIdent(col.column);
  const ids = col.idColumns.map(quoteIdent);
  const rows = db
    .prepare(
      `SELECT ${[...ids, column].join(', ')} FROM ${table} WHERE typeof(${column}) = 'text' AND substr(${column}, 1, 7) = 'enc:v1:'`,
    )
    .all() as Record<string, unknown>[];
  const update = db.prepare(
    `UPDATE ${table} SET ${column} = ? WHERE ${ids.map((id) => `${id} IS ?`).join(' AND ')}`,
  );
  let count = 0;
  for (const row of rows) {
    const value = row[col.column];
    if (typeof value !== 'string' || !SecretBox.isSealed(value)) continue;
    const aad = col.aad(row);
    let plaintext: string;
    try {
      plaintext = from.open(value, aad);
    } catch (err) {
      const where = col.idColumns.map((id) => `${id}=${String(row[id])}`).join(', ');
      throw new MasterKeyError(
        `Cannot rotate the master key: ${col.table}.${col.column} (${where}) does not open with the current key: ${(err as Error).message} Nothing was changed.`,
        { cause: err },
      );
    }
    update.run(to.seal(plaintext, aad), ...col.idColumns.map((id) => row[id]));
    count++;
  }
  return count;
}

/**
 * Finishes or undoes a rotation that a crash interrupted. Call on start, after the database is open
 * and BEFORE loadMasterKey (a crash between the two renames leaves no master.key) and verifyKey.
 * master.key.next is promoted when the DB key check matches it (step 2 committed), else deleted:
 * without a matching check the transaction never committed, so nothing is sealed with it.
 */
export function recoverInterruptedRotation(db: Database.Database, dataDir: string): void {
  const nextFile = nextKeyPath(dataDir);
  if (!fs.existsSync(nextFile)) return;

  let text: string;
  try {
    text = fs.readFileSync(nextFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    // Never delete what might be the only copy of the key in use.
    throw new MasterKeyError(
      `Cannot read ${nextFile} to finish an interrupted key rotation: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let nextBox: SecretBox | null;
  try {
    nextBox = new SecretBox(parseMasterKey(text, nextFile));
  } catch {
    // Half-written: step 1 fsyncs it before step 2 begins, so nothing was sealed with it.
    nextBox = null;
  }
  const storedCheck = readKeyCheck(db);
  if (nextBox && storedCheck !== null && keyMatches(nextBox, storedCheck)) {
    promoteNextKey(dataDir);
    return;
  }
  removeIfExists(nextFile);
  fsyncDir(dataDir);
}
