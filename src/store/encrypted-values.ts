import type { Db } from './database.js';

export interface SealedRow {
  namespace: string;
  key: string;
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  updatedAt: string;
}

/** Rows of ciphertext; this repository never sees a plaintext or a key. */
export class EncryptedValuesRepository {
  constructor(private readonly db: Db) {}

  put(row: Omit<SealedRow, 'updatedAt'>, now = new Date().toISOString()): void {
    this.db
      .prepare(
        `INSERT INTO encrypted_values (namespace, key, key_id, nonce, ciphertext, tag, updated_at)
         VALUES (@namespace, @key, @keyId, @nonce, @ciphertext, @tag, @now)
         ON CONFLICT (namespace, key) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce,
           ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at`,
      )
      .run({ ...row, now });
  }

  /** Several rows in one transaction (one commit instead of one per row). */
  putMany(rows: readonly Omit<SealedRow, 'updatedAt'>[], now = new Date().toISOString()): void {
    this.db.transaction(() => {
      for (const row of rows) this.put(row, now);
    })();
  }

  get(namespace: string, key: string): SealedRow | undefined {
    return this.db
      .prepare(
        `SELECT namespace, key, key_id AS keyId, nonce, ciphertext, tag, updated_at AS updatedAt
         FROM encrypted_values WHERE namespace = ? AND key = ?`,
      )
      .get(namespace, key) as SealedRow | undefined;
  }

  keys(namespace: string): string[] {
    return (this.db.prepare('SELECT key FROM encrypted_values WHERE namespace = ? ORDER BY key').all(namespace) as { key: string }[]).map((r) => r.key);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM encrypted_values').get() as { n: number }).n;
  }

  /** Deletes all but the `keep` greatest keys of a namespace, in one statement; returns how many went. */
  keepNewest(namespace: string, keep: number): number {
    return this.db
      .prepare(
        `DELETE FROM encrypted_values WHERE namespace = @namespace AND key < (
           SELECT key FROM encrypted_values WHERE namespace = @namespace ORDER BY key DESC LIMIT 1 OFFSET @last)`,
      )
      .run({ namespace, last: keep - 1 }).changes;
  }

  delete(namespace: string, key: string): boolean {
    return this.db.prepare('DELETE FROM encrypted_values WHERE namespace = ? AND key = ?').run(namespace, key).changes > 0;
  }
}
