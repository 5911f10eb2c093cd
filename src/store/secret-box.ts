import crypto from 'node:crypto';

/**
 * AES-256-GCM for values kept at rest in the state database (variable values, JSON blobs of them).
 *
 * Sealed format: `enc:v1:<keyId>:<iv b64url>:<tag b64url>:<ciphertext b64url>` — a plain string, so it
 * fits any TEXT column. The key id says which master key sealed it, so a wrong key is reported as such
 * instead of as "tampered". The GCM additional data is the header (`enc:v1:<keyId>`) plus the caller's
 * AAD string, so a value sealed for one row does not open for another (no AAD and `''` are the same).
 */

const PREFIX = 'enc:v1:';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]*$/;
const KEY_ID = /^[0-9a-f]{16}$/;

/** The parts of a sealed string; `null` when it is not in the `enc:v1:` format. */
export function parseSealed(
  value: string,
): { keyId: string; iv: Buffer; tag: Buffer; ciphertext: Buffer } | null {
  if (!value.startsWith(PREFIX)) return null;
  const parts = value.slice(PREFIX.length).split(':');
  if (parts.length !== 4) return null;
  const [keyId, iv, tag, ciphertext] = parts;
  if (!KEY_ID.test(keyId) || !B64URL.test(iv) || !B64URL.test(tag) || !B64URL.test(ciphertext)) return null;
  const parsed = {
    keyId,
    iv: Buffer.from(iv, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
  };
  if (parsed.iv.length !== IV_BYTES || parsed.tag.length !== TAG_BYTES) return null;
  return parsed;
}

/** The key id of a master key: first 16 hex chars of sha256("berth-key-id:" + key). Not secret. */
export function keyIdOf(key: Buffer): string {
  return crypto.createHash('sha256').update('berth-key-id:').update(key).digest('hex').slice(0, 16);
}

export class SecretBox {
  /** Deterministic key id: first 16 hex chars of sha256("berth-key-id:" + key). */
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
      throw new Error(
        `A master key must be ${KEY_BYTES} bytes (got ${Buffer.isBuffer(key) ? key.length : 0}).`,
      );
    }
    this.#key = Buffer.from(key); // a private copy: the caller may wipe or reuse its buffer
    this.keyId = keyIdOf(this.#key);
  }

  /** Encrypts with a fresh random 12-byte IV; `aad` binds the result to its row. */
  seal(plaintext: string, aad?: string): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv(ALGORITHM, this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#additionalData(this.keyId, aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${PREFIX}${this.keyId}:${iv.toString('base64url')}:${tag.toString('base64url')}:${ciphertext.toString('base64url')}`;
  }

  /** Inverse of seal, with the same `aad`; throws when the key differs or the value was altered. */
  open(sealed: string, aad?: string): string {
    const parts = parseSealed(sealed);
    if (!parts) {
      throw new Error(
        SecretBox.isSealed(sealed)
          ? 'The encrypted value is malformed (damaged or tampered with).'
          : 'The value is not an encrypted value (expected the enc:v1: format).',
      );
    }
    if (parts.keyId !== this.keyId) {
      throw new Error(
        `The value was encrypted with a different master key (id ${parts.keyId}); the current key is ${this.keyId}.`,
      );
    }
    const decipher = crypto.createDecipheriv(ALGORITHM, this.#key, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(this.#additionalData(parts.keyId, aad));
    decipher.setAuthTag(parts.tag);
    try {
      return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new Error(
        'The encrypted value failed authentication: it is damaged or tampered (or was moved from another row).',
        { cause: err },
      );
    }
  }

  /** True for strings in the sealed format's namespace (`enc:v1:` prefix); open() checks the rest. */
  static isSealed(value: string): boolean {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }

  #additionalData(keyId: string, aad: string | undefined): Buffer {
    return Buffer.from(`${PREFIX}${keyId}\0${aad ?? ''}`, 'utf8');
  }
}
