import type { Db } from './database.js';

/** What finds, expires and consumes one sealed record of the authorization server (no payload, no token). */
export interface AuthServerIndexRow {
  model: string;
  /** SHA-256 of the record's id. */
  key: string;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  /** Epoch milliseconds; null: until removed. */
  expiresAt: number | null;
  consumedAt: number | null;
}

export class AuthServerIndexRepository {
  constructor(private readonly db: Db) {}

  put(row: Omit<AuthServerIndexRow, 'consumedAt'>): void {
    this.db
      .prepare(
        `INSERT INTO authserver_index (model, key, grant_id, uid, user_code, expires_at, consumed_at)
         VALUES (@model, @key, @grantId, @uid, @userCode, @expiresAt, NULL)
         ON CONFLICT (model, key) DO UPDATE SET grant_id = excluded.grant_id, uid = excluded.uid,
           user_code = excluded.user_code, expires_at = excluded.expires_at`,
      )
      .run(row);
  }

  get(model: string, key: string): AuthServerIndexRow | undefined {
    return this.db
      .prepare(
        `SELECT model, key, grant_id AS grantId, uid, user_code AS userCode, expires_at AS expiresAt, consumed_at AS consumedAt
         FROM authserver_index WHERE model = ? AND key = ?`,
      )
      .get(model, key) as AuthServerIndexRow | undefined;
  }

  keyBy(model: string, column: 'uid' | 'user_code', value: string): string | undefined {
    return (this.db.prepare(`SELECT key FROM authserver_index WHERE model = ? AND ${column} = ?`).get(model, value) as { key: string } | undefined)?.key;
  }

  consume(model: string, key: string, at: number): void {
    this.db.prepare('UPDATE authserver_index SET consumed_at = ? WHERE model = ? AND key = ? AND consumed_at IS NULL').run(at, model, key);
  }

  delete(model: string, key: string): void {
    this.db.prepare('DELETE FROM authserver_index WHERE model = ? AND key = ?').run(model, key);
  }

  /** Every record of a grant, in any model (a revoked grant takes its codes and tokens with it). */
  ofGrant(grantId: string): { model: string; key: string }[] {
    return this.db.prepare('SELECT model, key FROM authserver_index WHERE grant_id = ?').all(grantId) as { model: string; key: string }[];
  }

  /** Records expired before `now`, for the sweep. */
  expired(now: number, limit = 500): { model: string; key: string }[] {
    return this.db.prepare('SELECT model, key FROM authserver_index WHERE expires_at IS NOT NULL AND expires_at < ? LIMIT ?').all(now, limit) as { model: string; key: string }[];
  }
}
