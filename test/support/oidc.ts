/**
 * A real OpenID Connect / OAuth 2.1 identity provider for tests: node `oidc-provider` running in-process behind
 * a tiny node:http front on 127.0.0.1 (random free port) that we control, so JWKS fetch counting and JWKS
 * outages are real HTTP behaviours seen by the validator under test.
 *
 * What it issues (all facts checked against oidc-provider 9.13's source, see the notes at the bottom):
 * - `clientCredentialsToken({ resource })`: RFC 9068 JWT access token (`typ: at+jwt`) from the client_credentials
 *   grant of a confidential client, `aud` = the RFC 8707 resource. oidc-provider sets `sub` = `client_id` = the
 *   client's id for client_credentials tokens (there is no account), plus `iss`, `iat`, `exp`, `jti`, `scope`.
 * - `userToken({ sub, resource })`: the real authorization code + PKCE (S256) flow of a public native client, driven
 *   headlessly through devInteractions (login = sub, any password, then consent). Returns a JWT access token
 *   (`aud` = resource, `sub` = the login, `client_id` = the native client), an ID token, and a refresh token
 *   (offline_access is requested with prompt=consent, which oidc-provider needs to grant it).
 *   Kubernetes-style subjects: devInteractions accepts any login string as the account id, so
 *   `userToken({ sub: 'system:serviceaccount:client-apps:mcp-client', ... })` yields a token whose `sub` is exactly that
 *   (colons included), as a Kubernetes service-account token would carry. Only the subject is Kubernetes-like: the
 *   issuer is still this loopback IdP.
 * - `opaqueToken()`: a client_credentials token requested WITHOUT a resource, which oidc-provider issues in its
 *   opaque format (JWT access tokens must carry an audience). Introspect it at `introspection.url` with
 *   `introspection.clientId/clientSecret` (HTTP Basic): the answer has `active`, `client_id`, `iss`, `exp`, `iat`,
 *   `token_type`, no `sub` and no `aud`. (oidc-provider refuses to introspect JWTs: `unsupported_token_type`.)
 *
 * Resources: any `http://127.0.0.1[:port]/...` or `http://localhost[:port]/...` URL is accepted as a resource
 * indicator (no fragment); anything else gets `invalid_target`. Resource-server scopes: `mcp:read mcp:write
 * mcp:admin` plus any scope that was ever requested from this IdP (so tests can ask for arbitrary scopes).
 *
 * Keys: generated at start with jose (`generateKeyPair` + `exportJWK`), `kid` set, `use: sig`, `alg` set.
 * `rotateKeys()` puts a new key FIRST (tokens are signed with it from then on) and keeps the old one second unless
 * `dropOld`; it "restarts" the provider behind the same listening socket, so the issuer and port never change.
 * All provider instances of one TestIdp share one in-memory store (oidc-provider's own memory adapter), so
 * sessions, grants, refresh tokens and opaque tokens issued before a rotation stay valid after it.
 *
 * Outages: `takeDown()` makes the JWKS endpoint fail (default: HTTP 503; `{ mode: 'refuse' }` closes the listening
 * socket and every open connection, so everything gets ECONNREFUSED; `{ mode: 'hang' }` accepts JWKS requests and
 * never answers, to test fetch timeouts). `bringUp()` restores it. In '503' and 'hang' modes the other endpoints
 * keep working, so tests can still mint tokens (e.g. with a freshly rotated kid) during the outage.
 * `jwksFetchCount()` counts every HTTP request that reached the JWKS path, including those answered 503 or held.
 *
 * Sign-in matrix helpers: `issuerPath` mounts the provider under a path (issuer http://127.0.0.1:PORT/tenant1);
 * `refreshTokenTTL` gives a grant's refresh tokens an absolute lifetime; `setTokenEndpoint('503' | 'hold')` makes the
 * token endpoint fail as an overloaded gateway would, or hold requests until it is set back; `forgetClient` drops a
 * dynamic registration (its next request gets invalid_client); `events()` lists what oidc-provider reported (grants,
 * their errors, revoked grants, registrations); `requestLog()` lists what reached the front.
 *
 * Everything listens on 127.0.0.1 only, and every request this module makes goes to that listener.
 */
