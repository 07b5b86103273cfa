import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { runCli } from '../support/cli.js';
import { useDockerCore } from '../support/core-harness.js';
import { TEST_IMAGE, TEST_NODE_IMAGE } from '../support/docker.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { startTestSts, type TestSts } from '../support/sts.js';

/**
 * Token exchange (RFC 8693, ToolHive's tokenExchange) toward a server in a container: the caller signs
 * in at a real identity provider, the proxy exchanges the caller's token at a real token service
 * (oidc-provider with the token-exchange grant), and the server receives the exchanged token, never
 * the caller's. Exchanges are cached per caller; failures are JSON-RPC errors with the right status.
 */
describe('token exchange toward a server in a container', () => {
  const env = useDockerCore();
  let idp: TestIdp;
  let sts: TestSts;
  let echo: ServerView;

  const tokenFor = async (sub: string) => registerTestSecret(`caller token ${sub}`, (await idp.userToken({ sub, resource: echo.url })).accessToken);
  const connect = async (token: string, extra: Record<string, string> = {}): Promise<Client> => {
    const client = new Client({ name: 'token-exchange-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(echo.url), { requestInit: { headers: { ...extra, authorization: `Bearer ${token}` } } }));
    return client;
  };
  const headersSeen = async (client: Client) => JSON.parse(textOf(await client.callTool({ name: 'headers', arguments: {} }))) as { authorization: string | null; 'x-upstream-token': string | null };
  const initialize = (token: string) =>
    fetch(echo.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
  const exchangesOf = (sub: string) => sts.exchanges().filter((e) => e.subject === sub);

  beforeAll(async () => {
    idp = await startTestIdp();
    sts = await startTestSts({ subjectIssuer: idp.issuer, subjectJwksUri: idp.jwksUri });
    registerTestSecret('sts client secret', sts.client.clientSecret);
    await env.t.api.setSecret({ name: 'sts-client', value: sts.client.clientSecret });
    echo = await env.t.api.run({
      image: TEST_NODE_IMAGE,
      name: 'echo',
      transport: 'streamable-http',
      args: ['-e', ECHO_HEADERS_SERVER],
      auth: { type: 'inline', inline: { issuer: idp.issuer } },
      // The operator's spelling, as in an MCPExternalAuthConfig of type tokenExchange.
      tokenExchange: { tokenUrl: sts.tokenUrl, clientId: sts.client.clientId, clientSecretRef: { name: 'sts-client' }, audience: 'backend-api', scopes: ['backend:read', 'backend:write'] },
    });
    expect(echo.status).toBe('running');
  });
  afterAll(async () => {
    await sts?.stop();
    await idp?.stop();
  });

  it("sends the exchanged token to the server, never the caller's, and exchanges once per caller", async () => {
    const alice = await tokenFor('alice');
    const client = await connect(alice);
    try {
      const seen = await headersSeen(client);
      expect(seen.authorization).toMatch(/^Bearer /);
      const sent = seen.authorization!.slice(7);
      expect(sent).not.toBe(alice);
      const claims = decodeJwt(sent);
      expect(claims.iss).toBe(sts.issuer);
      expect(claims.sub).toBe('alice');
      expect(claims.aud).toBe('backend-api');
      expect(claims['act']).toEqual({ sub: sts.client.clientId });
      expect(claims['scope']).toBe('backend:read backend:write');
      // What the token service was asked (RFC 8693 §2.1).
      expect(exchangesOf('alice')[0]).toMatchObject({ audience: 'backend-api', scope: 'backend:read backend:write', subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token', outcome: 'issued' });
      await client.listTools();
      await headersSeen(client);
      // initialize, its notification, two calls and a list: one exchange (ToolHive would make one per request).
      expect(exchangesOf('alice')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it("shares one exchange among a caller's concurrent requests, and keeps callers apart", async () => {
    const bob = await tokenFor('bob');
    const carol = await tokenFor('carol');
    const [b, c] = await Promise.all([connect(bob), connect(carol)]);
    try {
      const seen = await Promise.all([...Array.from({ length: 4 }, () => headersSeen(b)), ...Array.from({ length: 4 }, () => headersSeen(c))]);
      expect(new Set(seen.slice(0, 4).map((s) => decodeJwt(s.authorization!.slice(7)).sub))).toEqual(new Set(['bob']));
      expect(new Set(seen.slice(4).map((s) => decodeJwt(s.authorization!.slice(7)).sub))).toEqual(new Set(['carol']));
      expect(exchangesOf('bob')).toHaveLength(1);
      expect(exchangesOf('carol')).toHaveLength(1);
    } finally {
      await Promise.all([b.close(), c.close()]);
    }
  });

  it('answers JSON-RPC errors, not a plain-text 401: 503 while the token service is down, 401 with a challenge when it refuses the caller', async () => {
    sts.setMode('503');
    try {
      const res = await initialize(await tokenFor('dave'));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('10');
      const body = (await res.json()) as { jsonrpc: string; error: { message: string } };
      expect(body.jsonrpc).toBe('2.0');
      expect(body.error.message).toMatch(/token service .* answered 503/);
    } finally {
      sts.setMode('up');
    }
    sts.setMode('refuse');
    try {
      const res = await initialize(await tokenFor('erin'));
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('error="invalid_token"');
      expect(challenge).toContain(`resource_metadata="${new URL(echo.url).origin}/.well-known/oauth-protected-resource/mcp"`);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/refused your token \(invalid_grant/);
      expect(body.error.message).toMatch(/Sign in again/);
    } finally {
      sts.setMode('up');
    }
    // Once the service is back, the same caller gets through (a failure is not cached).
    const client = await connect(await tokenFor('erin'));
    try {
      expect(decodeJwt((await headersSeen(client)).authorization!.slice(7)).sub).toBe('erin');
    } finally {
      await client.close();
    }
  });

  it("says the settings are wrong (502) when the token service refuses Gatehouse's client", async () => {
    await env.t.api.setSecret({ name: 'sts-client', value: 'not-the-secret' });
    try {
      const res = await initialize(await tokenFor('frank'));
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/refused Gatehouse's client credentials \(401\)/);
      expect(body.error.message).toMatch(/check the token exchange client id and secret/);
      expect(body.error.message).not.toContain('not-the-secret');
    } finally {
      await env.t.api.setSecret({ name: 'sts-client', value: sts.client.clientSecret });
    }
  });

  it('takes the runner spelling: its clear client secret goes to the keychain, SQLite holds only the name', async () => {
    const view = await env.t.api.setTokenExchange({
      name: 'echo',
      settings: { token_exchange_config: { token_url: sts.tokenUrl, client_id: sts.client.clientId, client_secret: sts.client.clientSecret, audience: 'backend-api', header_strategy: 'custom', external_token_header_name: 'X-Upstream-Token' } },
    });
    // echo exchanges already: the new settings reach its running proxy at the next request, no restart.
    expect(view).toMatchObject({ clientSecretName: 'echo-token-exchange', headerName: 'x-upstream-token', audience: 'backend-api', applies: 'next-request' });
    expect((await env.t.api.secrets()).secrets.map((s) => s.name)).toContain('echo-token-exchange');
    const db = fs.readFileSync(path.join(env.t.home, 'gatehouse.db'));
    expect(db.includes(Buffer.from(sts.client.clientSecret))).toBe(false);
    // The caller's token stays with the proxy and the exchanged one now goes in the custom header.
    // The caller sends a header of that name too: it never reaches the server, only the exchanged token does.
    const client = await connect(await tokenFor('grace'), { 'X-Upstream-Token': 'Bearer forged-by-caller' });
    try {
      const seen = await headersSeen(client);
      expect(seen.authorization).toBeNull();
      expect(seen['x-upstream-token']).not.toContain('forged-by-caller');
      expect(decodeJwt(seen['x-upstream-token']!.slice(7))).toMatchObject({ sub: 'grace', iss: sts.issuer });
    } finally {
      await client.close();
    }
  });

  it('refuses settings a server cannot carry, and bad settings never replace good ones', async () => {
    const before = await env.t.api.tokenExchange({ name: 'echo' });
    const refusals: [unknown, RegExp][] = [
      [{ tokenUrl: 'http://sts.example.com/token', audience: 'a' }, /must be https/],
      [{ tokenUrl: sts.tokenUrl, externalTokenHeaderName: 'Mcp-Session-Id' }, /cannot be Mcp-Session-Id/],
      [{ tokenUrl: sts.tokenUrl, clientSecretRef: { name: 'no-such-secret' } }, /No secret named no-such-secret/],
      [{ kind: 'MCPServer', spec: {} }, /MCPExternalAuthConfig/],
      [{ tokenUrl: sts.tokenUrl, subjectTokenType: 'saml2' }, /subjectTokenType/],
    ];
    for (const [settings, message] of refusals) {
      await expect(env.t.api.setTokenExchange({ name: 'echo', settings })).rejects.toThrow(message);
    }
    expect(await env.t.api.tokenExchange({ name: 'echo' })).toEqual(before);
    // A stdio server has no header to carry it; a local-mode server no token to exchange. Neither is created.
    await expect(env.t.api.run({ image: TEST_IMAGE, name: 'stdio-x', tokenExchange: { tokenUrl: sts.tokenUrl }, auth: { type: 'inline', inline: { issuer: idp.issuer } } })).rejects.toThrow(/speaks stdio/);
    await expect(env.t.api.run({ image: TEST_NODE_IMAGE, name: 'open-x', transport: 'streamable-http', args: ['-e', ECHO_HEADERS_SERVER], tokenExchange: { tokenUrl: sts.tokenUrl } })).rejects.toThrow(/without a token/);
    const names = (await env.t.api.listServers()).map((s) => s.name);
    expect(names).not.toContain('stdio-x');
    expect(names).not.toContain('open-x');
  });

  it("takes ToolHive's --token-exchange-* flags on gatehouse run, and shows and removes them", async () => {
    const r = await runCli(env.t.home, [
      'run', TEST_NODE_IMAGE, '--name', 'echo2', '--transport', 'streamable-http', '--oidc-issuer', idp.issuer,
      '--token-exchange-url', sts.tokenUrl, '--token-exchange-client-id', sts.client.clientId, '--token-exchange-client-secret', 'sts-client',
      '--token-exchange-audience', 'other-api', '--token-exchange-scopes', 'a,b', '--token-exchange-subject-token-type', 'access_token',
      '--', '-e', ECHO_HEADERS_SERVER,
    ], { timeoutMs: 90_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const shown = await runCli(env.t.home, ['auth', 'token-exchange', 'echo2']);
    expect(shown.stdout).toContain(`exchanged at ${sts.tokenUrl}`);
    expect(shown.stdout).toContain('secret in the keychain: sts-client');
    expect(shown.stdout).toContain('audience:   other-api');
    expect(shown.stdout).not.toContain(sts.client.clientSecret);
    const echo2 = await env.t.api.getServer({ name: 'echo2' });
    expect(echo2.tokenExchange).toMatchObject({ audience: 'other-api', scopes: ['a', 'b'], headerName: 'authorization' });
    const token = registerTestSecret('caller token heidi', (await idp.userToken({ sub: 'heidi', resource: echo2.url })).accessToken);
    const client = new Client({ name: 'cli-flags', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(echo2.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      expect(decodeJwt((await headersSeen(client)).authorization!.slice(7))).toMatchObject({ sub: 'heidi', aud: 'other-api', scope: 'a b' });
    } finally {
      await client.close();
    }
    const removed = await runCli(env.t.home, ['auth', 'token-exchange', 'echo2', '--none']);
    expect(removed.code).toBe(0);
    expect((await env.t.api.getServer({ name: 'echo2' })).tokenExchange).toBeNull();
    expect(removed.stdout).toContain('Restart it to apply: gatehouse restart echo2');
    // Until then its running proxy refuses, rather than send requests on without the exchanged token.
    const refused = await fetch(echo2.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/was removed while it runs: restart it/);
    const usage = await runCli(env.t.home, ['auth', 'token-exchange', 'echo2', '--token-exchange-audience', 'x']);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toMatch(/--token-exchange-url is required/);
  });
});
