import type { z } from 'zod';
import { DecisionRecordSchema } from '../api/contract.js';
import type { AuditEvent } from '../audit/index.js';
import type { AuthzMark } from '../proxy/pipeline/index.js';
import type { SealedStore } from '../secrets/index.js';

/**
 * What authorization decided for each recent request, with what it decided on: the caller's claims,
 * the operations as Cedar was asked them (tool, arguments, annotations), the answer and the policy set
 * version. The policy studio replays them against a draft (the impact preview) and opens any of them
 * in the simulator ("why?"). Claims and arguments can be personal or secret, so records are sealed
 * with the data key; only the newest ones per server are kept.
 */

/** Kept in the API's own shape, so what is read back is exactly what the API gives. */
const RecordSchema = DecisionRecordSchema;
export type DecisionRecord = z.infer<typeof RecordSchema>;

const NAMESPACE = 'authz-decisions:';
/** Kept per server: enough for an hour of a busy client, small enough to replay in a moment. */
const KEEP = 2000;
const PRUNE_EVERY = 50;

export class DecisionLog {
  private readonly writes = new Map<string, number>();
  /** Servers whose last write failed: said once, not at every request, until a write works again. */
  private readonly failing = new Set<string>();

  constructor(
    private readonly sealed: SealedStore,
    private readonly warn: (server: string, message: string) => void,
    private readonly keep = KEEP,
  ) {}

  /** After an audit event: its decisions, sealed (in the background: the request is long answered). */
  record(server: string, event: AuditEvent, d: { authz: AuthzMark; claims: Readonly<Record<string, unknown>> | undefined } | undefined): void {
    if (!d?.authz.decided?.length) return;
    const rec: DecisionRecord = {
      auditId: event.audit_id,
      server,
      at: event.logged_at,
      claims: { ...(d.claims ?? {}) },
      ops: d.authz.decided.map((o) => ({ ...o })),
      outcome: d.authz.decision,
      ...(d.authz.source ? { source: d.authz.source } : {}),
    };
    const ns = NAMESPACE + server;
    void this.sealed.put(ns, `${rec.at}|${rec.auditId}`, JSON.stringify(rec)).then(
      () => {
        this.failing.delete(server);
        this.prune(server);
      },
      (err: unknown) => {
        if (this.failing.has(server)) return;
        this.failing.add(server);
        this.warn(server, `Decisions are not kept for the policy studio's impact preview and "why?" (${(err as Error).message}); requests are decided and audited as before.`);
      },
    );
  }

  private prune(server: string): void {
    const n = (this.writes.get(server) ?? 0) + 1;
    this.writes.set(server, n);
    if (n % PRUNE_EVERY !== 0) return;
    const ns = NAMESPACE + server;
    const keys = this.sealed.keys(ns).sort();
    for (const k of keys.slice(0, Math.max(0, keys.length - this.keep))) this.sealed.delete(ns, k);
  }

  /** A server's decisions since a time (ISO), oldest first; records that no longer read are left out. */
  async since(server: string, sinceIso: string): Promise<DecisionRecord[]> {
    const ns = NAMESPACE + server;
    const keys = this.sealed.keys(ns).filter((k) => k >= sinceIso).sort();
    const out: DecisionRecord[] = [];
    for (const k of keys) {
      const r = await this.read(ns, k);
      if (r) out.push(r);
    }
    return out;
  }

  /** The decision of one audit event. */
  async find(server: string, auditId: string): Promise<DecisionRecord | undefined> {
    const ns = NAMESPACE + server;
    const key = this.sealed.keys(ns).find((k) => k.endsWith(`|${auditId}`));
    return key ? this.read(ns, key) : undefined;
  }

  /** A removed server's decisions go with it. */
  forget(server: string): void {
    const ns = NAMESPACE + server;
    for (const k of this.sealed.keys(ns)) this.sealed.delete(ns, k);
  }

  private async read(ns: string, key: string): Promise<DecisionRecord | undefined> {
    try {
      const text = await this.sealed.getString(ns, key);
      const p = text === undefined ? undefined : RecordSchema.safeParse(JSON.parse(text));
      return p?.success ? p.data : undefined;
    } catch {
      return undefined;
    }
  }
}
