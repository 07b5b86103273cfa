import type { IncomingMessage } from 'node:http';
import { MIMEType } from 'node:util';
import { ErrorCodes, McpFrameError, parseBody } from '../../mcp/index.js';
import { BodyTooLargeError, MAX_BODY_BYTES, readBody, sendJsonRpcError } from '../http-util.js';
import type { Middleware } from './context.js';

/** The HTTP methods MCP's HTTP transports define; anything else never reaches a backend. */
export const MCP_HTTP_METHODS: readonly string[] = ['GET', 'POST', 'DELETE'];

/** Why a Content-Type cannot carry an MCP body, or undefined when it can (application/json, UTF-8). */
export function unsupportedContentType(header: string | undefined): string | undefined {
  if (!header) return 'Content-Type must be application/json.';
  let type: MIMEType;
  try {
    type = new MIMEType(header);
  } catch {
    return 'Content-Type must be application/json.';
  }
  if (type.essence !== 'application/json') return 'Content-Type must be application/json.';
  const charset = type.params.get('charset');
  // JSON is UTF-8 (RFC 8259). A server that honoured another charset would read other bytes than the ones authorized.
  if (charset !== null && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') return `the charset must be utf-8 (got ${charset}).`;
  return undefined;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The request half of the pipeline, after the Host/Origin check: only MCP's HTTP methods pass, only
 * POST carries a body, and that body is read once (size-limited), decoded as UTF-8 and parsed strictly
 * into ctx.request, which every inner layer reads and the backend forwards canonically. Whatever cannot
 * be read exactly one way is refused here, before audit, authentication or authorization see it.
 */
export function requestGuard(opts: { maxBodyBytes?: number } = {}): Middleware {
  return async (ctx, next) => {
    const method = ctx.req.method ?? '';
    if (!MCP_HTTP_METHODS.includes(method)) {
      ctx.res.setHeader('allow', MCP_HTTP_METHODS.join(', '));
      sendJsonRpcError(ctx.res, 405, ErrorCodes.InvalidRequest, `Method Not Allowed: MCP over HTTP uses ${MCP_HTTP_METHODS.join(', ')}.`);
      ctx.req.resume();
      return;
    }
    if (method !== 'POST') {
      if (hasBody(ctx.req)) {
        sendJsonRpcError(ctx.res, 400, ErrorCodes.InvalidRequest, `Bad Request: a ${method} request carries no body.`);
        ctx.req.resume();
        return;
      }
      return next();
    }
    const unsupported = unsupportedContentType(ctx.req.headers['content-type']);
    if (unsupported) {
      sendJsonRpcError(ctx.res, 415, ErrorCodes.InvalidRequest, `Unsupported Media Type: ${unsupported}`);
      ctx.req.resume();
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(ctx.req, opts.maxBodyBytes ?? MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        sendJsonRpcError(ctx.res, 413, ErrorCodes.InvalidRequest, err.message);
        ctx.req.resume();
        return;
      }
      throw err;
    }
    try {
      ctx.request = parseBody(body);
    } catch (err) {
      if (!(err instanceof McpFrameError)) throw err;
      sendJsonRpcError(ctx.res, err.status, err.code, err.message, err.id);
      return;
    }
    return next();
  };
}
