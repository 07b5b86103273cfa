import { createHash } from 'node:crypto';
import type { SealedStore } from '../secrets/index.js';
import type { AuthServerIndexRepository } from '../store/index.js';

/** What oidc-provider keeps of a model (a client, a grant, a code, a refresh token, a session, ...). */
export type AdapterPayload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

/** oidc-provider's adapter interface, one instance per model. */
export interface Adapter {
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export interface SealedAdapterDeps {
  sealed: SealedStore;
  index: AuthServerIndexRepository;
  now?: () => number;
}

/** Ids are often the token values: only their hash is ever a key in SQLite. */
const hash = (model: string, value: string) => createHash('sha256').update(`${model}\0${value}`).digest('base64url');
const namespace = (model: string) => `authserver:${model}`;

/**
 * oidc-provider's state in Gatehouse's SQLite file: every record sealed (AES-256-GCM under the data key
 * in the keychain, bound to its model and key), found through an index of hashes. An expired or
 * unreadable record is not there.
 */
export function sealedAdapter(d: SealedAdapterDeps): new (model: string) => Adapter {
  const now = d.now ?? Date.now;
  return class SealedAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const key = hash(this.model, id);
      await d.sealed.put(namespace(this.model), key, JSON.stringify(payload));
      d.index.put({
        model: this.model,
        key,
        grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
        uid: typeof payload.uid === 'string' ? hash(this.model, payload.uid) : null,
        userCode: typeof payload.userCode === 'string' ? hash(this.model, payload.userCode) : null,
        expiresAt: expiresIn ? now() + expiresIn * 1000 : null,
      });
    }

    private byKey(key: string): Promise<AdapterPayload | undefined> {
      return readRecord(d, this.model, key, now());
    }

    find(id: string): Promise<AdapterPayload | undefined> {
      return this.byKey(hash(this.model, id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const key = d.index.keyBy(this.model, 'uid', hash(this.model, uid));
      return key === undefined ? undefined : this.byKey(key);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const key = d.index.keyBy(this.model, 'user_code', hash(this.model, userCode));
      return key === undefined ? undefined : this.byKey(key);
    }

    async consume(id: string): Promise<void> {
      d.index.consume(this.model, hash(this.model, id), now());
    }

    async destroy(id: string): Promise<void> {
      const key = hash(this.model, id);
      d.sealed.delete(namespace(this.model), key);
      d.index.delete(this.model, key);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const r of d.index.ofGrant(grantId)) {
        d.sealed.delete(namespace(r.model), r.key);
        d.index.delete(r.model, r.key);
      }
    }
  };
}

async function readRecord(d: SealedAdapterDeps, model: string, key: string, at: number): Promise<AdapterPayload | undefined> {
  const row = d.index.get(model, key);
  if (!row || (row.expiresAt !== null && row.expiresAt <= at)) return undefined;
  const text = await d.sealed.getString(namespace(model), key);
  if (text === undefined) return undefined;
  const payload = JSON.parse(text) as AdapterPayload;
  return row.consumedAt !== null ? { ...payload, consumed: Math.floor(row.consumedAt / 1000) } : payload;
}

/**
 * Every live record of a model (the grants or sessions of the app's lists): they are found by hashes
 * only, so listing means unsealing each one. A handful on a laptop.
 */
export async function sealedRecords(d: SealedAdapterDeps, model: string): Promise<AdapterPayload[]> {
  const at = (d.now ?? Date.now)();
  const out: AdapterPayload[] = [];
  for (const key of d.sealed.keys(namespace(model))) {
    const payload = await readRecord(d, model, key, at);
    if (payload) out.push(payload);
  }
  return out;
}

/** Removes expired records (their sealed payloads too); returns how many. */
export function sweepExpired(d: SealedAdapterDeps): number {
  const rows = d.index.expired((d.now ?? Date.now)());
  for (const r of rows) {
    d.sealed.delete(namespace(r.model), r.key);
    d.index.delete(r.model, r.key);
  }
  return rows.length;
}
