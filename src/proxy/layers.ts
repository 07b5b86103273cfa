import os from 'node:os';
import type { Middleware } from './pipeline/index.js';
import type { ProxyLog } from './types.js';

/** One structured proxy log line per MCP request: what was asked, by whom, how it ended, how long it took. */
export function requestLogLayer(log: ProxyLog): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    ctx.res.once('finish', () => {
      const first = ctx.request?.messages[0];
      const mcpMethod = first?.method;
      const target = first?.target;
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
