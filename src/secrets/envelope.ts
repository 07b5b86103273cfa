import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { EncryptedValuesRepository } from '../store/index.js';
import { DataKeyError } from './errors.js';
import type { Keychain } from './keychain.js';
import { INTERNAL_PREFIX } from './providers.js';

const DATA_KEY_ACCOUNT = `${INTERNAL_PREFIX}data-key`;

/**
 * Envelope encryption for bulk secret data in SQLite: AES-256-GCM under a 256-bit data key that lives
 * in the keychain (created on first use). Each row is bound to its namespace, key and data key id as
 * associated data, so rows cannot be swapped or replayed under another name.
 */
export class SealedStore {
  private dataKey: Promise<{ id: string; key: Buffer }> | undefined;

  constructor(
    private readonly keychain: Keychain,
    private readonly rows: EncryptedValuesRepository,
  ) {}

  async put(namespace: string, key: string, plaintext: string | Buffer): Promise<void> {
    await this.putMany([{ namespace, key, plaintext }]);
  }

  /** Several values sealed and written in one transaction: all of them, or none. */
  async putMany(values: readonly { namespace: string; key: string; plaintext: string | Buffer }[]): Promise<void> {
    const dk = await this.key(true);
    this.rows.putMany(
      values.map(({ namespace, key, plaintext }) => {
        const nonce = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', dk.key, nonce);
        cipher.setAAD(aad(namespace, key, dk.id));
        const ciphertext = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
        return { namespace, key, keyId: dk.id, nonce, ciphertext, tag: cipher.getAuthTag() };
      }),
    );
  }

  async get(namespace: string, key: string): Promise<Buffer | undefined> {
    const row = this.rows.get(namespace, key);
    if (!row) return undefined;
    const dk = await this.key(false);
    if (!dk) throw new DataKeyError(`Encrypted data "${namespace}/${key}" cannot be read: the data key is missing from the keychain (was it deleted, or is this another user's keychain?).`);
    if (dk.id !== row.keyId) throw new DataKeyError(`Encrypted data "${namespace}/${key}" was sealed with data key ${row.keyId}, but the keychain holds ${dk.id}.`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', dk.key, row.nonce);
      decipher.setAAD(aad(namespace, key, row.keyId));
      decipher.setAuthTag(row.tag);
      return Buffer.concat([decipher.update(row.ciphertext), decipher.final()]);
    } catch {
      throw new DataKeyError(`Encrypted data "${namespace}/${key}" failed its integrity check (wrong key or tampered row); it was not used.`);
    }
  }

  async getString(namespace: string, key: string): Promise<string | undefined> {
    return (await this.get(namespace, key))?.toString('utf8');
  }

  delete(namespace: string, key: string): boolean {
    return this.rows.delete(namespace, key);
  }

  /** Keeps the `keep` greatest keys of a namespace (a log keyed by time: the newest), deleting the rest at once. */
  keepNewest(namespace: string, keep: number): number {
    return this.rows.keepNewest(namespace, keep);
  }

  /** The keys sealed under a namespace (keys are names, never secrets; the values stay sealed). */
  keys(namespace: string): string[] {
    return this.rows.keys(namespace);
  }

  private async key(create: true): Promise<{ id: string; key: Buffer }>;
  private async key(create: false): Promise<{ id: string; key: Buffer } | undefined>;
  private async key(create: boolean): Promise<{ id: string; key: Buffer } | undefined> {
    if (this.dataKey) return this.dataKey;
    // One look-up (and one creation) however many calls come at once: two first writes racing would
    // each make a key, and the rows sealed with the one overwritten could never be read again.
    const found = await (this.lookup ??= this.read().finally(() => (this.lookup = undefined)));
    if (found) return (this.dataKey ??= Promise.resolve(found));
    if (!create) return undefined;
    return (this.dataKey ??= this.create().catch((err: unknown) => {
      this.dataKey = undefined;
      throw err;
    }));
  }

  private lookup: Promise<{ id: string; key: Buffer } | undefined> | undefined;

  private async read(): Promise<{ id: string; key: Buffer } | undefined> {
    const stored = await this.keychain.get(DATA_KEY_ACCOUNT);
    if (stored === null) return undefined;
    const key = Buffer.from(stored, 'base64');
    if (key.length !== 32) throw new DataKeyError('The data key in the keychain is malformed (not 256 bits); encrypted data cannot be read.');
    return { id: keyId(key), key };
  }

  private async create(): Promise<{ id: string; key: Buffer }> {
    if (this.rows.count() > 0) {
      // Creating a new key would silently orphan every sealed row: refuse and say why.
      throw new DataKeyError('The data key is missing from the keychain but encrypted data exists; refusing to create a new key over it.');
    }
    const key = randomBytes(32);
    await this.keychain.set(DATA_KEY_ACCOUNT, key.toString('base64'));
    return { id: keyId(key), key };
  }
}

function aad(namespace: string, key: string, id: string): Buffer {
  return Buffer.from(`gatehouse/v1\0${namespace}\0${key}\0${id}`, 'utf8');
}

/** A non-secret fingerprint of the data key, stored with each row. */
function keyId(key: Buffer): string {
  return createHash('sha256').update('gatehouse data key id').update(key).digest('hex').slice(0, 16);
}
