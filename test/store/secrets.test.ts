import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import {
  keyCheckValue,
  loadMasterKey,
  MasterKeyError,
  masterKeyPath,
  verifyKey,
  writeKeyFile,
} from '../../src/store/master-key.js';
import {
  nextKeyPath,
  previousKeyPath,
  recoverInterruptedRotation,
  rotateMasterKey,
  type SealedColumn,
} from '../../src/store/rotate-key.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { makeTmpDir } from '../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tmpDir(): string {
  const { dir, cleanup } = makeTmpDir('berth-secrets-');
  cleanups.push(cleanup);
  return dir;
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

/** No key from the environment unless a test sets one. */
function noEnvKey(): void {
  vi.stubEnv('BERTH_MASTER_KEY', '');
}

function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

const key32 = () => crypto.randomBytes(32);

describe('SecretBox', () => {
  it('round-trips text, including empty and non-ASCII strings', () => {
    const box = new SecretBox(key32());
    for (const text of ['postgres://u:p@h/db', '', 'ünïcødé 🔑', 'x'.repeat(10_000)]) {
      const sealed = box.seal(text, 'variables/s/e/N');
      expect(SecretBox.isSealed(sealed)).toBe(true);
      expect(sealed).toMatch(/^enc:v1:[0-9a-f]{16}:[\w-]{16}:[\w-]{22}:[\w-]*$/);
      expect(sealed).not.toContain(text || '\u0000');
      expect(box.open(sealed, 'variables/s/e/N')).toBe(text);
    }
    expect(box.open(box.seal('no aad'))).toBe('no aad');
  });

  it('derives the key id from the key: sha256("berth-key-id:" + key), 16 hex chars', () => {
    const key = key32();
    const expected = crypto
      .createHash('sha256')
      .update(Buffer.concat([Buffer.from('berth-key-id:'), key]))
      .digest('hex')
      .slice(0, 16);
    expect(new SecretBox(key).keyId).toBe(expected);
    expect(new SecretBox(Buffer.from(key)).keyId).toBe(expected);
    expect(new SecretBox(key32()).keyId).not.toBe(expected);
    expect(new SecretBox(key).seal('v').split(':')[2]).toBe(expected);
  });

  it('uses a fresh IV each time, so equal plaintexts give different ciphertexts', () => {
    const box = new SecretBox(key32());
    const a = box.seal('same secret', 'row');
    const b = box.seal('same secret', 'row');
    expect(a).not.toBe(b);
    expect(a.split(':')[3]).not.toBe(b.split(':')[3]);
    expect(box.open(a, 'row')).toBe('same secret');
    expect(box.open(b, 'row')).toBe('same secret');
  });

  it('binds a value to its row: a different AAD does not open it', () => {
    const box = new SecretBox(key32());
    const sealed = box.seal('secret', 'variables/svc1/env1/DATABASE_URL');
    expect(() => box.open(sealed, 'variables/svc2/env1/DATABASE_URL')).toThrow(/damaged or tampered/);
    expect(() => box.open(sealed)).toThrow(/damaged or tampered/);
    const noAad = box.seal('secret');
    expect(() => box.open(noAad, 'variables/svc1/env1/DATABASE_URL')).toThrow(/damaged or tampered/);
  });

  it('detects tampering with the ciphertext, tag or IV', () => {
    const box = new SecretBox(key32());
    const sealed = box.seal('a secret value', 'aad');
    const parts = sealed.split(':');
    const flip = (b64: string) => {
      const buf = Buffer.from(b64, 'base64url');
      buf[0] ^= 0x01;
      return buf.toString('base64url');
    };
    for (const index of [3, 4, 5]) {
      const altered = [...parts];
      altered[index] = flip(altered[index]);
      expect(() => box.open(altered.join(':'), 'aad')).toThrow(/damaged or tampered/);
    }
    // Truncated ciphertext and mangled structure are refused too.
    expect(() => box.open(sealed.slice(0, -2), 'aad')).toThrow(/damaged or tampered/);
    expect(() => box.open(`${sealed}:extra`, 'aad')).toThrow(/damaged or tampered/);
    expect(() => box.open('enc:v1:garbage', 'aad')).toThrow(/damaged or tampered/);
    expect(() => box.open('plain text', 'aad')).toThrow(/not an encrypted value/);
  });

  it('names a value sealed under another key as such, with that key id', () => {
    const a = new SecretBox(key32());
    const b = new SecretBox(key32());
    const sealed = a.seal('secret', 'row');
    expect(() => b.open(sealed, 'row')).toThrow(`encrypted with a different master key (id ${a.keyId})`);
  });

  it('recognises sealed strings and rejects keys of the wrong size', () => {
    expect(SecretBox.isSealed('enc:v1:0123456789abcdef:a:b:c')).toBe(true);
    expect(SecretBox.isSealed('hunter2')).toBe(false);
    expect(SecretBox.isSealed('{"A":"1"}')).toBe(false);
    expect(() => new SecretBox(crypto.randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('loadMasterKey', () => {
  it('takes BERTH_MASTER_KEY as hex, base64 or base64url, and it wins over the key file', () => {
    const dir = tmpDir();
    const key = key32();
    writeKeyFile(masterKeyPath(dir), key32()); // a different key in the file: the env must win
    for (const text of [
      key.toString('hex'),
      key.toString('hex').toUpperCase(),
      key.toString('base64'),
      key.toString('base64url'),
      ` ${key.toString('base64')}\n`,
    ]) {
      vi.stubEnv('BERTH_MASTER_KEY', text);
      const loaded = loadMasterKey(dir, { databaseHasSecrets: true });
      expect(loaded.source).toBe('env');
      expect(loaded.key.equals(key)).toBe(true);
    }
  });

  it('rejects a malformed BERTH_MASTER_KEY clearly', () => {
    const dir = tmpDir();
    for (const bad of ['too-short', crypto.randomBytes(16).toString('base64'), 'z'.repeat(64), 'a*b']) {
      vi.stubEnv('BERTH_MASTER_KEY', bad);
      const err = errorOf(() => loadMasterKey(dir, { databaseHasSecrets: false }));
      expect(err).toBeInstanceOf(MasterKeyError);
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toMatch(/BERTH_MASTER_KEY is not a valid master key: expected 32 bytes/);
    }
    expect(fs.existsSync(masterKeyPath(dir))).toBe(false);
  });

  it('generates master.key with mode 0600 for a database without secrets, then keeps using it', () => {
    noEnvKey();
    const dir = tmpDir();
    const first = loadMasterKey(dir, { databaseHasSecrets: false });
    expect(first.source).toBe('generated');
    expect(first.key.length).toBe(32);
    expect(modeOf(masterKeyPath(dir))).toBe(0o600);

    const again = loadMasterKey(dir, { databaseHasSecrets: true });
    expect(again.source).toBe('file');
    expect(again.key.equals(first.key)).toBe(true);
  });

  it('never overwrites an existing key file', () => {
    noEnvKey();
    const dir = tmpDir();
    const key = key32();
    writeKeyFile(masterKeyPath(dir), key);
    const before = fs.readFileSync(masterKeyPath(dir), 'utf8');
    const loaded = loadMasterKey(dir, { databaseHasSecrets: false });
    expect(loaded).toMatchObject({ source: 'file' });
    expect(loaded.key.equals(key)).toBe(true);
    expect(fs.readFileSync(masterKeyPath(dir), 'utf8')).toBe(before);
    expect(() => writeKeyFile(masterKeyPath(dir), key32())).toThrow(/EEXIST/);
    expect(fs.readFileSync(masterKeyPath(dir), 'utf8')).toBe(before);
  });

  it('fails loudly when the key is gone but the database holds encrypted values', () => {
    noEnvKey();
    const dir = tmpDir();
    const err = errorOf(() => loadMasterKey(dir, { databaseHasSecrets: true }));
    expect(err).toBeInstanceOf(MasterKeyError);
    expect(err.message).toBe(
      `The master key is missing: ${dir}/master.key does not exist and BERTH_MASTER_KEY is not set, but the database holds encrypted values; restore the key file (Berth never stores it in the database)`,
    );
    expect(fs.existsSync(masterKeyPath(dir))).toBe(false);
  });

  it('refuses a key file that group or others can read', () => {
    noEnvKey();
    const dir = tmpDir();
    const file = masterKeyPath(dir);
    writeKeyFile(file, key32());
    for (const mode of [0o644, 0o640, 0o604]) {
      fs.chmodSync(file, mode);
      const err = errorOf(() => loadMasterKey(dir, { databaseHasSecrets: true }));
      expect(err).toBeInstanceOf(MasterKeyError);
      expect(err.message).toContain(`chmod 600 ${file}`);
    }
    fs.chmodSync(file, 0o600);
    expect(loadMasterKey(dir, { databaseHasSecrets: true }).source).toBe('file');
  });

  it('rejects a malformed key file clearly', () => {
    noEnvKey();
    const dir = tmpDir();
    fs.writeFileSync(masterKeyPath(dir), 'not a key\n', { mode: 0o600 });
    expect(() => loadMasterKey(dir, { databaseHasSecrets: false })).toThrow(
      `The master key file ${dir}/master.key is not a valid master key`,
    );
  });
});

describe('key check', () => {
  it('accepts the right key and names both key ids for a wrong one', () => {
    const dir = tmpDir();
    const right = new SecretBox(key32());
    const wrong = new SecretBox(key32());
    const check = keyCheckValue(right);
    expect(() => verifyKey(right, check, dir)).not.toThrow();

    const err = errorOf(() => verifyKey(wrong, check, dir));
    expect(err).toBeInstanceOf(MasterKeyError);
    expect(err.message).toBe(
      `The master key does not match this database (key id ${wrong.keyId}, database expects ${right.keyId}); start with the right ${dir}/master.key or BERTH_MASTER_KEY — nothing was changed.`,
    );
  });

  it('reports a damaged check value rather than a wrong key', () => {
    const box = new SecretBox(key32());
    const check = keyCheckValue(box);
    expect(() => verifyKey(box, `${check.slice(0, -4)}AAAA`)).toThrow(/key check .* is damaged/);
  });
});

// ---- a state database with sealed columns, like the store's ----

interface TestDb {
  dir: string;
  db: Database.Database;
  file: string;
}

const COLUMNS: SealedColumn[] = [
  {
    table: 'variables',
    idColumns: ['service_id', 'environment_id', 'name'],
    column: 'value',
    aad: (row) => `variables/${row.service_id}/${row.environment_id}/${row.name}`,
  },
  {
    table: 'deployments',
    idColumns: ['id'],
    column: 'variables_json',
    aad: (row) => `deployments/${row.id}/variables_json`,
  },
];

function openTestDb(dir: string): TestDb {
  const file = path.join(dir, 'state.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS variables (
      service_id TEXT NOT NULL, environment_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (service_id, environment_id, name)
    );
    CREATE TABLE IF NOT EXISTS deployments (id TEXT PRIMARY KEY, variables_json TEXT NOT NULL DEFAULT '{}');
  `);
  cleanups.unshift(() => db.open && db.close());
  return { dir, db, file };
}

const SECRETS: Record<string, string> = {
  DATABASE_URL: 'postgres://app:s3cr3t-PG-password@db.internal/app',
  STRIPE_KEY: 'sk_live_canary_51HxTESTsecretvalue',
  EMPTY: '',
};

/** A data dir with a generated key and a database holding sealed values (plus one legacy plain row). */
function seeded(): TestDb & { box: SecretBox } {
  noEnvKey();
  const dir = tmpDir();
  const t = openTestDb(dir);
  const box = new SecretBox(loadMasterKey(dir, { databaseHasSecrets: false }).key);
  const insertVar = t.db.prepare('INSERT INTO variables VALUES (?, ?, ?, ?)');
  for (const [svc, env] of [
    ['svc1', 'env1'],
    ['svc2', 'env1'],
  ]) {
    for (const [name, value] of Object.entries(SECRETS)) {
      insertVar.run(svc, env, name, box.seal(value, `variables/${svc}/${env}/${name}`));
    }
  }
  insertVar.run('svc3', 'env1', 'PLAIN', 'not-sealed-legacy');
  t.db
    .prepare('INSERT INTO deployments VALUES (?, ?)')
    .run('dep1', box.seal(JSON.stringify(SECRETS), 'deployments/dep1/variables_json'));
  t.db.prepare("INSERT INTO deployments (id) VALUES ('dep2')").run(); // '{}': not sealed
  t.db.prepare("INSERT INTO meta VALUES ('key_check', ?)").run(keyCheckValue(box));
  return { ...t, box };
}

function keyCheck(db: Database.Database): string {
  return (db.prepare("SELECT value FROM meta WHERE key = 'key_check'").get() as { value: string }).value;
}

function variableRows(db: Database.Database) {
  return db.prepare('SELECT * FROM variables ORDER BY service_id, name').all() as {
    service_id: string;
    environment_id: string;
    name: string;
    value: string;
  }[];
}

/** Every sealed value opens with `box`; returns how many. */
function openAll(db: Database.Database, box: SecretBox): number {
  let n = 0;
  for (const row of variableRows(db)) {
    if (!SecretBox.isSealed(row.value)) continue;
    expect(box.open(row.value, `variables/${row.service_id}/${row.environment_id}/${row.name}`)).toBe(
      SECRETS[row.name],
    );
    n++;
  }
  const dep = db.prepare("SELECT variables_json FROM deployments WHERE id = 'dep1'").get() as {
    variables_json: string;
  };
  expect(JSON.parse(box.open(dep.variables_json, 'deployments/dep1/variables_json'))).toEqual(SECRETS);
  return n + 1;
}

/** What a restart does: finish/undo a rotation, load the key, check it against the database. */
function restart(dir: string, db: Database.Database): SecretBox {
  recoverInterruptedRotation(db, dir);
  const box = new SecretBox(loadMasterKey(dir, { databaseHasSecrets: true }).key);
  verifyKey(box, keyCheck(db), dir);
  return box;
}

function dbBytes(file: string): Buffer {
  const parts = [fs.readFileSync(file)];
  if (fs.existsSync(`${file}-wal`)) parts.push(fs.readFileSync(`${file}-wal`));
  return Buffer.concat(parts);
}

describe('plaintext at rest', () => {
  it('never writes a sealed secret in plaintext to the database file', () => {
    const { db, file } = seeded();
    // Control: an unsealed value is found, so the search itself works.
    db.prepare('INSERT INTO variables VALUES (?, ?, ?, ?)').run('svc9', 'env1', 'CANARY', 'plain-canary-XYZ');
    db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = dbBytes(file);
    expect(bytes.includes('plain-canary-XYZ')).toBe(true);
    for (const secret of Object.values(SECRETS).filter(Boolean)) {
      expect(bytes.includes(secret)).toBe(false);
    }
    expect(bytes.includes('s3cr3t-PG-password')).toBe(false);
    expect(bytes.includes('sk_live_canary')).toBe(false);
  });
});

describe('rotateMasterKey', () => {
  it('re-encrypts every sealed value under a new key that replaces master.key', () => {
    const { dir, db, file, box: oldBox } = seeded();
    const before = variableRows(db);
    const oldCiphertexts = before.filter((r) => SecretBox.isSealed(r.value)).map((r) => r.value);

    const result = rotateMasterKey(db, dir, COLUMNS, oldBox);
    expect(result.oldKeyId).toBe(oldBox.keyId);
    expect(result.newKeyId).not.toBe(oldBox.keyId);
    expect(result.values).toBe(7); // 6 variables + 1 deployment snapshot
    expect(result.box.keyId).toBe(result.newKeyId);

    // Key files: new key in master.key, old one kept as master.key.previous, no leftovers.
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
    expect(modeOf(masterKeyPath(dir))).toBe(0o600);
    const newBox = new SecretBox(loadMasterKey(dir, { databaseHasSecrets: true }).key);
    expect(newBox.keyId).toBe(result.newKeyId);
    const previous = new SecretBox(
      Buffer.from(fs.readFileSync(previousKeyPath(dir), 'utf8').trim(), 'base64'),
    );
    expect(previous.keyId).toBe(oldBox.keyId);

    // Values: the new key opens all of them, the old key none; unsealed rows untouched.
    expect(openAll(db, newBox)).toBe(7);
    for (const row of variableRows(db)) {
      if (!SecretBox.isSealed(row.value)) continue;
      expect(() =>
        oldBox.open(row.value, `variables/${row.service_id}/${row.environment_id}/${row.name}`),
      ).toThrow(/different master key/);
    }
    expect(variableRows(db).find((r) => r.name === 'PLAIN')?.value).toBe('not-sealed-legacy');
    expect(
      (
        db.prepare("SELECT variables_json FROM deployments WHERE id = 'dep2'").get() as {
          variables_json: string;
        }
      ).variables_json,
    ).toBe('{}');

    // The key check moved with the key.
    expect(() => verifyKey(newBox, keyCheck(db), dir)).not.toThrow();
    expect(() => verifyKey(oldBox, keyCheck(db), dir)).toThrow(/does not match this database/);

    // Old ciphertexts are not left behind in the file for the old key to read.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = dbBytes(file);
    const oldParts = oldCiphertexts.map((sealed) => sealed.split(':')[5]).filter((ct) => ct.length > 0);
    expect(oldParts.length).toBe(4);
    for (const ct of oldParts) expect(bytes.includes(ct)).toBe(false);
    for (const secret of Object.values(SECRETS).filter(Boolean)) expect(bytes.includes(secret)).toBe(false);

    // And it can rotate again from the new key.
    const second = rotateMasterKey(db, dir, COLUMNS, newBox);
    expect(second.oldKeyId).toBe(newBox.keyId);
    expect(openAll(db, restart(dir, db))).toBe(7);
  });

  it('refuses when the key comes from BERTH_MASTER_KEY, and says what to do', () => {
    const { dir, db, box } = seeded();
    const before = variableRows(db);
    vi.stubEnv('BERTH_MASTER_KEY', crypto.randomBytes(32).toString('base64'));
    const err = errorOf(() => rotateMasterKey(db, dir, COLUMNS, box));
    expect(err).toBeInstanceOf(MasterKeyError);
    expect(err.message).toMatch(/comes from BERTH_MASTER_KEY/);
    expect(err.message).toMatch(/unset BERTH_MASTER_KEY and rotate again/);
    expect(variableRows(db)).toEqual(before);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
  });

  it('refuses a key that does not match the database, changing nothing', () => {
    const { dir, db } = seeded();
    const before = variableRows(db);
    const check = keyCheck(db);
    const keyFile = fs.readFileSync(masterKeyPath(dir), 'utf8');
    expect(() => rotateMasterKey(db, dir, COLUMNS, new SecretBox(key32()))).toThrow(
      /does not match this database .* nothing was changed/,
    );
    expect(variableRows(db)).toEqual(before);
    expect(keyCheck(db)).toBe(check);
    expect(fs.readFileSync(masterKeyPath(dir), 'utf8')).toBe(keyFile);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
  });

  it('rolls back everything when one value cannot be opened', () => {
    const { dir, db, box } = seeded();
    db.prepare("UPDATE variables SET value = ? WHERE service_id = 'svc2' AND name = 'STRIPE_KEY'").run(
      box.seal('moved here', 'variables/elsewhere'),
    );
    const before = variableRows(db);
    const check = keyCheck(db);
    expect(() => rotateMasterKey(db, dir, COLUMNS, box)).toThrow(
      /variables\.value \(service_id=svc2, environment_id=env1, name=STRIPE_KEY\).*damaged or tampered.*Nothing was changed/,
    );
    expect(variableRows(db)).toEqual(before);
    expect(keyCheck(db)).toBe(check);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
    expect(restart(dir, db).keyId).toBe(box.keyId);
  });

  it('refuses to start while master.key.next from another rotation exists', () => {
    const { dir, db, box } = seeded();
    writeKeyFile(nextKeyPath(dir), key32());
    expect(() => rotateMasterKey(db, dir, COLUMNS, box)).toThrow(/master\.key\.next exists/);
  });
});

describe('recoverInterruptedRotation', () => {
  it('does nothing without master.key.next', () => {
    const { dir, db, box } = seeded();
    recoverInterruptedRotation(db, dir);
    expect(restart(dir, db).keyId).toBe(box.keyId);
  });

  it('crash before the transaction committed: deletes master.key.next and keeps the old key', () => {
    const { dir, db, file, box: oldBox } = seeded();
    // Step 1 done.
    const nextKey = crypto.randomBytes(32);
    const nextBox = new SecretBox(nextKey);
    writeKeyFile(nextKeyPath(dir), nextKey);
    // Step 2 half done in another connection that dies before COMMIT.
    const crashing = new Database(file);
    crashing.exec('BEGIN IMMEDIATE');
    const rows = variableRows(crashing);
    const update = crashing.prepare(
      'UPDATE variables SET value = ? WHERE service_id = ? AND environment_id = ? AND name = ?',
    );
    for (const row of rows.slice(0, 3)) {
      const aad = `variables/${row.service_id}/${row.environment_id}/${row.name}`;
      update.run(
        nextBox.seal(oldBox.open(row.value, aad), aad),
        row.service_id,
        row.environment_id,
        row.name,
      );
    }
    crashing.close(); // never committed

    const box = restart(dir, db);
    expect(box.keyId).toBe(oldBox.keyId);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
    expect(fs.existsSync(previousKeyPath(dir))).toBe(false);
    expect(openAll(db, box)).toBe(7);
  });

  it('crash before the transaction committed: a half-written master.key.next is deleted', () => {
    const { dir, db, box: oldBox } = seeded();
    fs.writeFileSync(nextKeyPath(dir), 'AbC', { mode: 0o600 });
    expect(restart(dir, db).keyId).toBe(oldBox.keyId);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
  });

  it('crash after the transaction committed, before the renames: promotes master.key.next', () => {
    const { dir, db, box: oldBox } = seeded();
    const crash = new Error('simulated crash');
    vi.spyOn(fs, 'renameSync').mockImplementation(() => {
      throw crash;
    });
    expect(() => rotateMasterKey(db, dir, COLUMNS, oldBox)).toThrow(crash);
    vi.restoreAllMocks();

    // The DB now needs the new key, which is only in master.key.next: without recovery the start fails.
    expect(fs.existsSync(nextKeyPath(dir))).toBe(true);
    const stale = new SecretBox(loadMasterKey(dir, { databaseHasSecrets: true }).key);
    expect(stale.keyId).toBe(oldBox.keyId);
    expect(() => verifyKey(stale, keyCheck(db), dir)).toThrow(/does not match this database/);

    const box = restart(dir, db);
    expect(box.keyId).not.toBe(oldBox.keyId);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
    expect(new SecretBox(Buffer.from(fs.readFileSync(previousKeyPath(dir), 'utf8'), 'base64')).keyId).toBe(
      oldBox.keyId,
    );
    expect(openAll(db, box)).toBe(7);
  });

  it('crash between the two renames (no master.key at all): promotes master.key.next', () => {
    const { dir, db, box: oldBox } = seeded();
    const rename = fs.renameSync;
    let calls = 0;
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (++calls === 2) throw new Error('simulated crash');
      rename(from, to);
    });
    expect(() => rotateMasterKey(db, dir, COLUMNS, oldBox)).toThrow(/simulated crash/);
    vi.restoreAllMocks();
    expect(fs.existsSync(masterKeyPath(dir))).toBe(false);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(true);

    const box = restart(dir, db);
    expect(box.keyId).not.toBe(oldBox.keyId);
    expect(fs.existsSync(nextKeyPath(dir))).toBe(false);
    expect(openAll(db, box)).toBe(7);
  });
});
