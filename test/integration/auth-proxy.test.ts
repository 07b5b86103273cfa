import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { ServerView } from '../../src/api/index.js';
import { removeTestContainers, requireDocker, TEST_IMAGE } from '../support/docker.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import {
  algNone, badSignature, baseClaims, claimAttacks, createAttackerKey, hs256WithPublicKey, idTokenLike, KID_INJECTIONS, noKid, signedByIdp,
  startAttackerServer, withEmbeddedKeyHeader, withKid,
} from '../support/forge.js';
import { textOf } from '../support/mcp-client.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

async function post(url: string, headers: Record<string, string> = {}, body: unknown = INIT): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
}

async function callWithToken(url: string, token: string): Promise<string> {
  const client = new Client({ name: 'auth-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    return textOf(await client.callTool({ name: 'echo', arguments: { message: 'authenticated' } }));
  } finally {
    await client.close();
  }
}

describe('authentication at the proxy (real oidc-provider, real containers, real SDK client)', () => {
  let docker: Docker;
  let idp: TestIdp;
  let otherIdp: TestIdp;
  let t: TestCore;
  let a: ServerView;
  let b: ServerView;

  beforeAll(async () => {
    docker = await requireDocker();
    idp = await startTestIdp();
    otherIdp = await startTestIdp({ alg: 'ES256' });
    t = await startTestCore();
    a = await t.api.run({ image: TEST_IMAGE, name: 'secure-a', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    b = await t.api.run({ image: TEST_IMAGE, name: 'secure-b', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    expect(a.status).toBe('running');
  });

  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await idp?.stop();
    await otherIdp?.stop();
  });

  it('A1: no token → 401 with a Bearer challenge naming the metadata, and no error code', async () => {
    const res = await post(a.url);
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toBe(`Bearer realm="${idp.issuer}", resource_metadata="${new URL(a.url).origin}/.well-known/oauth-protected-resource/mcp"`);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('A24: serves protected resource metadata, path-inserted and root, without auth, with CORS', async () => {
    const origin = new URL(a.url).origin;
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      // A browser-based client on this machine (the MCP Inspector's own origin) reads it, with CORS.
      const res = await fetch(`${origin}${path}`, { headers: { origin: 'http://localhost:6274' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
      expect(await res.json()).toMatchObject({ resource: a.url, authorization_servers: [idp.issuer], bearer_methods_supported: ['header'] });
      // A page of another site gets what it would get for MCP itself: nothing (DNS rebinding, CSRF).
      const foreign = await fetch(`${origin}${path}`, { headers: { origin: 'https://inspector.example' } });
      expect(foreign.status).toBe(403);
    }
    // The client's spelling of the host is the resource it gets (SDK clients require origin + path prefix).
    const local = await fetch(`http://localhost:${a.proxyPort}/.well-known/oauth-protected-resource/mcp`);
    expect(((await local.json()) as { resource: string }).resource).toBe(`http://localhost:${a.proxyPort}/mcp`);
    const other = await fetch(`${origin}/.well-known/openid-configuration`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'not_found' });
  });

  it('accepts a valid token from the issuer: the SDK client calls a tool in the container', async () => {
    const token = await idp.clientCredentialsToken({ resource: a.url });
    expect(await callWithToken(a.url, token)).toContain('authenticated');
    const logs = await t.api.logs({ server: 'secure-a', sources: ['proxy'] });
    expect(logs.some((l) => l.fields?.['subject'] === idp.clients.m2m.clientId)).toBe(true);
  });

  it('lets an MCP client that speaks the authorization spec discover the authorization server from the 401 alone', async () => {
    let authUrl: URL | undefined;
    let saved: OAuthTokens | undefined;
    let verifier = '';
    const provider: OAuthClientProvider = {
      redirectUrl: idp.clients.native.redirectUri,
      clientMetadata: { redirect_uris: [idp.clients.native.redirectUri], client_name: 'auth-test', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] },
      clientInformation: (): OAuthClientInformationMixed => ({ client_id: idp.clients.native.clientId }),
      tokens: () => saved,
      saveTokens: (tk) => {
        saved = tk;
      },
      redirectToAuthorization: (u) => {
        authUrl = u;
      },
      saveCodeVerifier: (v) => {
        verifier = v;
      },
      codeVerifier: () => verifier,
    };
    const transport = new StreamableHTTPClientTransport(new URL(a.url), { authProvider: provider });
    const client = new Client({ name: 'spec-client', version: '1' });
    await expect(client.connect(transport)).rejects.toThrow(UnauthorizedError);
    expect(authUrl?.origin).toBe(idp.issuer); // found through PRM → AS metadata, from the 401 alone
    expect(authUrl?.searchParams.get('resource')).toBe(a.url);
    const redirect = await idp.authorize(authUrl!, 'alice', idp.clients.native.redirectUri);
    await transport.finishAuth(redirect.searchParams.get('code')!);
    const again = new Client({ name: 'spec-client', version: '1' });
    await again.connect(new StreamableHTTPClientTransport(new URL(a.url), { authProvider: provider }));
    expect(textOf(await again.callTool({ name: 'echo', arguments: { message: 'via spec flow' } }))).toContain('via spec flow');
    await again.close();
  });

  it('A2/A3: malformed tokens, other schemes, two headers and query-string tokens are refused', async () => {
    const valid = await idp.clientCredentialsToken({ resource: a.url });
    for (const auth of ['Bearer abc', 'Basic dXNlcjpwYXNz', 'Bearer', `Token ${valid}`]) {
      const res = await post(a.url, { authorization: auth });
      expect(res.status, auth).toBe(401);
    }
    const two = await fetch(a.url, {
      method: 'POST',
      headers: [['content-type', 'application/json'], ['accept', 'application/json, text/event-stream'], ['authorization', `Bearer ${valid}`], ['authorization', `Bearer ${valid}`]],
      body: JSON.stringify(INIT),
    });
    expect([400, 401]).toContain(two.status);
    const query = await post(`${a.url}?access_token=${valid}`);
    expect(query.status).toBe(401);
    const logs = await t.api.logs({ server: 'secure-a', sources: ['proxy'], limit: 50 });
    expect(JSON.stringify(logs)).not.toContain(valid);
  });

  it('A4-A9: alg none, HS256 with the public key, bad signatures, kid injection, embedded keys: 401, attacker never fetched', async () => {
    const claims = baseClaims(idp, a.url);
    const attacker = createAttackerKey();
    const server = await startAttackerServer(attacker);
    const tokens: Record<string, string> = {
      algNone: algNone(claims),
      algNoneUpper: algNone(claims, { alg: 'NONE' }),
      hs256Pem: hs256WithPublicKey(idp, claims, 'pem'),
      hs256Jwk: hs256WithPublicKey(idp, claims, 'jwk-json'),
      badSignature: badSignature(signedByIdp(idp, claims)),
      jku: withEmbeddedKeyHeader(claims, 'jku', server.jwksUrl, { key: attacker }),
      x5u: withEmbeddedKeyHeader(claims, 'x5u', server.x5uUrl, { key: attacker }),
      jwk: withEmbeddedKeyHeader(claims, 'jwk', attacker),
      x5c: withEmbeddedKeyHeader(claims, 'x5c', attacker),
      ...Object.fromEntries(Object.entries(KID_INJECTIONS).map(([k, kid]) => [`kid-${k}`, withKid(idp, claims, kid)])),
      kidHs256Empty: withKid(idp, claims, KID_INJECTIONS.pathTraversalShort, 'hs256-empty'),
    };
    try {
      for (const [name, token] of Object.entries(tokens)) {
        const res = await post(a.url, { authorization: `Bearer ${token}` });
        expect(res.status, name).toBe(401);
        expect(res.headers.get('www-authenticate'), name).toMatch(/error="invalid_token"/);
      }
      expect(server.hits()).toEqual([]);
      // A9: no kid with a single-key JWKS verifies against the keys of the token's algorithm family.
      expect((await post(a.url, { authorization: `Bearer ${noKid(idp, claims)}` })).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('A10-A16: issuer, audience, expiry, not-before, issued-at and required claims', async () => {
    const attacks = claimAttacks(idp, a.url, { leewaySeconds: 30, otherResource: b.url, clientId: idp.clients.native.clientId });
    for (const [name, attack] of Object.entries(attacks)) {
      const res = await post(a.url, { authorization: `Bearer ${signedByIdp(idp, attack.claims)}` });
      expect(res.status, `${attack.row} ${name}`).toBe(attack.expect === 'accept' ? 200 : 401);
      await res.body?.cancel();
    }
    // A13: an ID token (aud = the client id) is not an access token here.
    expect((await post(a.url, { authorization: `Bearer ${idTokenLike(idp, idp.clients.native.clientId, 'alice')}` })).status).toBe(401);
    // Another issuer's valid token.
    expect((await post(a.url, { authorization: `Bearer ${await otherIdp.clientCredentialsToken({ resource: a.url })}` })).status).toBe(401);
  });

  it('A12: a token for one server is refused by another', async () => {
    const forB = await idp.clientCredentialsToken({ resource: b.url });
    expect((await post(a.url, { authorization: `Bearer ${forB}` })).status).toBe(401);
    expect((await post(b.url, { authorization: `Bearer ${forB}` })).status).toBe(200);
  });

  it('A22: a session id is not a credential: another principal cannot use it', async () => {
    const alice = (await idp.userToken({ sub: 'alice', resource: a.url })).accessToken;
    const bob = (await idp.userToken({ sub: 'bob', resource: a.url })).accessToken;
    const init = await post(a.url, { authorization: `Bearer ${alice}` });
    const session = init.headers.get('mcp-session-id')!;
    await init.body?.cancel();
    const hijack = await post(a.url, { authorization: `Bearer ${bob}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(hijack.status).toBe(404);
  });

  it('A20: picks up rotated keys, keeps working while the JWKS is down, and refetches at most once a minute for unknown kids', async () => {
    const r = await t.api.run({ image: TEST_IMAGE, name: 'rotating', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    const first = await idp.clientCredentialsToken({ resource: r.url });
    expect(await callWithToken(r.url, first)).toContain('authenticated');
    await idp.rotateKeys();
    const rotated = await idp.clientCredentialsToken({ resource: r.url });
    expect(await callWithToken(r.url, rotated)).toContain('authenticated');
    // A flood of unknown kids right after: no further fetch within the cooldown.
    const before = idp.jwksFetchCount();
    for (let i = 0; i < 20; i++) {
      const res = await post(r.url, { authorization: `Bearer ${withKid(idp, baseClaims(idp, r.url), `flood-${i}`)}` });
      expect(res.status).toBe(401);
    }
    expect(idp.jwksFetchCount() - before).toBeLessThanOrEqual(1);
    await idp.takeDown();
    try {
      // A token never seen before (so nothing but the keys is cached) still validates during the outage.
      const duringOutage = await idp.clientCredentialsToken({ resource: r.url });
      expect(await callWithToken(r.url, duringOutage)).toContain('authenticated');
    } finally {
      await idp.bringUp();
    }
  });

  it('A19: the client token never reaches the MCP server, and refused requests never reach the container', async () => {
    const h = await t.api.run({ image: TEST_IMAGE, name: 'secure-http', transport: 'streamable-http', args: ['streamableHttp'], auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    expect(h.status).toBe('running');
    const countPosts = async () => (await t.api.logs({ server: 'secure-http', sources: ['container'], limit: 5000 })).filter((l) => l.message.includes('Received MCP POST')).length;
    const token = await idp.clientCredentialsToken({ resource: h.url });
    expect(await callWithToken(h.url, token)).toContain('authenticated');
    await new Promise((r) => setTimeout(r, 300));
    const afterValid = await countPosts();
    expect(afterValid).toBeGreaterThan(0);
    for (const bad of [undefined, 'Bearer abc', `Bearer ${algNone(baseClaims(idp, h.url))}`]) {
      expect((await post(h.url, bad ? { authorization: bad } : {})).status).toBe(401);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await countPosts()).toBe(afterValid);
  });

  it('changes settings on a running server without restarting its container; a bad change keeps the old settings', async () => {
    const before = await t.api.getServer({ name: 'secure-b' });
    await t.api.setAuth({ name: 'secure-b', auth: { type: 'none' } });
    expect((await post(b.url)).status).toBe(200);
    await expect(t.api.setAuth({ name: 'secure-b', auth: { type: 'inline', inline: { issuer: 'not a url' } } })).rejects.toThrow(/issuer/);
    expect((await post(b.url)).status).toBe(200);
    await t.api.setAuth({ name: 'secure-b', auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    expect((await post(b.url)).status).toBe(401);
    const after = await t.api.getServer({ name: 'secure-b' });
    expect(after.containerId).toBe(before.containerId);
    expect(after.status).toBe('running');
  });

  it('shared profiles: many servers use one; editing it switches all of them at once', async () => {
    await t.api.putIdp({ name: 'corp', config: { issuer: idp.issuer } });
    await t.api.setAuth({ name: 'secure-a', auth: { type: 'configMap', configMap: { name: 'corp' } } });
    await t.api.setAuth({ name: 'secure-b', auth: { type: 'configMap', configMap: { name: 'corp' } } });
    expect((await t.api.idp({ name: 'corp' })).usedBy).toEqual(['secure-a', 'secure-b']);
    const fromFirst = await idp.clientCredentialsToken({ resource: a.url });
    expect((await post(a.url, { authorization: `Bearer ${fromFirst}` })).status).toBe(200);
    await t.api.putIdp({ name: 'corp', config: { issuer: otherIdp.issuer } });
    expect((await post(a.url, { authorization: `Bearer ${fromFirst}` })).status).toBe(401);
    expect((await post(a.url, { authorization: `Bearer ${await otherIdp.clientCredentialsToken({ resource: a.url })}` })).status).toBe(200);
    expect((await post(b.url, { authorization: `Bearer ${await otherIdp.clientCredentialsToken({ resource: b.url })}` })).status).toBe(200);
    await expect(t.api.removeIdp({ name: 'corp' })).rejects.toThrow(/used by secure-a, secure-b/);
  });

  it('Kubernetes service accounts: only the configured subject, with the configured audience', async () => {
    await t.api.setAuth({ name: 'secure-a', auth: { type: 'kubernetes', kubernetes: { serviceAccount: 'mcp-client', namespace: 'client-apps', issuer: idp.issuer, jwksUrl: idp.jwksUri, audience: a.url } } });
    const sa = (await idp.userToken({ sub: 'system:serviceaccount:client-apps:mcp-client', resource: a.url })).accessToken;
    const otherSa = (await idp.userToken({ sub: 'system:serviceaccount:client-apps:intruder', resource: a.url })).accessToken;
    expect(await callWithToken(a.url, sa)).toContain('authenticated');
    expect((await post(a.url, { authorization: `Bearer ${otherSa}` })).status).toBe(401);
  });

  it('opaque tokens go to RFC 7662 introspection with the client secret from the keychain provider', async () => {
    const t2 = await startTestCore({ secretsEnv: { GATEHOUSE_SECRETS_PROVIDER: 'environment', GATEHOUSE_SECRET_IDP_INTROSPECTION: idp.introspection.clientSecret } });
    try {
      const s = await t2.api.run({
        image: TEST_IMAGE, name: 'opaque', permissionProfile: 'none',
        auth: { type: 'inline', inline: { issuer: idp.issuer, introspectionUrl: idp.introspection.url, clientId: idp.introspection.clientId, clientSecret: 'IDP_INTROSPECTION' } },
      });
      const opaque = await idp.opaqueToken();
      expect(await callWithToken(s.url, opaque)).toContain('authenticated');
      expect((await post(s.url, { authorization: 'Bearer not-an-active-token' })).status).toBe(401);
    } finally {
      await t2.stop();
      await removeTestContainers(docker, t2.runLabel);
    }
  });
});
