import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_SERVER_PATHS, realClientDocumentNetwork, type ClientDocumentNetwork } from '../../src/authserver/index.js';
import { AuthServerRig, consentForm } from '../support/authserver-rig.js';
import { startPrivateKeyring, type PrivateKeyring } from '../support/keyring.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';

/**
 * MCP clients as they really come to the embedded authorization server: VS Code's, Claude Code's and
 * Cursor's dynamic registrations (their redirect URI shapes), and Client ID Metadata Documents (checklist
 * row B23) with every way a document or its host can be wrong. Real engine, keychain, SQLite and upstream
 * (oidc-provider); the documents are served over real HTTP on 127.0.0.1. This machine reaches no other
 * network, so the test brings the "internet": public-looking names resolve to a public address here
 * and their https URLs are served by the local document server; the address checks themselves are the
 * real ones (and literal private addresses never reach the network at all).
 */

const RS = 'http://127.0.0.1:47301/mcp';
const PUBLIC_ADDRESS = '93.184.215.14';
const DOC_HOST = 'clients.example';
const docUrl = (p: string) => `https://${DOC_HOST}${p}`;

let keyring: PrivateKeyring;
let idp: TestIdp;
let docs: http.Server;
let docsPort: number;
/** Every URL the authorization server fetched. */
const fetched: string[] = [];

/** The names the test's "internet" knows; any other goes to the real resolver (localhost, *.invalid). */
const HOSTS: Record<string, string[]> = {
  [DOC_HOST]: [PUBLIC_ADDRESS],
  'internal.example': ['10.1.2.3'],
  'cloud-metadata.example': ['169.254.169.254'],
  'half-private.example': [PUBLIC_ADDRESS, '192.168.1.5'],
  'v6-local.example': ['fd00::1'],
};
const network: ClientDocumentNetwork = {
  lookup: async (host) => HOSTS[host] ?? realClientDocumentNetwork.lookup(host),
  fetch: async (url, init) => {
    fetched.push(String(url));
    const u = new URL(url);
    if (u.hostname !== DOC_HOST) throw new Error(`the test network does not route to ${u.hostname}`);
    // oidc-provider's dispatcher refuses special-use peers (127.0.0.1 among them): the local server stands in for a public one.
    const { dispatcher: _publicOnly, ...rest } = init as RequestInit & { dispatcher?: unknown };
    return fetch(`http://127.0.0.1:${docsPort}${u.pathname}`, rest);
  },
};

const VSCODE_REDIRECTS = ['https://insiders.vscode.dev/redirect', 'https://vscode.dev/redirect', 'http://127.0.0.1/', 'http://127.0.0.1:33418/'];
const documentFor = (path: string, over: Record<string, unknown> = {}) => ({
  client_id: docUrl(path),
  client_name: 'Visual Studio Code',
  client_uri: 'https://code.visualstudio.com',
  redirect_uris: VSCODE_REDIRECTS,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  ...over,
});

