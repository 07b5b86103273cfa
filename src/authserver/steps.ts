import type http from 'node:http';

/** The steps of a sign-in at the embedded authorization server, each one an audit event. */
export type SignInStepKind = 'client_registration' | 'consent' | 'upstream_login' | 'authorization' | 'token' | 'revocation';

/**
 * One step, as plain data: who (the OAuth client, and the user once the upstream said who it is), what
 * for (the server's URL), how it ended and why. Never a token, code, verifier or secret: only names.
 */
export interface SignInStep {
  kind: SignInStepKind;
  /** success; denied (the user or a rule said no); failure (a bad request); error (Gatehouse or the upstream failed). */
  outcome: 'success' | 'denied' | 'failure' | 'error';
  endpoint: string;
  httpMethod: string;
  remoteAddress?: string;
  userAgent?: string;
  clientId?: string;
  clientName?: string;
  /** The user's subject (the upstream's, as Gatehouse's tokens carry it). */
  subject?: string;
  subjectName?: string;
  /** The MCP server's URL the sign-in is for (RFC 8707 resource). */
  resource?: string;
  scopes?: string[];
  grantType?: string;
  grantId?: string;
  /** The OAuth error code, when it did not succeed. */
  error?: string;
  /** Why, in words. */
  reason?: string;
  /** Who did it, when not the client: the user in Gatehouse's window (revoking a client or a user). */
  by?: 'app';
}

export type SignInStepListener = (step: SignInStep) => void;

const MAX_TEXT = 256;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? (v.length > MAX_TEXT ? v.slice(0, MAX_TEXT) : v) : undefined);

/** Where a request came from, for a step's source: the peer and its User-Agent (nothing else is read). */
export function requestOrigin(req: http.IncomingMessage): Pick<SignInStep, 'remoteAddress' | 'userAgent'> {
  const remoteAddress = text(req.socket.remoteAddress);
  const userAgent = text(req.headers['user-agent']);
  return { ...(remoteAddress ? { remoteAddress } : {}), ...(userAgent ? { userAgent } : {}) };
}

/** A step with the optional fields that have a value (callers pass possibly-undefined values freely). */
export function signInStep(base: Pick<SignInStep, 'kind' | 'outcome' | 'endpoint' | 'httpMethod'>, fields: { [K in Exclude<keyof SignInStep, 'kind' | 'outcome' | 'endpoint' | 'httpMethod'>]?: SignInStep[K] | undefined | null }): SignInStep {
  const out: SignInStep = { ...base };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    (out as unknown as Record<string, unknown>)[k] = typeof v === 'string' ? text(v) : v;
  }
  return out;
}
