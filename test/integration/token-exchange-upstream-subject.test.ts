import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type Docker from 'dockerode';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { launchBrowser } from '../support/browser.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_NODE_IMAGE } from '../support/docker.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { signInThroughGatehouse, type TestClientProvider } from '../support/mcp-oauth-client.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';
import { freePort } from '../support/ports.js';
import { startTestSts, type TestSts } from '../support/sts.js';

/**
 * Token exchange with `subjectProviderName` (ToolHive's tokenExchange of the embedded authorization
 * server's upstream token): an MCP client signs in through Gatehouse's authorization server to the
 * upstream (oidc-provider, in Chromium); the proxy exchanges the user's UPSTREAM token (not the
 * token Gatehouse issued to the client) at a real token service, and the MCP server receives the
 * exchanged one. Real core, keychain, SQLite, Docker.
 */
describe('token exchange of the upstream token (subjectProviderName)', () => {
  let docker: Docker;
  let upstream: TestIdp;
  let sts: TestSts;
  let browser: Browser;
  let t: TestCore;
  let issuer: string;
  let upstreamClientId: string;
  let early: ServerView;
  let echo: ServerView;

  const exchangeSettings = () => ({ tokenUrl: sts.tokenUrl, clientId: sts.client.clientId, clientSecretRef: { name: 'sts-client' }, audience: 'backend-api', scopes: ['backend:read'], subjectProviderName: 'corp' });
  const run = (name: string) =>
    t.api.run({ image: TEST_NODE_IMAGE, name, transport: 'streamable-http', args: ['-e', ECHO_HEADERS_SERVER], auth: { type: 'inline', inline: { issuer } }, tokenExchange: exchangeSettings() });

  beforeAll(async () => {
    docker = await requireDocker();
    upstream = await startTestIdp({ registration: true });
    // The token service trusts the upstream: its access tokens are opaque, so it asks the upstream about them.
    sts = await startTestSts({ subjectIssuer: upstream.issuer, subjectJwksUri: upstream.jwksUri, subjectIntrospection: upstream.introspection });
    browser = await launchBrowser();
    t = await startTestCore();
    issuer = `http://127.0.0.1:${await freePort()}`;
    const reg = await registerConfidentialClient(upstream, { name: 'Gatehouse', redirectUri: `${issuer}/oauth/callback` });
    upstreamClientId = reg.client_id;
    await t.api.setSecret({ name: 'upstream-idp-secret.client-secret', value: registerTestSecret('upstream client secret', reg.client_secret) });
    await t.api.setSecret({ name: 'sts-client', value: registerTestSecret('sts client secret', sts.client.clientSecret) });
    // One server made before the authorization server is set up (its proxy starts before it exists), one after.
    early = await run('early');
    await t.api.setAuthServer({
      document: `issuer: '${issuer}'
upstreamProviders:
  - name: corp
    type: oidc
    oidcConfig:
      issuerUrl: '${upstream.issuer}'
      clientId: '${reg.client_id}'
      clientSecretRef: { name: upstream-idp-secret, key: client-secret }
      scopes: [openid, offline_access]
`,
    });
    // A provider name the authorization server does not have is refused, with the name it has.
    await expect(t.api.run({ image: TEST_NODE_IMAGE, name: 'misnamed', transport: 'streamable-http', args: ['-e', ECHO_HEADERS_SERVER], auth: { type: 'inline', inline: { issuer } }, tokenExchange: { ...exchangeSettings(), subjectProviderName: 'okta' } })).rejects.toThrow(/upstream identity provider is named "corp": set subjectProviderName to corp/);
    echo = await run('echo');
    expect([early.status, echo.status]).toEqual(['running', 'running']);
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await sts?.stop();
    await upstream?.stop();
  });

  /** An MCP client signed in through Gatehouse for this server (its consent page, then the upstream as `login`). */
  const signedIn = (server: ServerView, login: string): Promise<TestClientProvider> => signInThroughGatehouse(browser, server.url, { login, clientName: 'Cursor' });

  const exchangeThrough = async (server: ServerView, login: string) => {
    const client = await signedIn(server, login);
    const ours = client.saved!.access_token;
    const before = sts.exchanges().length;
    const mcp = new Client({ name: 'cursor-stand-in', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(server.url), { authProvider: client }));
    try {
      const seen = [] as { authorization: string | null }[];
      for (let i = 0; i < 3; i++) seen.push(JSON.parse(textOf(await mcp.callTool({ name: 'headers', arguments: {} }))) as { authorization: string | null });
      return { ours, seen, exchanges: sts.exchanges().slice(before) };
    } finally {
      await mcp.close();
    }
  };

  it("exchanges the user's upstream token, not Gatehouse's, and the MCP server gets the exchanged token", async () => {
    const { ours, seen, exchanges } = await exchangeThrough(echo, 'alice');
    // The token service was asked once (initialize, its notification and three calls share one exchange)...
    expect(exchanges).toHaveLength(1);
    const asked = exchanges[0]!;
    expect(asked).toMatchObject({ outcome: 'issued', subject: 'alice', audience: 'backend-api', scope: 'backend:read', subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token' });
    // ...with the upstream's own token for alice, issued to Gatehouse's registration there, never the token Gatehouse issued.
    const subjectToken = registerTestSecret('upstream access token (alice)', asked.subjectToken!);
    expect(subjectToken).not.toBe(ours);
    expect(decodeJwt(ours).iss).toBe(issuer);
    expect(await upstream.introspect(subjectToken)).toMatchObject({ active: true, sub: 'alice', client_id: upstreamClientId, iss: upstream.issuer });

    // The server received the token service's token, the same on every call, and neither of the others.
    const sent = seen.map((s) => s.authorization);
    expect(new Set(sent).size).toBe(1);
    expect(sent[0]).toMatch(/^Bearer /);
    const exchanged = sent[0]!.slice(7);
    expect(exchanged).not.toBe(ours);
    expect(exchanged).not.toBe(subjectToken);
    expect(decodeJwt(exchanged)).toMatchObject({ iss: sts.issuer, sub: 'alice', aud: 'backend-api', scope: 'backend:read', act: { sub: sts.client.clientId } });
    expect(await t.api.tokenExchange({ name: 'echo' })).toMatchObject({ subjectProviderName: 'corp', audience: 'backend-api' });
  });

  it('works for a server whose proxy started before the authorization server was set up', async () => {
    const { ours, seen, exchanges } = await exchangeThrough(early, 'bob');
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({ outcome: 'issued', subject: 'bob' });
    const subjectToken = registerTestSecret('upstream access token (bob)', exchanges[0]!.subjectToken!);
    expect(subjectToken).not.toBe(ours);
    expect(await upstream.introspect(subjectToken)).toMatchObject({ active: true, sub: 'bob', client_id: upstreamClientId });
    expect(decodeJwt(seen[0]!.authorization!.slice(7))).toMatchObject({ iss: sts.issuer, sub: 'bob', aud: 'backend-api' });
  });
});
