import type { ServerResponse } from 'node:http';

/** RFC 9728 protected resource metadata for one server. */
export function protectedResourceMetadata(p: { resourceUrl: string; issuer: string; scopes: string[]; resourceName: string }): Record<string, unknown> {
  return {
    resource: p.resourceUrl,
    authorization_servers: [p.issuer],
    bearer_methods_supported: ['header'],
    scopes_supported: p.scopes.length > 0 ? p.scopes : ['openid'],
    resource_name: p.resourceName,
  };
}

/** Public metadata is readable from any web page (browser-based MCP clients need it). */
export function metadataCorsHeaders(origin: string | undefined): Record<string, string> {
  return {
    'access-control-allow-origin': origin ?? '*',
    'access-control-allow-methods': 'GET, OPTIONS',
    'access-control-allow-headers': 'mcp-protocol-version, content-type, authorization',
    'access-control-max-age': '86400',
    vary: 'Origin',
  };
}

export function sendMetadata(res: ServerResponse, status: number, body: unknown, origin: string | undefined): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...metadataCorsHeaders(origin) });
  res.end(text);
}
