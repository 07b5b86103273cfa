import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware, ProxyContext } from '../proxy/pipeline/index.js';
import { bearerChallenge, resourceMetadataUrl } from './challenge.js';
import type { EffectiveAuth } from './config.js';
import { AuthFailure } from './errors.js';
import { protectedResourceMetadata, sendMetadata } from './resource-metadata.js';
import type { TokenValidator } from './validator.js';

/** What one server's proxy enforces right now; swapped at run time when the settings change. */
export interface AuthState {
  config: EffectiveAuth;
  validator: TokenValidator;
  /** Resource URLs this server answers to (the loopback spellings of its URL, or the configured one). */
  resourceUrls: string[];
  serverName: string;
}

/**
 * The resource URL for this request: the configured one, or the loopback spelling (host and endpoint
 * path) the client dialled, so the metadata's `resource` is the URL the client knows (MCP clients check).
 */
export function resourceFor(state: AuthState, req: IncomingMessage, path: string): string {
  if (state.resourceUrls.length === 1) return state.resourceUrls[0]!;
  const host = req.headers.host;
  const endpoint = path === '/messages' || path === '/message' ? '/sse' : path.replace(/\/$/, '');
  const sameHost = state.resourceUrls.filter((u) => new URL(u).host === host);
  return sameHost.find((u) => new URL(u).pathname === endpoint) ?? sameHost[0] ?? state.resourceUrls[0]!;
}

function respond(res: ServerResponse, status: number, challenge: string, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'www-authenticate': challenge,
    'cache-control': 'no-store',
    'access-control-expose-headers': 'WWW-Authenticate, Mcp-Session-Id',
  });
  res.end(text);
}

/**
 * Authentication layer: a Bearer token from the Authorization header (never from the query string or a
 * cookie), validated, becomes ctx.identity. Anything else is a 401 whose challenge tells an MCP client
 * where the protected resource metadata is, so it can discover the authorization server from the 401 alone.
 */
export function authenticationLayer(current: () => AuthState | { failure: string } | undefined, fallback: Middleware): Middleware {
  return async (ctx: ProxyContext, next) => {
    const state = current();
    if (!state) return fallback(ctx, next);
    if ('failure' in state) {
      // Settings that cannot be applied close the server; they never fall back to open local mode.
      ctx.res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' });
      ctx.res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: state.failure }));
      return;
    }
    const resource = resourceFor(state, ctx.req, ctx.url.pathname);
    const base = { realm: state.config.issuer, resourceMetadata: resourceMetadataUrl(resource), scopes: state.config.scopes };
    const raw = ctx.req.headersDistinct?.['authorization'] ?? (ctx.req.headers.authorization ? [ctx.req.headers.authorization] : []);
    if (raw.length === 0) {
      respond(ctx.res, 401, bearerChallenge(base), { error: 'unauthorized', error_description: 'This MCP server requires an access token (Authorization: Bearer).' });
      return;
    }
    try {
      if (raw.length > 1) throw new AuthFailure('invalid_request', 'Send exactly one Authorization header.', 400);
      const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(raw[0]!);
      if (!m) throw new AuthFailure('invalid_request', 'The Authorization header must be "Bearer <token>".');
      const token = m[1]!;
      ctx.identity = { ...(await state.validator.validate(token)), local: false, presentedToken: () => token };
    } catch (err) {
      const f = err instanceof AuthFailure ? err : new AuthFailure('invalid_token', 'The access token is invalid.');
      if (f.status === 503) {
        ctx.res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10' });
        ctx.res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: f.description }));
        return;
      }
      respond(ctx.res, f.status, bearerChallenge({ ...base, error: f.error, description: f.description }), { error: f.error, error_description: f.description });
      return;
    }
    return next();
  };
}

/**
 * /.well-known/oauth-protected-resource (root and path-inserted): served without authentication. Any
 * other /.well-known path is a JSON 404, so OAuth clients probing around get parseable answers.
 */
export function handleWellKnown(state: AuthState | { failure: string } | undefined, req: IncomingMessage, res: ServerResponse, pathname: string): void {
  const origin = req.headers.origin;
  if (req.method === 'OPTIONS') {
    sendMetadata(res, 204, undefined, origin);
    return;
  }
  if (!state || 'failure' in state || !pathname.startsWith('/.well-known/oauth-protected-resource')) {
    sendMetadata(res, 404, { error: 'not_found' }, origin);
    return;
  }
  const resourcePath = pathname.slice('/.well-known/oauth-protected-resource'.length) || '/';
  sendMetadata(res, 200, protectedResourceMetadata({ resourceUrl: resourceFor(state, req, resourcePath), issuer: state.config.issuer, scopes: state.config.scopes, resourceName: state.serverName }), origin);
}
