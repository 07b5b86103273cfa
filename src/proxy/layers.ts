import os from 'node:os';
import { BodyTooLargeError, isAllowedHost, isAllowedOrigin, readBody, sendJsonRpcError } from './http-util.js';
import { classify, ErrorCodes, isRequest, type JsonRpcMessage } from './jsonrpc.js';
import type { Middleware } from './middleware.js';
import type { ProxyLog } from './types.js';

/**
 * Outermost layer: DNS-rebinding defence (Host and Origin must be loopback) and the body limit.
 * POST bodies are read once here, parsed, and validated as JSON-RPC, so inner layers never re-parse.
 */
export function guardLayer(opts: { allowedOrigins?: readonly string[]; maxBodyBytes?: number } = {}): Middleware {
  return async (ctx, next) => {
    if (!isAllowedHost(ctx.req.headers.host) || !isAllowedOrigin(ctx.req.headers.origin, opts.allowedOrigins)) {
      sendJsonRpcError(ctx.res, 403, ErrorCodes.InvalidRequest, 'Forbidden: this MCP proxy only accepts requests from this machine (Host and Origin must be loopback).');
      return;
    }
    if (ctx.req.method !== 'POST') return next();
    const contentType = String(ctx.req.headers['content-type'] ?? '');
    if (!/^application\/(.+\+)?json\b/i.test(contentType)) {
      sendJsonRpcError(ctx.res, 415, ErrorCodes.InvalidRequest, 'Unsupported Media Type: Content-Type must be application/json.');
      return;
    }
    try {
      ctx.rawBody = await readBody(ctx.req, opts.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        sendJsonRpcError(ctx.res, 413, ErrorCodes.InvalidRequest, err.message);
        ctx.req.resume();
        return;
      }
      throw err;
    }
    try {
      ctx.body = JSON.parse(ctx.rawBody.toString('utf8'));
    } catch {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.ParseError, 'Parse error: the body is not valid JSON.');
      return;
    }
    const items: unknown[] = Array.isArray(ctx.body) ? ctx.body : [ctx.body];
    if (items.length === 0) {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.InvalidRequest, 'Invalid Request: empty batch.');
      return;
    }
    const messages: JsonRpcMessage[] = [];
    for (const item of items) {
      const c = classify(item);
      if ('invalid' in c) {
        const id = typeof item === 'object' && item !== null && 'id' in item ? ((item as { id: unknown }).id as string | number) : null;
        sendJsonRpcError(ctx.res, 400, ErrorCodes.InvalidRequest, `Invalid Request: ${c.invalid}.`, typeof id === 'string' || typeof id === 'number' ? id : null);
        return;
      }
      messages.push(c.message);
    }
    ctx.messages = messages;
    return next();
  };
}

/** One structured proxy log line per MCP request: what was asked, by whom, how it ended, how long it took. */
export function requestLogLayer(log: ProxyLog): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    ctx.res.once('finish', () => {
      const first = ctx.messages?.[0];
      const mcpMethod = first && 'method' in first ? first.method : undefined;
      const params = first && isRequest(first) ? first.params : undefined;
      const target = typeof params?.['name'] === 'string' ? params['name'] : typeof params?.['uri'] === 'string' ? params['uri'] : undefined;
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const status = ctx.res.statusCode;
      const what = mcpMethod ? `${mcpMethod}${target ? ` ${target}` : ''}` : `${ctx.req.method} ${ctx.url.pathname}`;
      log(status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info', `${what} → ${status} (${durationMs} ms)`, {
        httpMethod: ctx.req.method,
        path: ctx.url.pathname,
        mcpMethod,
        target,
        status,
        durationMs,
        session: ctx.req.headers['mcp-session-id'],
        subject: ctx.identity?.subject,
      });
    });
    return next();
  };
}

/** Local mode (no authentication configured): the caller is the OS user, as in ToolHive. */
export function localIdentityLayer(): Middleware {
  const user = safeUsername();
  return async (ctx, next) => {
    ctx.identity ??= { subject: user, name: user, groups: [], scopes: [], claims: { sub: user }, local: true };
    return next();
  };
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'local-user';
  }
}