import { createHash, KeyObject, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
// The few members of oidc-provider used here are given local types (OidcProviderLike below): a test IdP
// configures it loosely, which the library's declarations would not allow without casts everywhere.
import ProviderUntyped, { errors as errorsUntyped } from 'oidc-provider';
// The library's own in-memory adapter, shared by every provider instance of one TestIdp so that grants, sessions,
// refresh tokens and opaque tokens survive rotateKeys() (a deep import: oidc-provider has no "exports" map).
// @ts-expect-error TS7016: untyped module
import { createMemoryAdapter as createMemoryAdapterUntyped } from 'oidc-provider/lib/adapters/memory_adapter.js';

export type SigningAlg = 'RS256' | 'ES256';

/** The IdP's current signing key: enough for test/support/forge.ts to sign tokens the IdP "could" have issued. */
export interface SigningKey {
  privateKey: KeyObject;
  /** The public JWK exactly as served in the JWKS (kty, key material, kid, alg, use). */
  publicJwk: JWK;
  kid: string;
  alg: SigningAlg;
}

export type TakeDownMode = '503' | 'refuse' | 'hang';

/** The token endpoint's state: working, answering 503 (a gateway's text page), or holding requests until set back. */
export type TokenEndpointMode = 'up' | '503' | 'hold';

/** What oidc-provider reported, as evidence of what happened at the IdP (refreshes, reuse, registrations). */
export interface IdpEvent {
  /** 'grant.success' | 'grant.error' | 'grant.revoked' | 'registration_create.success' */
  name: string;
  /** The token request's grant_type (grant events). */
  grantType?: string;
  clientId?: string;
  /** The OAuth error code of a 'grant.error' (e.g. invalid_grant, invalid_client). */
  error?: string;
  /** A refresh_token grant that rotated: it consumed the refresh token presented and issued a new one. */
  rotated?: boolean;
}

export interface UserTokens {
  accessToken: string;
  idToken?: string;
  refreshToken?: string;
}

export interface TestIdp {
  /** e.g. http://127.0.0.1:<port> (loopback only, random free port; no trailing slash). */
  issuer: string;
  jwksUri: string;
  /** RFC 8707 resource-bound JWT access token via client_credentials (confidential client). aud = resource, sub = client_id. */
  clientCredentialsToken(opts: { resource: string; scope?: string }): Promise<string>;
  /** A user's JWT access token via the real authorization code + PKCE flow, driven headlessly through devInteractions (login = sub). aud = resource. */
  userToken(opts: { sub: string; resource: string; scope?: string }): Promise<UserTokens>;
  /** Headless browser: follows an authorization URL (login as sub, consent) to the redirect starting with redirectPrefix. */
  authorize(url: URL, sub: string, redirectPrefix: string): Promise<URL>;
  /** An opaque (non-JWT) access token for introspection tests (client_credentials without a resource). */
  opaqueToken(): Promise<string>;
  /** The introspection endpoint and the confidential client allowed to call it (HTTP Basic, client_secret_basic). */
  introspection: { url: string; clientId: string; clientSecret: string };
  /** The registered clients, e.g. for ID-token-as-access-token tests (aud = native.clientId). */
  clients: {
    /** confidential, client_credentials only */
    m2m: { clientId: string; clientSecret: string };
    /** public native client (token_endpoint_auth_method none, PKCE required), authorization_code + refresh_token */
    native: { clientId: string; redirectUri: string };
  };
  /** Replace the signing key: a new key first (old key kept second, or dropped when dropOld); same issuer and port. */
  rotateKeys(opts?: { dropOld?: boolean }): Promise<void>;
  /** Simulate a JWKS outage (default mode '503'; see the module comment for 'refuse' and 'hang'). */
  takeDown(opts?: { mode?: TakeDownMode }): Promise<void>;
  bringUp(): Promise<void>;
  /** How many HTTP requests reached jwksUri since start (including ones answered 503 or held during an outage). */
  jwksFetchCount(): number;
  /** Switch the token endpoint (see TokenEndpointMode); held requests go on (or get the 503) when the mode changes. */
  setTokenEndpoint(mode: TokenEndpointMode): void;
  /** Token requests held right now ('hold' mode). */
  heldTokenRequests(): number;
  /** Forget a dynamically registered client, as an IdP that dropped the registration: it then gets invalid_client. */
  forgetClient(clientId: string): Promise<void>;
  /** What the IdP says about a token (RFC 7662), asked as its introspection client. */
  introspect(token: string): Promise<Record<string, unknown>>;
  /** A dynamically registered client's metadata as the IdP keeps it (redirect_uris, token_endpoint_auth_method, ...). */
  registeredClient(clientId: string): Promise<Record<string, unknown> | undefined>;
  /** oidc-provider's events since start, in order. */
  events(): IdpEvent[];
  /** Every finished request the front answered: method, path (no query) and status, in order. */
  requestLog(): { method: string; path: string; status: number }[];
  /** The current (first, used-for-signing) private signing key. */
  signingKey(): SigningKey;
  /** Public JWKs currently served at jwksUri, in order. */
  servedJwks(): JWK[];
  stop(): Promise<void>;
}

export interface StartTestIdpOptions {
  alg?: SigningAlg;
  /** Lifetime of access tokens in seconds (default 600). */
  accessTokenTTL?: number;
  /** Extra claims put into the JWT access tokens of these users (by login), e.g. { bob: { roles: ['premium'] } }. */
  userClaims?: Record<string, Record<string, unknown>>;
  /**
   * Dynamic client registration (RFC 7591) at /reg: open, as MCP authorization servers offer it, or
   * behind an initial access token (RFC 7591 §3: `Authorization: Bearer <it>` on the registration).
   */
  registration?: boolean | { initialAccessToken?: string; /** RFC 7592: registration_client_uri and a registration access token to read it back. */ management?: boolean };
  /**
   * Mount the provider under this path (e.g. '/tenant1', no trailing slash): the issuer becomes
   * http://127.0.0.1:PORT/tenant1, as multi-tenant IdPs have it; other paths of the front answer 404.
   */
  issuerPath?: string;
  /**
   * An absolute lifetime in seconds for a sign-in's refresh tokens (a rotated one keeps what was left of the one it
   * replaces) and for its grant. Default: a day each, every rotation starting a new day.
   */
  refreshTokenTTL?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Local types for the parts of oidc-provider used here.

interface OidcCtx {
  oidc: { params?: Record<string, unknown> };
}
/** The context of oidc-provider's events, as far as events() reads it. */
interface OidcEventCtx {
  oidc?: { params?: Record<string, unknown>; client?: { clientId: string }; entities?: { RotatedRefreshToken?: { remainingTTL: number } } };
}
interface OidcProviderLike {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  on(event: string, listener: (...args: unknown[]) => void): void;
}
type ProviderCtor = new (issuer: string, configuration: Record<string, unknown>) => OidcProviderLike;
const Provider = ProviderUntyped as ProviderCtor;
const oidcErrors = errorsUntyped as { InvalidTarget: new (description?: string) => Error };
const createMemoryAdapter = createMemoryAdapterUntyped as (clockTolerance: number) => (model: string) => unknown;

// ---------------------------------------------------------------------------------------------------------------

const DEFAULT_RESOURCE_SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'];
const OIDC_SCOPES = new Set(['openid', 'offline_access']);
const NATIVE_REDIRECT_URI = 'http://127.0.0.1/callback';

interface KeyEntry {
  privateJwk: JWK;
  privateKey: KeyObject;
  publicJwk: JWK;
  kid: string;
}

async function newKey(alg: SigningAlg, generation: number): Promise<KeyEntry> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = `test-${alg.toLowerCase()}-${generation}-${(await calculateJwkThumbprint(publicJwk)).slice(0, 12)}`;
  const meta = { kid, alg, use: 'sig' };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    privateKey: KeyObject.from(privateKey),
    publicJwk: { ...publicJwk, ...meta },
    kid,
  };
}

