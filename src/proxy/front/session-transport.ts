import type { JsonRpcId, JsonRpcMessage } from '../../mcp/index.js';

/** What a front end gives a backend session: a way to reach the client. */
export interface ClientChannel {
  /** `answers`: for a response, the method of the request it answers (authorization filters lists by it). */
  send(message: JsonRpcMessage, relatedRequestId?: JsonRpcId, answers?: string): void;
  close(reason: string): void;
}

/** What a backend gives a front end for one client session. */
export interface BackendSession {
  handle(message: JsonRpcMessage): void;
  close(): void;
}

export interface SessionBackend {
  /** Opens a session for a client that sent initialize (legacy era). */
  openSession(channel: ClientChannel): BackendSession;
}
