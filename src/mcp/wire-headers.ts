import type { IncomingHttpHeaders } from 'node:http';
import type { ParsedMessage } from './parsed.js';

/**
 * The 2026-07-28 wire's request headers that repeat the body (`Mcp-Method`, `Mcp-Name`): a server or an
 * intermediary may route on them, so a header that says another method or name than the body is refused
 * (-32020), and the proxy forwards the values it read from the body, never the caller's spelling.
 */

const SENTINEL = /^=\?base64\?(.*)\?=$/;

/** Decodes the `=?base64?...?=` form used for values that are not plain ASCII. */
export function decodeHeaderValue(v: string): string {
  const m = SENTINEL.exec(v);
  return m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : v;
}

/** A header value for a string: as is when it is safe visible ASCII, else the base64 sentinel form. */
export function encodeHeaderValue(v: string): string {
  const safe = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(v) && !v.startsWith('=?');
  return safe ? v : `=?base64?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

/** The methods whose requests must carry Mcp-Name on the 2026-07-28 wire. */
const NAME_REQUIRED = new Set(['tools/call', 'prompts/get', 'resources/read']);

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? undefined : v;
}

/**
 * Why the Mcp-Method / Mcp-Name headers do not fit the message, or undefined when they do. `required`:
 * the request is on the 2026-07-28 wire, where both must be present (Mcp-Name for methods with a target).
 */
export function wireHeaderMismatch(headers: IncomingHttpHeaders, message: ParsedMessage, required: boolean): string | undefined {
  if (Array.isArray(headers['mcp-method']) || Array.isArray(headers['mcp-name'])) return 'Mcp-Method and Mcp-Name may each be sent once.';
  const method = single(headers, 'mcp-method');
  if (method === undefined ? required : decodeHeaderValue(method) !== message.method) return 'Mcp-Method header is missing or does not match the body.';
  const name = single(headers, 'mcp-name');
  if (name === undefined) return required && message.method !== undefined && NAME_REQUIRED.has(message.method) ? 'Mcp-Name header is missing or does not match the body.' : undefined;
  if (message.target === undefined || decodeHeaderValue(name) !== message.target) return 'Mcp-Name header is missing or does not match the body.';
  return undefined;
}

/** The headers to forward for a message: derived from the body, whatever the caller wrote. */
export function wireHeadersFor(message: ParsedMessage): Record<string, string> {
  const out: Record<string, string> = {};
  if (message.method !== undefined) out['mcp-method'] = encodeHeaderValue(message.method);
  if (message.target !== undefined) out['mcp-name'] = encodeHeaderValue(message.target);
  return out;
}
