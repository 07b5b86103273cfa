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
    private readonly report: (server: string, message: string) => void,
    private readonly keep = KEEP,
  ) {}

  /** A warning that cannot itself fail a write (the log it goes to may be closing too). */
  private warn(server: string, message: string): void {
    try {
      this.report(server, message);
    } catch {
      // nowhere left to say it
    }
  }

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
    this.pending.push({ namespace: NAMESPACE + server, key: `${rec.at}|${rec.auditId}`, plaintext: JSON.stringify(rec) });
    if (this.scheduled) return;
    this.scheduled = true;
    this.written = this.written.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(() => this.flush());
  }

  /** Records waiting for the next turn of the event loop: written together, one commit for all. */
  private pending: { namespace: string; key: string; plaintext: string }[] = [];
  private scheduled = false;
  private inFlight: { namespace: string; key: string }[] = [];
  /** The writes asked for so far, one after another (never rejects). */
  private written: Promise<void> = Promise.resolve();

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.inFlight = batch;
    const servers = [...new Set(batch.map((r) => r.namespace.slice(NAMESPACE.length)))];
    try {
      await this.sealed.putMany(batch);
    } catch (err) {
      this.inFlight = [];
      for (const server of servers) {
        if (this.failing.has(server)) continue;
        this.failing.add(server);
        this.warn(server, `Decisions are not kept for the policy studio's impact preview and "why?" (${(err as Error).message}); requests are decided and audited as before.`);
      }
      return;
    }
    this.inFlight = [];
    for (const server of servers) {
      this.failing.delete(server);
      try {
        this.prune(server, batch.filter((r) => r.namespace === NAMESPACE + server).length);
      } catch (err) {
        this.warn(server, `Old decisions could not be dropped (${(err as Error).message}); the next write tries again.`);
      }
    }
  }

  /** When the records asked for so far are written (reads wait for it; so does the core's stop). */
  async settled(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.written;
      await seen;
    } while (seen !== this.written);
  }

  private prune(server: string, written: number): void {
    const before = this.writes.get(server) ?? 0;
    this.writes.set(server, before + written);
    if (Math.floor((before + written) / PRUNE_EVERY) === Math.floor(before / PRUNE_EVERY)) return;
    this.sealed.keepNewest(NAMESPACE + server, this.keep);
  }

  /** A server's decisions since a time (ISO), oldest first; records that no longer read are left out. */
  async since(server: string, sinceIso: string): Promise<DecisionRecord[]> {
    await this.settled();
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
    await this.settled();
    const ns = NAMESPACE + server;
    const key = this.sealed.keys(ns).find((k) => k.endsWith(`|${auditId}`));
    return key ? this.read(ns, key) : undefined;
  }

  /** A removed server's decisions go with it. */
  forget(server: string): void {
    const ns = NAMESPACE + server;
    this.pending = this.pending.filter((r) => r.namespace !== ns);
    for (const k of this.sealed.keys(ns)) this.sealed.delete(ns, k);
    // A write already under way (its data key being read) lands after this: those records go once it has.
    const late = this.inFlight.filter((r) => r.namespace === ns).map((r) => r.key);
    if (late.length > 0) void this.settled().then(() => late.forEach((k) => this.sealed.delete(ns, k)));
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