/** What the document server answers at each path. */
function serveDocument(path: string, res: http.ServerResponse): void {
  const json = (body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  switch (path) {
    case '/vscode.json':
      return json(documentFor(path), { 'cache-control': 'max-age=3600' });
    case '/mismatch.json':
      return json(documentFor(path, { client_id: docUrl('/someone-else.json') }));
    case '/no-redirects.json': {
      const { redirect_uris: _none, ...doc } = documentFor(path);
      return json(doc);
    }
    case '/evil-redirect.json':
      return json(documentFor(path, { redirect_uris: ['http://evil.example/cb'] }));
    case '/with-secret.json':
      return json(documentFor(path, { client_secret: 'shared-secret', token_endpoint_auth_method: 'client_secret_post' }));
    case '/huge.json':
      return json(documentFor(path, { client_name: 'x'.repeat(8 * 1024) }));
    case '/not-json.json':
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<html>not a document</html>');
    case '/moved.json':
      res.writeHead(302, { location: docUrl('/vscode.json') });
      return void res.end();
    case '/slow.json':
      return void setTimeout(() => json(documentFor(path)), 4000);
    default:
      res.writeHead(404);
      res.end();
  }
}

beforeAll(async () => {
  keyring = await startPrivateKeyring();
  idp = await startTestIdp({ registration: true });
  docs = http.createServer((req, res) => serveDocument(new URL(req.url ?? '/', 'http://x').pathname, res));
  await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
  docsPort = (docs.address() as AddressInfo).port;
}, 60_000);
afterAll(async () => {
  docs?.closeAllConnections();
  await new Promise<void>((r) => (docs ? docs.close(() => r()) : r()));
  await idp?.stop();
  await keyring?.stop();
});

const startRig = (settings: Record<string, unknown> = {}) =>
  AuthServerRig.start({
    keyring,
    audiences: [RS],
    settings,
    clientDocuments: network,
    upstream: async (callbackUrl) => {
      const reg = await registerConfidentialClient(idp, { name: 'Gatehouse', redirectUri: callbackUrl });
      return { issuerUrl: idp.issuer, clientId: reg.client_id, clientSecret: reg.client_secret };
    },
  });

/** An authorization request that must end at the authorization server: no redirect anywhere, an OAuth error. */
async function refusedAtTheServer(rig: AuthServerRig, clientId: string, redirectUri: string): Promise<{ status: number; error: string; description: string }> {
  const res = await fetch(rig.authorizeUrl({ clientId, redirectUri, resource: RS }).url, { redirect: 'manual' });
  const body = (await res.json()) as { error?: string; error_description?: string };
  expect(res.headers.get('location'), `${clientId} → ${redirectUri}`).toBeNull();
  expect(res.status).toBeGreaterThanOrEqual(400);
  return { status: res.status, error: body.error ?? '', description: body.error_description ?? '' };
}

describe("MCP clients' own registrations (dynamic client registration)", () => {
  let rig: AuthServerRig;
  beforeAll(async () => {
    rig = await startRig();
  }, 60_000);
  afterAll(async () => rig?.close());

  it("VS Code: its four redirect URIs register it as a native app; any free loopback port works, and its https redirects match exactly", async () => {
    const reg = await rig.register({ client_name: 'Visual Studio Code', redirect_uris: VSCODE_REDIRECTS, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    expect(reg.json['application_type']).toBe('native');
    const id = String(reg.json['client_id']);
    // 33418 taken by another window: VS Code listens elsewhere, as in microsoft/vscode#278512.
    const elsewhere = await rig.signIn({ clientId: id, redirectUri: 'http://127.0.0.1:59656/', resource: RS });
    expect(`${elsewhere.redirect.origin}${elsewhere.redirect.pathname}`).toBe('http://127.0.0.1:59656/');
    const tokens = await rig.redeem({ clientId: id, code: elsewhere.code, verifier: elsewhere.verifier, redirectUri: 'http://127.0.0.1:59656/', resource: RS });
    expect(tokens.status, JSON.stringify(tokens.json)).toBe(200);
    const web = await rig.signIn({ clientId: id, redirectUri: 'https://vscode.dev/redirect', resource: RS, ua: elsewhere.ua });
    expect(web.redirect.searchParams.get('code')).toBeTruthy();
    for (const wrong of ['https://vscode.dev/redirect/x', 'https://vscode.dev.evil.example/redirect', 'http://localhost:59656/']) {
      expect((await refusedAtTheServer(rig, id, wrong)).error, wrong).toBe('invalid_redirect_uri');
    }
  });

  it('Claude Code: http://localhost:<port>/callback, registered with one port and used with another; 127.0.0.1 is not the same place', async () => {
    const id = await rig.client(['http://localhost:54212/callback'], { client_name: 'Claude Code (calc)' });
    const s = await rig.signIn({ clientId: id, redirectUri: 'http://localhost:61003/callback', resource: RS });
    expect(s.redirect.host).toBe('localhost:61003');
    expect((await refusedAtTheServer(rig, id, 'http://127.0.0.1:61003/callback')).error).toBe('invalid_redirect_uri');
    expect((await refusedAtTheServer(rig, id, 'http://localhost:61003/callback/../other')).error).toBe('invalid_redirect_uri');
  });

  it("Cursor: its own cursor:// scheme, exactly as registered", async () => {
    const redirect = 'cursor://anysphere.cursor-retrieval/oauth/user-calc/callback';
    const reg = await rig.register({ client_name: 'Cursor', redirect_uris: [redirect], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const id = String(reg.json['client_id']);
    const s = await rig.signIn({ clientId: id, redirectUri: redirect, resource: RS });
    expect(s.redirect.protocol).toBe('cursor:');
    expect((await refusedAtTheServer(rig, id, 'cursor://anysphere.cursor-retrieval/oauth/user-other/callback')).error).toBe('invalid_redirect_uri');
  });
});

describe('B23: Client ID Metadata Documents', () => {
  let rig: AuthServerRig;
  beforeAll(async () => {
    // The guide's cimd block, as ToolHive reads it.
    rig = await startRig({ cimd: { enabled: true, cacheFallbackTtl: '5m' } });
  }, 60_000);
  afterAll(async () => rig?.close());

  it('says so in its metadata, and a server without them says nothing', async () => {
    const m = (await (await fetch(rig.url('/.well-known/oauth-authorization-server'))).json()) as Record<string, unknown>;
    expect(m['client_id_metadata_document_supported']).toBe(true);
    const plain = await startRig();
    try {
      const p = (await (await fetch(plain.url('/.well-known/oauth-authorization-server'))).json()) as Record<string, unknown>;
      expect(p['client_id_metadata_document_supported']).toBeUndefined();
      // Without them, a URL is an unknown client like any other, and nothing is fetched.
      const before = fetched.length;
      expect((await refusedAtTheServer(plain, docUrl('/vscode.json'), 'http://127.0.0.1:40000/')).error).toBe('invalid_client');
      expect(fetched.length).toBe(before);
    } finally {
      await plain.close();
    }
  });

  it('signs in a client known only by its document: its name on the consent page, its loopback redirect on any port, a token for the server', async () => {
    const id = docUrl('/vscode.json');
    const ua = rig.browser();
    const consent = await ua.follow(rig.authorizeUrl({ clientId: id, redirectUri: 'http://127.0.0.1:59657/', resource: RS }).url, { consent: 'stop' });
    expect(consent.page?.status).toBe(200);
    const page = consent.page!.body;
    expect(consentForm(page)).toBeTruthy();
    expect(page).toContain('Visual Studio Code');
    expect(page).toContain('vscode.dev'); // where its answers go
    expect(page).toContain(id);
    const s = await rig.signIn({ clientId: id, redirectUri: 'http://127.0.0.1:59657/', resource: RS, ua });
    const tokens = await rig.redeem({ clientId: id, code: s.code, verifier: s.verifier, redirectUri: 'http://127.0.0.1:59657/', resource: RS });
    expect(tokens.status, JSON.stringify(tokens.json)).toBe(200);
    const { payload } = await jwtVerify(String(tokens.json['access_token']), createRemoteJWKSet(new URL(rig.url(AUTH_SERVER_PATHS.jwks))), { issuer: rig.issuer, audience: RS });
    expect(payload['client_id']).toBe(id);
    // The document was fetched once, and is cached as its Cache-Control says.
    expect(fetched.filter((u) => u === id)).toHaveLength(1);
    const again = await rig.signIn({ clientId: id, redirectUri: 'http://127.0.0.1:59658/', resource: RS, ua });
    expect(again.code).toBeTruthy();
    expect(fetched.filter((u) => u === id)).toHaveLength(1);
    // A redirect the document does not list is refused at the server.
    expect((await refusedAtTheServer(rig, id, 'https://evil.example/cb')).error).toBe('invalid_redirect_uri');
  });

  const broken: [string, string][] = [
    ['its client_id differs from the URL', '/mismatch.json'],
    ['it lists no redirect URIs', '/no-redirects.json'],
    ['it names a plain-http redirect elsewhere', '/evil-redirect.json'],
    ['it carries a client secret', '/with-secret.json'],
    ['it is larger than 5 KB', '/huge.json'],
    ['it is not JSON', '/not-json.json'],
    ['it is a redirect to another document', '/moved.json'],
    ['it is not there', '/gone.json'],
    ['it takes longer than 2.5 s', '/slow.json'],
  ];
  it.each(broken)('refuses a client whose document is wrong: %s', async (_what, path) => {
    const refused = await refusedAtTheServer(rig, docUrl(path), 'http://127.0.0.1:40000/');
    expect(refused.error).toMatch(/^invalid_(client|client_metadata|redirect_uri)$/);
    expect(fetched).toContain(docUrl(path));
  }, 10_000);

  const unsafe: [string, string][] = [
    ['a private address (10/8)', 'https://10.0.0.1/client.json'],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data'],
    ['this machine', 'https://127.0.0.1/client.json'],
    ['this machine over IPv6', 'https://[::1]/client.json'],
    ['an IPv4-mapped private address', 'https://[::ffff:10.0.0.1]/client.json'],
    ['a name resolving to 10/8', 'https://internal.example/client.json'],
    ['a name resolving to the metadata address', 'https://cloud-metadata.example/client.json'],
    ['a name with one private address among public ones', 'https://half-private.example/client.json'],
    ['a name resolving to a unique-local IPv6 address', 'https://v6-local.example/client.json'],
    ['localhost', 'https://localhost/client.json'],
    ['a name that does not resolve', 'https://nowhere.invalid/client.json'],
  ];
  it.each(unsafe)('never fetches a document from %s (SSRF)', async (_what, id) => {
    const refused = await refusedAtTheServer(rig, id, 'http://127.0.0.1:40000/');
    expect(refused.error).toBe('invalid_client');
    expect(fetched).not.toContain(id);
  });

  it('takes only https client_id URLs without fragments, credentials or dot segments as documents', async () => {
    for (const id of ['http://clients.example/vscode.json', 'https://user:pw@clients.example/vscode.json', 'https://clients.example/a/../vscode.json', 'https://clients.example/vscode.json#x']) {
      expect((await refusedAtTheServer(rig, id, 'http://127.0.0.1:40000/')).error, id).toBe('invalid_client');
      expect(fetched, id).not.toContain(id);
    }
  });
});
