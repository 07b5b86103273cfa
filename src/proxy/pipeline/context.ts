import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../../auth/identity.js';
import type { ParsedFrame } from '../../mcp/index.js';
import type { ResponseTap } from './response-tap.js';

/**
 * Who is calling, as authorization and audit see it: the identity of a validated token (src/auth), or,
 * in local mode (no authentication), the OS user, as ToolHive does.
 */
export type CallerIdentity = Pick<Identity, 'subject' | 'name' | 'email' | 'groups' | 'scopes' | 'claims'> & {
  local: boolean;
  /** The bearer token the caller presented (a function, so no serializer or log line ever prints it): token exchange sends it on. */
  presentedToken?: () => string;
};

/** Everything the layers of a proxy learn about one HTTP request, computed once and shared. */
export interface ProxyContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  serverName: string;
  receivedAt: number;
  /**
   * The JSON-RPC body of a POST, parsed once by the request guard. Every layer decides on it and the
   * backend forwards its canonical serialization, never the caller's bytes.
   */
  request?: ParsedFrame;
  identity?: CallerIdentity;
  /** Set by the authorization layer: how this request was decided (audit and the request log read it). */
  authz?: AuthzMark;
  /** The one interceptor of this request's response: message hooks, and what audit needs to know. */
  tap: ResponseTap;
}

/** The authorization outcome of one HTTP request (a batch is denied as a whole if any part is). */
export interface AuthzMark {
  decision: 'allow' | 'deny';
  /** The policies that decided (Cedar's "reason"): permits for an allow, forbids for a deny. */
  policies: string[];
  /** Why, in words, for logs: "no policy permits call_tool on Tool::\"x\"", "forbidden by policy3", ... */
  reason?: string;
  /** Each operation Cedar decided for this request, as it was decided (the policy studio replays them). */
  decided?: DecidedOperation[];
  /** The policy set and version that decided. */
  source?: { set: string; version: number };
}

/** One operation as the authorizer put it to Cedar, and the answer. */
export interface DecidedOperation {
  feature: 'tool' | 'prompt' | 'resource';
  name: string;
  arguments?: Record<string, unknown>;
  /** A tool's annotation hints as its server declared them. */
  annotations?: Record<string, boolean>;
  allowed: boolean;
  reasons: string[];
  errors: string[];
}

export type Next = () => Promise<void>;
export type Middleware = (ctx: ProxyContext, next: Next) => Promise<void>;

/** Runs middlewares outer to inner; each decides whether to call the next. */
export function compose(layers: readonly Middleware[]): (ctx: ProxyContext) => Promise<void> {
  return (ctx) => {
    const run = (i: number): Promise<void> => {
      const layer = layers[i];
      return layer ? layer(ctx, () => run(i + 1)) : Promise.resolve();
    };
    return run(0);
  };
}
