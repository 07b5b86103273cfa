import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface ProtectedMcpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:PORT/mcp: also the RFC 8707 resource its tokens must name. */
  url: string;
  /** Every Authorization header it was sent, in order (to prove which token reached it). */
  seenAuthorization: (string | undefined)[];
  /** Claims of the tokens it accepted. */
  accepted: JWTPayload[];
  /** Answer 401 to everything from now on (a revoked sign-in), or stop doing so. */
  refuseAll(on: boolean): void;
  close(): Promise<void>;
}

/**
 * A real MCP server (the SDK's McpServer on its Streamable HTTP transport, stateless) that is an OAuth
 * resource server as the MCP authorization spec has it: a bearer JWT from the issuer, for its own URL
 * as audience; otherwise 401 with `WWW-Authenticate: Bearer resource_metadata=...`, and its RFC 9728
 * metadata at the well-known path, naming the issuer.
 */
export async function startProtectedMcpServer(idp: { issuer: string; jwksUri: string }, opts: { scopes?: string[] } = {}): Promise<ProtectedMcpServer> {
  const issuer = idp.issuer;
  const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
  const seenAuthorization: (string | undefined)[] = [];
  const accepted: JWTPayload[] = [];
  let refuse = false;
  let url = '';
  let metadataUrl = '';
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ resource: url, authorization_servers: [issuer], scopes_supported: opts.scopes ?? ['openid', 'offline_access'], bearer_methods_supported: ['header'] }));
        return;
      }
      if (!req.url?.startsWith('/mcp')) {
        res.writeHead(404).end();
        return;
      }
      const authorization = req.headers.authorization;
      seenAuthorization.push(authorization);
      const challenge = () => {
        req.resume();
        res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${metadataUrl}"`, 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_token' }));
      };
      if (refuse || !authorization?.startsWith('Bearer ')) return challenge();
      let claims: JWTPayload;
      try {
        claims = (await jwtVerify(authorization.slice(7), jwks, { issuer, audience: url })).payload;
      } catch {
        return challenge();
      }
      accepted.push(claims);
      const mcp = new McpServer({ name: 'protected', version: '1.0.0' });
      mcp.registerTool('whoami', { description: 'Who the server sees' }, () => ({ content: [{ type: 'text', text: String(claims.sub) }] }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => void transport.close().then(() => mcp.close()));
      await mcp.connect(transport);
      await transport.handleRequest(req, res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}/mcp`;
  metadataUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
  return {
    url,
    seenAuthorization,
    accepted,
    refuseAll: (on) => void (refuse = on),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
