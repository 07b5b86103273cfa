import { createHash, randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { runCli } from '../support/cli.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_NODE_IMAGE } from '../support/docker.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';
import { freePort } from '../support/ports.js';

/**
 * `gatehouse authserver show` says, per server, which `resource` a client may ask tokens for: every
 * loopback spelling of its URL (127.0.0.1, localhost, [::1]) when it takes them all, or the one URL
 * its resourceUrl names. What it prints is checked against the engine itself: an authorization
 * request naming each printed URL is taken, one naming a spelling it says is not accepted is refused
 * (invalid_target). Real core, keychain, Docker, and a real upstream (oidc-provider).
 */
describe('gatehouse authserver show: the exact audiences', () => {
  let docker: Docker;
  let upstream: TestIdp;
  let t: TestCore;
  let issuer: string;
  let open: ServerView;
  let pinned: ServerView;
  let pinnedUrl: string;
  let client: { client_id: string; redirect: string };

  beforeAll(async () => {
    docker = await requireDocker();
    upstream = await startTestIdp({ registration: true });
    t = await startTestCore();
    issuer = `http://127.0.0.1:${await freePort()}`;
    const reg = await registerConfidentialClient(upstream, { name: 'Gatehouse', redirectUri: `${issuer}/oauth/callback` });
    await t.api.setSecret({ name: 'upstream-idp-secret.client-secret', value: registerTestSecret('upstream client secret', reg.client_secret) });
    await t.api.setAuthServer({
      document: `issuer: '${issuer}'
allowedAudiences: ['https://api.example.com/reports']
upstreamProviders:
  - name: corp
    type: oidc
    oidcConfig:
      issuerUrl: '${upstream.issuer}'
      clientId: '${reg.client_id}'
      clientSecretRef: { name: upstream-idp-secret, key: client-secret }
      scopes: [openid]
`,
    });
    const echo = { image: TEST_NODE_IMAGE, transport: 'streamable-http' as const, args: ['-e', ECHO_HEADERS_SERVER] };
    open = await t.api.run({ ...echo, name: 'notes', auth: { type: 'inline', inline: { issuer } } });
    const port = await freePort();
    pinnedUrl = `http://localhost:${port}/mcp`;
    pinned = await t.api.run({ ...echo, name: 'pinned', proxyPort: port, auth: { type: 'inline', inline: { issuer, resourceUrl: pinnedUrl } } });
    // A program registering itself, as an MCP client does (RFC 7591, public, loopback redirect).
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const r = await fetch(`${issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'show-test', redirect_uris: [redirect], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] }) });
    expect(r.status, await r.clone().text()).toBe(201);
    client = { client_id: ((await r.json()) as { client_id: string }).client_id, redirect };
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await upstream?.stop();
  });

  /** Whether the authorization server takes an authorization request for this resource (RFC 8707), as a client's first step. */
  const takes = async (resource: string): Promise<boolean> => {
    const verifier = randomBytes(32).toString('base64url');
    const u = new URL(`${issuer}/oauth/authorize`);
    for (const [k, v] of Object.entries({ client_id: client.client_id, redirect_uri: client.redirect, response_type: 'code', scope: 'openid', state: 's', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', resource })) u.searchParams.set(k, v);
    const res = await fetch(u, { redirect: 'manual' });
    const to = res.headers.get('location') ?? '';
    await res.body?.cancel();
    if (to.startsWith(client.redirect)) {
      expect(new URL(to).searchParams.get('error'), `refused ${resource} for another reason: ${to}`).toBe('invalid_target');
      return false;
    }
    // Taken: on to the sign-in (Gatehouse's consent page, then the upstream).
    expect(to, `${resource}: ${res.status}`).toMatch(/\/oauth\/interaction\//);
    return true;
  };

  it('prints every loopback spelling a server takes, the one exact URL of a pinned one, and the extra audiences; the engine agrees', async () => {
    const show = await runCli(t.home, ['authserver', 'show']);
    expect(show.code, show.stderr).toBe(0);
    const port = open.proxyPort;
    const spellings = [`http://127.0.0.1:${port}/mcp`, `http://localhost:${port}/mcp`, `http://[::1]:${port}/mcp`];
    expect(show.stdout).toContain(`notes: ${spellings.join(', ')}`);
    expect(show.stdout).toContain(`pinned: only ${pinnedUrl} (its resourceUrl; no other spelling is accepted)`);
    expect(show.stdout).toContain('also for:  https://api.example.com/reports (allowedAudiences)');
    // Nothing printed that the authorization server does not issue for, and nothing it issues for left out.
    const view = await t.api.authServer();
    expect(new Set(view.audiences)).toEqual(new Set([...spellings, pinnedUrl, 'https://api.example.com/reports']));

    // What it printed is what the engine does: every spelling of notes, only the pinned one of pinned.
    for (const url of spellings) expect(await takes(url), url).toBe(true);
    expect(await takes(pinnedUrl)).toBe(true);
    expect(pinned.url).toBe(`http://127.0.0.1:${pinned.proxyPort}/mcp`);
    expect(await takes(pinned.url), 'the 127.0.0.1 spelling of the pinned server').toBe(false);
    expect(await takes(`http://[::1]:${pinned.proxyPort}/mcp`)).toBe(false);
  });

  it('says so when no server takes its tokens yet', async () => {
    await t.api.remove({ name: 'notes', force: true });
    await t.api.remove({ name: 'pinned', force: true });
    const show = await runCli(t.home, ['authserver', 'show']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/servers: +none yet/);
    expect(show.stdout).toContain('also for:  https://api.example.com/reports (allowedAudiences)');
  });
});