function isLoopbackResource(resource: string): boolean {
  const url = URL.canParse(resource) ? new URL(resource) : undefined;
  return !!url && url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost') && !url.hash;
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

/** A minimal cookie jar with path matching: enough for oidc-provider's `_interaction`, `_interaction_resume`, `_session` (+ `.sig`). */
class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const a of attrs) {
        const [k = '', v = ''] = a.split('=');
        if (k.toLowerCase() === 'path' && v) path = v;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
        if (k.toLowerCase() === 'expires' && Date.parse(a.slice(a.indexOf('=') + 1)) <= Date.now()) expired = true;
      }
      const key = `${name}\0${path}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  header(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

export async function startTestIdp(opts: StartTestIdpOptions = {}): Promise<TestIdp> {
  const alg: SigningAlg = opts.alg ?? 'RS256';
  const accessTokenTTL = opts.accessTokenTTL ?? 600;
  const refreshTokenTTL = opts.refreshTokenTTL;
  const mount = opts.issuerPath ?? '';
  if (mount && !/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(mount)) throw new Error(`test IdP: issuerPath must look like /tenant1, not ${mount}`);

  // --- the front: node:http on 127.0.0.1, random free port ---------------------------------------------------
  let handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
  let jwksFetches = 0;
  let outage: TakeDownMode | undefined;
  const held = new Set<http.ServerResponse>();
  let tokenMode: TokenEndpointMode = 'up';
  const heldTokens: (() => void)[] = [];
  const requestLog: { method: string; path: string; status: number }[] = [];
  const front = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const full = (req.url ?? '/').split('?')[0] ?? '/';
    // The provider's own path: the front's path without the mount (undefined: not the provider's).
    const pathname = !mount ? full : full === mount || full.startsWith(`${mount}/`) ? full.slice(mount.length) || '/' : undefined;
    if (pathname === undefined) {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    if (pathname === '/token' && tokenMode === '503') {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' }).end('Service Unavailable');
      return;
    }
    if (pathname === '/token' && tokenMode === 'hold') {
      heldTokens.push(() => front(req, res));
      return;
    }
    if (pathname === '/jwks') {
      jwksFetches += 1;
      if (outage === '503') {
        res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end('{"error":"temporarily_unavailable"}');
        return;
      }
      if (outage === 'hang') {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
    }
    if (!handler) {
      res.writeHead(503).end();
      return;
    }
    if (mount) {
      // Mounted as Express would mount it: oidc-provider finds its mount path from originalUrl vs url.
      (req as http.IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
      const rest = (req.url ?? '/').slice(mount.length);
      req.url = rest.startsWith('/') ? rest : `/${rest}`;
    }
    handler(req, res);
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    res.on('finish', () => requestLog.push({ method: req.method ?? 'GET', path, status: res.statusCode }));
    front(req, res);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}${mount}`;

  // --- clients --------------------------------------------------------------------------------------------------
  const m2m = { clientId: 'test-m2m', clientSecret: b64url(randomBytes(32)) };
  const introspector = { clientId: 'test-resource-server', clientSecret: b64url(randomBytes(32)) };
  const native = { clientId: 'test-native', redirectUri: NATIVE_REDIRECT_URI };
  const cookieKeys = [b64url(randomBytes(32)), b64url(randomBytes(32))];

  // Scopes the resource servers accept: the defaults plus every non-OIDC scope ever requested from this IdP
  // (getResourceServerInfo is also called at the token endpoint of the code flow, where the request has no scope).
  const knownScopes = new Set(DEFAULT_RESOURCE_SCOPES);
  const serverErrors: unknown[] = [];

  const adapter = createMemoryAdapter(15); // 15 s = oidc-provider's default clockTolerance
  const events: IdpEvent[] = [];
  const record = (name: string, ctx: OidcEventCtx | undefined, extra: Partial<IdpEvent> = {}) => {
    const grantType = ctx?.oidc?.params?.['grant_type'];
    const clientId = ctx?.oidc?.client?.clientId;
    events.push({
      name,
      ...(typeof grantType === 'string' ? { grantType } : {}),
      ...(clientId ? { clientId } : {}),
      ...(grantType === 'refresh_token' && name === 'grant.success' ? { rotated: ctx?.oidc?.entities?.RotatedRefreshToken !== undefined } : {}),
      ...extra,
    });
  };
  let generation = 0;
  let keys: KeyEntry[] = [await newKey(alg, ++generation)];

  function buildProvider(): OidcProviderLike {
    const ttlFor = (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) =>
      token.resourceServer?.accessTokenTTL ?? accessTokenTTL;
    const configuration: Record<string, unknown> = {
      clients: [
        {
          client_id: m2m.clientId,
          client_secret: m2m.clientSecret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        {
          client_id: introspector.clientId,
          client_secret: introspector.clientSecret,
          grant_types: [],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        {
          client_id: native.clientId,
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [native.redirectUri],
        },
      ],
      clientDefaults: {
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      },
      adapter,
      jwks: { keys: keys.map((k) => k.privateJwk) },
      cookies: { keys: cookieKeys },
      pkce: { required: (_ctx: unknown, client: { clientAuthMethod: string }) => client.clientAuthMethod === 'none' },
      // The default findAccount works but prints a notice; devInteractions' login string becomes the account id
      // verbatim, so any subject works, e.g. 'system:serviceaccount:client-apps:mcp-client'.
      findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
      // Role and group claims in access tokens, as an enterprise IdP would put them (authorization tests).
      extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) => (token.accountId ? opts.userClaims?.[token.accountId] : undefined),
      features: {
        devInteractions: { enabled: true },
        ...(opts.registration ? { registration: { enabled: true, ...(typeof opts.registration === 'object' && opts.registration.initialAccessToken ? { initialAccessToken: opts.registration.initialAccessToken } : {}) } } : {}),
        ...(typeof opts.registration === 'object' && opts.registration.management ? { registrationManagement: { enabled: true, rotateRegistrationAccessToken: false } } : {}),
        clientCredentials: { enabled: true },
        introspection: { enabled: true, allowedPolicy: () => true },
        revocation: { enabled: true, allowedPolicy: () => true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (ctx: OidcCtx, resource: string) => {
            if (!isLoopbackResource(resource)) throw new oidcErrors.InvalidTarget(`resource not served by this test IdP: ${resource}`);
            const requested = ctx.oidc.params?.['scope'];
            if (typeof requested === 'string') for (const s of requested.split(' ')) if (s && !OIDC_SCOPES.has(s)) knownScopes.add(s);
            return {
              scope: [...knownScopes].join(' '),
              audience: resource,
              accessTokenFormat: 'jwt',
              accessTokenTTL,
              jwt: { sign: { alg } },
            };
          },
        },
      },
      ttl: {
        AccessToken: ttlFor,
        ClientCredentials: ttlFor,
        AuthorizationCode: 60,
        IdToken: 3600,
        // With refreshTokenTTL, a rotated refresh token keeps what was left of the one it replaces (an absolute lifetime).
        RefreshToken:
          refreshTokenTTL === undefined ? 24 * 3600 : (ctx: OidcEventCtx | undefined) => ctx?.oidc?.entities?.RotatedRefreshToken?.remainingTTL ?? refreshTokenTTL,
        Interaction: 600,
        Session: 3600,
        Grant: refreshTokenTTL ?? 24 * 3600,
      },
      clientBasedCORS: () => false,
      renderError: (ctx: { type: string; body: unknown }, out: Record<string, string>) => {
        ctx.type = 'json';
        ctx.body = out;
      },
    };
    // oidc-provider warns at every construction that devInteractions are development-only: they are exactly what
    // a test IdP wants, so that warning (and only that one) is dropped.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('devInteractions is enabled')) return;
      warn.apply(console, args);
    };
    let provider: OidcProviderLike;
    try {
      provider = new Provider(issuer, configuration);
    } finally {
      console.warn = warn;
    }
    provider.on('server_error', (_ctx, err) => serverErrors.push(err));
    provider.on('grant.success', (ctx) => record('grant.success', ctx as OidcEventCtx));
    provider.on('grant.error', (ctx, err) => record('grant.error', ctx as OidcEventCtx, { error: String((err as { error?: unknown }).error) }));
    provider.on('grant.revoked', (ctx) => record('grant.revoked', ctx as OidcEventCtx));
    provider.on('registration_create.success', (ctx, client) => record('registration_create.success', ctx as OidcEventCtx, { clientId: (client as { clientId: string }).clientId }));
    return provider;
  }

  handler = buildProvider().callback();

  // --- HTTP helpers (127.0.0.1 only) --------------------------------------------------------------------------
  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  async function tokenRequest(form: Record<string, string | undefined>, auth?: { id: string; secret: string }): Promise<Record<string, unknown>> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (auth) headers['authorization'] = basic(auth.id, auth.secret);
    const res = await fetch(`${issuer}/token`, { method: 'POST', headers, body });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) {
      const last = serverErrors.at(-1);
      throw new Error(`test IdP token request (${form['grant_type']}) failed: ${res.status} ${JSON.stringify(json)}${last ? ` (server error: ${String(last)})` : ''}`);
    }
    return json;
  }

  function str(v: unknown, what: string): string {
    if (typeof v !== 'string' || !v) throw new Error(`test IdP: no ${what} in the token response`);
    return v;
  }

  async function clientCredentials(resource: string | undefined, scope: string | undefined): Promise<string> {
    const json = await tokenRequest({ grant_type: 'client_credentials', resource, scope }, { id: m2m.clientId, secret: m2m.clientSecret });
    return str(json['access_token'], 'access_token');
  }

  async function userToken({ sub, resource, scope }: { sub: string; resource: string; scope?: string }): Promise<UserTokens> {
    const verifier = b64url(randomBytes(32));
    const challenge = b64url(createHash('sha256').update(verifier).digest());
    const state = b64url(randomBytes(16));
    const authUrl = new URL(`${issuer}/auth`);
    const params: Record<string, string> = {
      client_id: native.clientId,
      response_type: 'code',
      redirect_uri: native.redirectUri,
      scope: ['openid', 'offline_access', ...(scope ? scope.split(' ') : [])].join(' '),
      resource,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      nonce: b64url(randomBytes(16)),
      prompt: 'consent', // needed for oidc-provider to grant offline_access (a refresh token)
    };
    for (const [k, v] of Object.entries(params)) authUrl.searchParams.set(k, v);

    const next = await authorize(authUrl, sub, native.redirectUri);
    const error = next.searchParams.get('error');
    if (error) throw new Error(`test IdP authorization failed: ${error} ${next.searchParams.get('error_description') ?? ''}`);
    if (next.searchParams.get('state') !== state) throw new Error('test IdP: state mismatch in the authorization response');
    if (next.searchParams.get('iss') !== issuer) throw new Error('test IdP: iss missing or wrong in the authorization response');
    const code = next.searchParams.get('code');
    if (!code) throw new Error('test IdP: no code in the authorization response');
    const json = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: native.redirectUri,
      code_verifier: verifier,
      client_id: native.clientId,
      resource,
    });
    const out: UserTokens = { accessToken: str(json['access_token'], 'access_token') };
    if (typeof json['id_token'] === 'string') out.idToken = json['id_token'];
    if (typeof json['refresh_token'] === 'string') out.refreshToken = json['refresh_token'];
    return out;
  }

  /**
   * A headless browser for the IdP: follows an authorization URL through devInteractions (login as `sub`,
   * consent) and returns the final redirect to `redirectPrefix` (with code, state, iss) without following it.
   */
  async function authorize(authUrl: URL, sub: string, redirectPrefix: string): Promise<URL> {
    const jar = new CookieJar();
    const send = async (url: URL, init: RequestInit = {}): Promise<Response> => {
      if (url.origin !== origin) throw new Error(`test IdP flow left the IdP: ${url.href}`);
      const headers = new Headers(init.headers);
      const cookie = jar.header(url);
      if (cookie) headers.set('cookie', cookie);
      const res = await fetch(url, { ...init, headers, redirect: 'manual' });
      jar.store(res);
      return res;
    };
    let url = authUrl;
    // GET /auth → 303 /interaction/<uid> (login) → POST → 303 /auth/<uid> → 303 /interaction/<uid2> (consent)
    // → POST → 303 /auth/<uid2> → 303 redirect_uri?code=…&state=…&iss=…
    for (let step = 0; step < 12; step++) {
      const res = await send(url);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, url);
        await res.arrayBuffer();
        if (next.href.startsWith(redirectPrefix)) return next;
        url = next;
        continue;
      }
      const html = await res.text();
      if (res.status !== 200 || !url.pathname.startsWith(`${mount}/interaction/`)) {
        throw new Error(`test IdP flow stopped at ${url.pathname}: HTTP ${res.status} ${html.slice(0, 500)}`);
      }
      // devInteractions page: a form posting prompt=login (login + password) or prompt=consent.
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
      const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
      if (!action || !prompt) throw new Error(`test IdP: unexpected interaction page at ${url.pathname}`);
      const form = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        form.set('login', sub);
        form.set('password', 'any-password');
      }
      const posted = await send(new URL(action, url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      const after = posted.headers.get('location');
      await posted.arrayBuffer();
      if (posted.status !== 303 || !after) throw new Error(`test IdP: interaction submit answered ${posted.status}`);
      url = new URL(after, url);
    }
    throw new Error('test IdP: authorization flow did not finish');
  }

  // --- outage control ------------------------------------------------------------------------------------------
  const releaseHeld = () => {
    for (const res of held) res.destroy();
    held.clear();
  };

  let stopped = false;
  const idp: TestIdp = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    clientCredentialsToken: ({ resource, scope }) => clientCredentials(resource, scope),
    userToken,
    authorize,
    opaqueToken: () => clientCredentials(undefined, undefined),
    introspection: { url: `${issuer}/token/introspection`, clientId: introspector.clientId, clientSecret: introspector.clientSecret },
    clients: { m2m: { ...m2m }, native: { ...native } },
    async rotateKeys({ dropOld = false } = {}) {
      const fresh = await newKey(alg, ++generation);
      keys = dropOld ? [fresh] : [fresh, ...keys.slice(0, 1)];
      handler = buildProvider().callback();
    },
    async takeDown({ mode = '503' } = {}) {
      if (outage) throw new Error(`test IdP is already down (${outage})`);
      outage = mode;
      if (mode === 'refuse') {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      }
    },
    async bringUp() {
      const was = outage;
      outage = undefined;
      releaseHeld();
      if (was === 'refuse') {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
    },
    jwksFetchCount: () => jwksFetches,
    setTokenEndpoint(mode) {
      tokenMode = mode;
      for (const go of heldTokens.splice(0)) go();
    },
    heldTokenRequests: () => heldTokens.length,
    async forgetClient(clientId) {
      const clients = adapter('Client') as { find(id: string): Promise<unknown>; destroy(id: string): Promise<void> };
      // Static clients live in the configuration, not the adapter: only a registration can be forgotten.
      if ((await clients.find(clientId)) === undefined) throw new Error(`test IdP: no registered client ${clientId}`);
      await clients.destroy(clientId);
    },
    async introspect(token) {
      const { url, clientId, clientSecret } = idp.introspection;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` }, body: new URLSearchParams({ token }) });
      return (await res.json()) as Record<string, unknown>;
    },
    async registeredClient(clientId) {
      const clients = adapter('Client') as { find(id: string): Promise<Record<string, unknown> | undefined> };
      return clients.find(clientId);
    },
    events: () => events.map((e) => ({ ...e })),
    requestLog: () => requestLog.map((r) => ({ ...r })),
    signingKey() {
      const k = keys[0];
      if (!k) throw new Error('test IdP has no key');
      return { privateKey: k.privateKey, publicJwk: { ...k.publicJwk }, kid: k.kid, alg };
    },
    servedJwks: () => keys.map((k) => ({ ...k.publicJwk })),
    async stop() {
      if (stopped) return;
      stopped = true;
      releaseHeld();
      heldTokens.length = 0; // their connections close below
      if (outage === 'refuse') return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return idp;
}

/*
 * Notes on oidc-provider 9.13.3 (verified in node_modules/oidc-provider/lib):
 * - JWT access tokens (lib/models/formats/jwt.js): header { alg, kid, typ: 'at+jwt' }; payload { jti, sub, iat, exp,
 *   scope, client_id, iss, aud }, where sub = accountId, or the client_id when there is no account (client_credentials).
 * - A token is a JWT only when a resource server was resolved AND getResourceServerInfo returned
 *   accessTokenFormat: 'jwt' (lib/models/formats/index.js: default 'opaque'); the JWT also needs an audience.
 * - client_credentials (lib/actions/grants/client_credentials.js) accepts exactly one resource; its scope is the
 *   requested scopes filtered by the resource server's scope string.
 * - At the token endpoint of the code flow the resource is taken from the request, or from the grant when
 *   useGrantedResource returns true (or when openid was not requested).
 * - The signing key is the first key of the keystore matching the alg (keystore.selectForSign), hence
 *   "new key first" for rotation. The JWKS route serves the public parts of all configured keys in order.
 * - Introspection rejects JWTs (lib/shared/reject_structured_tokens.js) and introspects opaque AccessToken,
 *   ClientCredentials and RefreshToken values.
 * - The default adapter is a per-provider-instance in-memory store (lib/helpers/initialize_adapter.js calls
 *   createMemoryAdapter for each Provider), so a new Provider would forget everything: hence the shared adapter.
 */

/** A confidential client registered at the test IdP (dynamic registration, RFC 7591): an administrator registering an app, e.g. Gatehouse's authorization server with its one callback. */
export async function registerConfidentialClient(idp: TestIdp, opts: { name: string; redirectUri: string }): Promise<{ client_id: string; client_secret: string }> {
  const res = await fetch(`${idp.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: opts.name, redirect_uris: [opts.redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }),
  });
  if (res.status !== 201) throw new Error(`test IdP registration failed: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { client_id: string; client_secret: string };
}
