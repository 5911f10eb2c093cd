import { openDb } from './db.js';
import { keyCheckValue, loadMasterKey, verifyKey } from './master-key.js';
import { recoverInterruptedRotation, rotateMasterKey } from './rotate-key.js';
import { SEALED_COLUMNS } from './sealed-columns.js';
import { SecretBox } from './secret-box.js';
import { Store } from './store.js';

/**
 * Opens the state database with its master key. A missing or wrong key stops here with a clear
 * error, before any row is read or written; a rotation cut short by a crash is finished first.
 */
export function openStore(dbFile: string, dataDir: string): { store: Store; keySource: string } {
  const db = openDb(dbFile);
  try {
    recoverInterruptedRotation(db, dataDir);
    const check = db.prepare("SELECT value FROM meta WHERE key = 'key_check'").get() as
      | { value: string }
      | undefined;
    const { key, source } = loadMasterKey(dataDir, { databaseHasSecrets: check !== undefined });
    const box = new SecretBox(key);
    if (check) verifyKey(box, check.value, dataDir);
    else db.prepare("INSERT INTO meta (key, value) VALUES ('key_check', ?)").run(keyCheckValue(box));
    const store = new Store(db, box);
    store.sealPlaintext();
    return { store, keySource: source };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Re-encrypts every stored value under a fresh master key and switches the live store to it. */
export function rotateStoreKey(
  store: Store,
  dataDir: string,
): { oldKeyId: string; newKeyId: string; values: number } {
  const { box, oldKeyId, newKeyId, values } = rotateMasterKey(
    store.db,
    dataDir,
    SEALED_COLUMNS,
    store.secretBox,
  );
  store.replaceSecretBox(box);
  return { oldKeyId, newKeyId, values };
}
