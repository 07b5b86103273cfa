import { randomUUID } from 'node:crypto';
import { GenerationalCache } from '../../common/index.js';
import type { JsonRpcId } from '../../mcp/index.js';

/** How many sessions the proxy remembers per server; the oldest idle ones are forgotten first. */
const MAX_SESSIONS = 10_000;
/** Requests of one legacy session waiting for their answer on the stream. */
const MAX_PENDING = 1_000;

/** A legacy HTTP+SSE session of the upstream, as the proxy hands it to its caller. */
export interface LegacySession {
  /** Who opened it: only this subject may post to it. */
  owner: string;
  /** Where the upstream said to post (its path and query; the caller never sees it). */
  upstreamEndpoint: string;
  /** Request id → method of requests posted and not yet answered (their answers come on the stream). */
  pending: Map<string, string>;
}

/**
 * Who owns which session of an upstream that speaks HTTP itself. A session id is not a credential:
 * a request naming a session that another caller started, or that the proxy never saw start, gets the
 * answer of an unknown session (404) and never reaches the upstream. Legacy SSE sessions get an id of
 * the proxy's own in the endpoint the caller sees, so the upstream's id and query never pass through
 * the caller, and the caller's query string never reaches the upstream.
 */
export class ReverseSessions {
  private readonly streamable = new GenerationalCache<string, string>(MAX_SESSIONS);
  private readonly legacy = new Map<string, LegacySession>();

  /** The owner of a Streamable HTTP session the upstream minted for this caller's initialize. */
  claim(sessionId: string, owner: string): boolean {
    const current = this.streamable.get(sessionId);
    if (current !== undefined && current !== owner) return false;
    this.streamable.set(sessionId, owner);
    return true;
  }

  /** Whether this caller may use this session. */
  owns(sessionId: string, owner: string): boolean {
    return this.streamable.get(sessionId) === owner;
  }

  forget(sessionId: string): void {
    this.streamable.delete(sessionId);
  }

  /** A legacy stream opened by this caller: the id the caller will post with. */
  openLegacy(owner: string, upstreamEndpoint: string): string {
    const id = randomUUID();
    if (this.legacy.size >= MAX_SESSIONS) this.legacy.delete(this.legacy.keys().next().value as string);
    this.legacy.set(id, { owner, upstreamEndpoint, pending: new Map() });
    return id;
  }

  legacySession(id: string, owner: string): LegacySession | undefined {
    const s = this.legacy.get(id);
    return s && s.owner === owner ? s : undefined;
  }

  closeLegacy(id: string): void {
    this.legacy.delete(id);
  }

  /** Notes a request posted to a legacy session, so its answer on the stream is filtered as what it is. */
  static expect(session: LegacySession, id: JsonRpcId, method: string): boolean {
    const key = JSON.stringify(id);
    if (session.pending.has(key)) return false;
    if (session.pending.size >= MAX_PENDING) session.pending.delete(session.pending.keys().next().value as string);
    session.pending.set(key, method);
    return true;
  }

  /** The method of the request an answer on a legacy stream answers (undefined: not one the proxy saw). */
  static answered(session: LegacySession, id: JsonRpcId | null): string | undefined {
    if (id === null) return undefined;
    const key = JSON.stringify(id);
    const method = session.pending.get(key);
    session.pending.delete(key);
    return method;
  }
}
