import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Identity } from '../auth/index.js';
import type { JsonRpcId, JsonRpcMessage } from './jsonrpc.js';

/**
 * Who is calling, as authorization and audit see it: the identity of a validated token (src/auth), or,
 * in local mode (no authentication), the OS user, as ToolHive does.
 */
export type CallerIdentity = Pick<Identity, 'subject' | 'name' | 'email' | 'groups' | 'scopes' | 'claims'> & { local: boolean };

/** Everything the layers of a proxy learn about one HTTP request, parsed once and shared. */
export interface ProxyContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  serverName: string;
  receivedAt: number;
  /** The raw body of a POST (already size-checked), for layers that forward it as is. */
  rawBody?: Buffer;
  /** The parsed JSON body (a message or a batch), when the body was JSON. */
  body?: unknown;
  /** The JSON-RPC messages of the body, validated. */
  messages?: JsonRpcMessage[];
  identity?: CallerIdentity;
  /** Set by the authorization layer: how this request was decided (audit and the request log read it). */
  authz?: AuthzMark;
  /**
   * A rewrite of the answer to one request, for transports that answer on another HTTP response than the
   * request's own (legacy SSE sends answers on the GET stream): the list filter of authorization.
   */
  answerTransform?: { id: JsonRpcId; apply(answer: JsonRpcMessage): JsonRpcMessage };
}

/** The authorization outcome of one HTTP request (a batch is denied as a whole if any part is). */
export interface AuthzMark {
  decision: 'allow' | 'deny';
  /** The policies that decided (Cedar's "reason"): permits for an allow, forbids for a deny. */
  policies: string[];
  /** Why, in words, for logs: "no policy permits call_tool on Tool::\"x\"", "forbidden by policy3", ... */
  reason?: string;
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
