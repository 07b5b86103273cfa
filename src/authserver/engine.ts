import http from 'node:http';
import type { AddressInfo } from 'node:net';
// oidc-provider (certified OpenID provider; OAuth 2.1 with PKCE, RFC 8707, RFC 9207, RFC 7591/7009) is
// the protocol engine; Gatehouse adds ToolHive's paths, its keys and store, and the interactions. It is
// loaded when an authorization server starts, not with every core.
import { TokenBucket } from '../common/index.js';
import type { Adapter } from './adapter.js';
import { realClientDocumentNetwork, refusedClientDocument, type ClientDocumentNetwork } from './client-documents.js';
import type { KeyMaterial } from './keys.js';
import type { AuthServerSettings } from './settings.js';
import { requestOrigin, signInStep, type SignInStep, type SignInStepKind, type SignInStepListener } from './steps.js';

/** ToolHive's endpoint paths (the RFC 8414 metadata names them; clients follow it). */
export const AUTH_SERVER_PATHS = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  registration: '/oauth/register',
  revocation: '/oauth/revoke',
  jwks: '/.well-known/jwks.json',
  callback: '/oauth/callback',
  interaction: '/oauth/interaction',
} as const;

/** What oidc-provider tells an interaction (consent, then the upstream login) about the request. */
export interface InteractionDetails {
  uid: string;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId?: string };
  grantId?: string;
}

/** What an interaction handler may ask of the engine, for the request it is answering. */
export interface InteractionContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  /** The interaction of this browser (its cookie), or a failure when there is none. */
  details(): Promise<InteractionDetails>;
  /** A registered client (its self-declared name and redirect URIs, for the consent page). */
  client(clientId: string): Promise<{ clientId: string; clientName?: string; redirectUris: string[] } | undefined>;
  /** A new grant of a client to an account, to fill with what the user approved and save. */
  newGrant(accountId: string, clientId: string): GrantLike;
  /** Ends the interaction: oidc-provider resumes the authorization and redirects (303). */
  finish(result: Record<string, unknown>): Promise<void>;
}

export interface GrantLike {
  addOIDCScope(scope: string): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

/**
 * Consent and the upstream login: every request under /oauth/interaction/ and the upstream identity
 * provider's redirect back to /oauth/callback. The engine knows nothing of the upstream; the handler does.
 */
export interface Interactions {
  handle(ctx: InteractionContext): Promise<void>;
}

export interface AuthServerEngineOptions {
  settings: AuthServerSettings;
  keys: KeyMaterial;
  adapter: new (model: string) => Adapter;
  /** The RFC 8707 resources tokens may name: each attached server's URL, and allowedAudiences. */
  audiences: () => string[];
  /** The claims of an account (a user the upstream identified), for ID tokens and access tokens (Cedar reads the latter). */
  findAccount: (sub: string) => Promise<Record<string, unknown> | undefined>;
  interactions: Interactions;
  /** The port on 127.0.0.1: the issuer's for a loopback issuer, else the one its front forwards to. */
  port: number;
  /** Each registration, authorization, token and revocation, as it ends (the audit log). */
  onStep?: SignInStepListener;
  /** The clock of the registration rate limit (tests). */
  now?: () => number;
  /** Where client metadata documents are fetched from (tests bring their own; production the real one). */
  clientDocuments?: ClientDocumentNetwork;
}

export interface AuthServerEngine {
  /** Where it listens (http://127.0.0.1:<port>). */
  url: string;
  /** Revokes a grant with oidc-provider's models: its refresh tokens, codes and stored access tokens, then the grant. */
  revokeGrant(grantId: string): Promise<void>;
  /** Ends a browser session (its cookie then signs nobody in). */
  endSession(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

// ---- the parts of oidc-provider used here (it ships no types) -----------------------------------

/** The part of a koa context the middleware below reads and writes. */
interface KoaContextLike {
  path: string;
  method: string;
  status: number;
  body: unknown;
}

interface ProviderLike {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  use(middleware: (ctx: KoaContextLike, next: () => Promise<void>) => Promise<void>): void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: http.IncomingMessage, res: http.ServerResponse, result: Record<string, unknown>, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Client: { find(id: string): Promise<{ clientId: string; clientName?: string; redirectUris: string[] } | undefined> };
  Grant: (new (init: { accountId: string; clientId: string }) => GrantLike) & { find(id: string): Promise<{ destroy(): Promise<void> } | undefined> };
  AccessToken: { revokeByGrantId(grantId: string): Promise<void> };
  RefreshToken: { revokeByGrantId(grantId: string): Promise<void> };
  AuthorizationCode: { revokeByGrantId(grantId: string): Promise<void> };
  Session: { find(id: string): Promise<{ destroy(): Promise<void> } | undefined> };
  on(event: string, listener: (...args: unknown[]) => void): void;
  proxy?: boolean;
}
type ProviderCtor = new (issuer: string, configuration: Record<string, unknown>) => ProviderLike;
type OAuthErrorCtor = new (description?: string) => Error;
interface OAuthErrors {
  InvalidTarget: OAuthErrorCtor;
  InvalidRedirectUri: OAuthErrorCtor;
  InvalidClient: OAuthErrorCtor;
}

/** What oidc-provider's events carry that a step reads (never a token's value). */
interface EventCtx {
  req: http.IncomingMessage;
  oidc?: {
    route?: string;
    params?: Record<string, unknown>;
    session?: { accountId?: string };
    entities?: {
      Client?: { clientId: string; clientName?: string };
      Grant?: { jti?: string; accountId?: string };
      Account?: { accountId?: string };
      AuthorizationCode?: { resource?: unknown; scope?: string; accountId?: string };
      RefreshToken?: { resource?: unknown; scope?: string; accountId?: string };
    };
  };
}
interface OAuthErrorLike {
  error?: string;
  error_description?: string;
  message?: string;
}

const STEP_OF_ROUTE: Record<string, { kind: SignInStepKind; endpoint: string; httpMethod: string }> = {
  registration: { kind: 'client_registration', endpoint: AUTH_SERVER_PATHS.registration, httpMethod: 'POST' },
  authorization: { kind: 'authorization', endpoint: AUTH_SERVER_PATHS.authorization, httpMethod: 'GET' },
  token: { kind: 'token', endpoint: AUTH_SERVER_PATHS.token, httpMethod: 'POST' },
  revocation: { kind: 'revocation', endpoint: AUTH_SERVER_PATHS.revocation, httpMethod: 'POST' },
};

/** Turns oidc-provider's events into sign-in steps: who, for which server, how it ended. */
function reportSteps(provider: ProviderLike, emit: SignInStepListener): void {
  const scopesOf = (v: unknown) => (typeof v === 'string' ? v.split(' ').filter(Boolean) : undefined);
  const single = (v: unknown) => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
  const about = (ctx: EventCtx): Parameters<typeof signInStep>[1] => {
    const e = ctx.oidc?.entities ?? {};
    const p = ctx.oidc?.params ?? {};
    const source = e.AuthorizationCode ?? e.RefreshToken;
    return {
      ...requestOrigin(ctx.req),
      clientId: e.Client?.clientId ?? single(p['client_id']),
      clientName: e.Client?.clientName,
      subject: e.Grant?.accountId ?? e.Account?.accountId ?? source?.accountId ?? ctx.oidc?.session?.accountId,
      resource: single(p['resource']) ?? single(source?.resource),
      scopes: scopesOf(p['scope'] ?? source?.scope),
      grantType: single(p['grant_type']),
      grantId: e.Grant?.jti,
    };
  };
  const route = (ctx: EventCtx, fallback: string) => STEP_OF_ROUTE[ctx.oidc?.route ?? fallback] ?? STEP_OF_ROUTE[fallback]!;
  const safely = (f: () => SignInStep) => {
    try {
      emit(f());
    } catch {
      // an audit listener never breaks a sign-in
    }
  };
  const failed = (fallback: string) => (ctx: unknown, err: unknown) =>
    safely(() => {
      const c = ctx as EventCtx;
      const e = err as OAuthErrorLike;
      const outcome = e.error === 'access_denied' ? 'denied' : e.error === undefined || e.error === 'server_error' ? 'error' : 'failure';
      return signInStep({ ...route(c, fallback), outcome }, { ...about(c), error: e.error ?? 'server_error', reason: e.error_description ?? e.message });
    });
  const succeeded = (fallback: string, extra: (ctx: EventCtx, ...rest: unknown[]) => Parameters<typeof signInStep>[1] = () => ({})) => (ctx: unknown, ...rest: unknown[]) =>
    safely(() => {
      const c = ctx as EventCtx;
      return signInStep({ ...route(c, fallback), outcome: 'success' }, { ...about(c), ...extra(c, ...rest) });
    });
  provider.on('registration_create.success', succeeded('registration', (_c, client) => ({ clientId: (client as { clientId: string }).clientId, clientName: (client as { clientName?: string }).clientName })));
  provider.on('registration_create.error', failed('registration'));
  provider.on('authorization.success', succeeded('authorization'));
  provider.on('authorization.error', failed('authorization'));
  provider.on('grant.success', succeeded('token'));
  provider.on('grant.error', failed('token'));
  // At the revocation endpoint, or a used refresh token presented again (the whole grant goes: RFC 9700 §4.14).
  provider.on('grant.revoked', (ctx: unknown, grantId: unknown) =>
    safely(() => {
      const c = ctx as EventCtx;
      const reuse = c.oidc?.route === 'token';
      return signInStep(
        { kind: 'revocation', outcome: 'success', endpoint: reuse ? AUTH_SERVER_PATHS.token : AUTH_SERVER_PATHS.revocation, httpMethod: 'POST' },
        { ...about(c), grantId: typeof grantId === 'string' ? grantId : undefined, grantType: undefined, reason: reuse ? 'A used refresh token was presented again: the whole grant is revoked.' : 'The client revoked its token.' },
      );
    }),
  );
  provider.on('revocation.error', failed('revocation'));
  provider.on('server_error', failed('token'));
}

/** Claims the engine itself sets in an access token; an account's claims never replace them. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope', 'cnf', 'azp', 'auth_time', 'acr', 'amr']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** http://127.0.0.1, localhost or [::1], any port, any path (RFC 8252 §7.3). */
function loopbackRedirect(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname) && !u.username && !u.password;
  } catch {
    return false;
  }
}
const SECURITY_HEADERS = { 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff' };
/** ToolHive's limit on dynamic client registration: 1 a second, 5 at once; then 429 with Retry-After. */
const REGISTRATIONS_PER_SECOND = 1;
const REGISTRATION_BURST = 5;

/** Schemes that run or read something where they are opened: never a place to send a code. */
const DANGEROUS_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:', 'ftp:', 'ws:', 'wss:', 'mailto:', 'tel:']);

/** A native app's own scheme (RFC 8252 §7.1: `com.example.app:/cb`, `cursor://...`). */
function privateUseScheme(uri: string): boolean {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  return scheme !== undefined && scheme !== 'http' && scheme !== 'https' && !DANGEROUS_SCHEMES.has(`${scheme}:`);
}

/**
 * Why a registered redirect URI is refused (checklist row B22), or undefined: https anywhere, plain http
 * only to this machine (RFC 8252 loopback), a native app's own scheme; never a wildcard, a fragment, or a
 * scheme that runs code where it is opened.
 */
function refusedRedirect(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'it is not a URL';
  }
  if (DANGEROUS_SCHEMES.has(url.protocol)) return `${url.protocol} URIs run or read something where they are opened`;
  if (uri.includes('*')) return 'wildcards are matched as text, never as patterns, so they only mislead';
  if (uri.includes('#')) return 'a redirect URI has no fragment (RFC 6749 §3.1.2)';
  if (url.username || url.password) return 'it carries a user name or password';
  if (url.protocol === 'http:' && !loopbackRedirect(uri)) return 'plain http is only for this machine (127.0.0.1, localhost or [::1]); use https';
  return undefined;
}

/** The claims of an account that go into Gatehouse's access tokens (Cedar's claim_*): all but the ones the engine sets. */
export function tokenClaimsOf(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([k]) => !RESERVED_CLAIMS.has(k)));
}

/** The oidc-provider configuration: ToolHive's behaviour, RFC 9700's advice, Gatehouse's keys and store. */
function configuration(o: AuthServerEngineOptions, { InvalidTarget, InvalidRedirectUri, InvalidClient }: OAuthErrors): Record<string, unknown> {
  const network = o.clientDocuments ?? realClientDocumentNetwork;
  const { settings, keys } = o;
  const alg = keys.signing[0]!.alg;
  const seconds = (ms: number) => Math.floor(ms / 1000);
  const lifespans = settings.lifespans;
  return {
    adapter: o.adapter,
    // The first signs; the others are published so tokens they signed still verify.
    jwks: { keys: keys.signing.map((k) => k.privateJwk) },
    // Cookies are signed with the HMAC keys: the first signs, the rest still verify.
    cookies: cookieSettings(o.settings.issuer, keys.hmac),
    routes: {
      authorization: AUTH_SERVER_PATHS.authorization,
      token: AUTH_SERVER_PATHS.token,
      registration: AUTH_SERVER_PATHS.registration,
      revocation: AUTH_SERVER_PATHS.revocation,
      jwks: AUTH_SERVER_PATHS.jwks,
      introspection: '/oauth/introspect',
      userinfo: '/oauth/userinfo',
      end_session: '/oauth/logout',
    },
    scopes: settings.scopesSupported,
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    findAccount: async (_ctx: unknown, sub: string) => {
      const claims = await o.findAccount(sub);
      return claims ? { accountId: sub, claims: () => ({ ...claims, sub }) } : undefined;
    },
    // Access tokens carry the user's claims (name, email, groups, ...): Cedar decides on this token's claims,
    // never the upstream's. Registered claims stay oidc-provider's.
    extraTokenClaims: async (_ctx: unknown, token: { accountId?: string }) => {
      if (!token.accountId) return undefined;
      const claims = await o.findAccount(token.accountId);
      return claims ? tokenClaimsOf(claims) : undefined;
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${AUTH_SERVER_PATHS.interaction}/${interaction.uid}` },
    clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', id_token_signed_response_alg: alg },
    // MCP clients rarely say they are native apps; one that redirects to this machine is one (RFC 8252):
    // its loopback redirect matches whatever port it listens on this time (its https ones match exactly).
    extraClientMetadata: {
      properties: ['gatehouse_loopback'],
      validator: (_ctx: unknown, key: string, _value: unknown, metadata: Record<string, unknown>) => {
        if (key !== 'gatehouse_loopback') return;
        const uris = Array.isArray(metadata['redirect_uris']) ? (metadata['redirect_uris'] as unknown[]) : [];
        for (const u of uris) {
          const why = typeof u === 'string' ? refusedRedirect(u) : 'it is not a string';
          if (why) throw new InvalidRedirectUri(`${JSON.stringify(u).slice(0, 200)} cannot be a redirect URI here: ${why}.`);
        }
        // A client with a loopback or app-scheme redirect is a native app (VS Code registers both
        // https://vscode.dev/redirect and http://127.0.0.1:33418/, then listens on whatever port is free).
        if (uris.some((u) => typeof u === 'string' && (loopbackRedirect(u) || privateUseScheme(u)))) metadata['application_type'] = 'native';
        delete metadata['gatehouse_loopback'];
      },
    },
    pkce: { required: () => true },
    // OAuth 2.1: the authorization code flow only (no implicit, no hybrid); public clients unless confidential registration is allowed.
    responseTypes: ['code'],
    clientAuthMethods: settings.allowConfidentialClientRegistration ? ['none', 'client_secret_basic', 'client_secret_post'] : ['none'],
    // Only client metadata documents are fetched (no jwks_uri or sector identifiers are taken).
    fetch: (url: string | URL, init: RequestInit) => network.fetch(url, init),
    fetchResponseBodyLimits: { 'client_id metadata document': 5 * 1024, jwks_uri: 0, sector_identifier_uri: 0 },
    features: {
      // Client ID Metadata Documents (ToolHive's cimd settings; off unless enabled): the client_id is an
      // https URL whose JSON names the client and its redirect URIs. oidc-provider checks the document
      // (client_id equal to the URL, no secrets, 5 KB, 2.5 s, no redirects); the host is checked here first.
      clientIdMetadataDocument: {
        enabled: settings.cimd.enabled,
        ack: 'draft-02',
        allowFetch: async (_ctx: unknown, clientId: string) => {
          const why = await refusedClientDocument(clientId, network);
          if (why) throw new InvalidClient(`Gatehouse does not fetch this client's metadata document: ${why}.`);
          return true;
        },
        cacheDuration: { min: Math.max(30, Math.floor(settings.cimd.cacheFallbackTtlMs / 1000)), max: 86_400 },
      },
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // A token is always for one resource: the one asked for, or the only one there is. A sign-in
        // that names none while several servers take these tokens is refused (checklist row B16):
        // there is no default to guess, and a token for no server is good for nothing.
        defaultResource: (ctx: { oidc?: { route?: string } }) => {
          const all = o.audiences();
          if (all.length === 1) return all[0];
          if (ctx.oidc?.route === 'authorization') {
            throw new InvalidTarget(all.length === 0 ? 'No server takes tokens from this authorization server yet.' : `Say which server the token is for (resource): this authorization server issues tokens for ${all.length} servers.`);
          }
          return undefined;
        },
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (!o.audiences().includes(resource)) throw new InvalidTarget(`${resource} is not a server this authorization server issues tokens for.`);
          return { scope: settings.scopesSupported.join(' '), audience: resource, accessTokenTTL: seconds(lifespans.accessTokenMs), accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
        },
      },
    },
    ttl: {
      AccessToken: seconds(lifespans.accessTokenMs),
      AuthorizationCode: seconds(lifespans.authCodeMs),
      RefreshToken: seconds(lifespans.refreshTokenMs),
      Grant: seconds(lifespans.refreshTokenMs),
      Session: seconds(lifespans.refreshTokenMs),
      Interaction: 600,
      IdToken: seconds(lifespans.accessTokenMs),
    },
    // Every refresh rotates; a rotated one used again revokes the grant (RFC 9700 §4.14). The resource
    // asked for is checked first: oidc-provider would use the token up and then refuse the resource,
    // and the client's retry with the same token would count as reuse and end its sign-in.
    rotateRefreshToken: (ctx: { oidc: { params: Record<string, unknown>; entities: { RefreshToken?: { resourceIndicators?: Set<string> } } } }) => {
      const asked = ctx.oidc.params['resource'];
      if (asked === undefined) return true;
      if (typeof asked !== 'string') throw new InvalidTarget('Ask for one resource at a time.');
      const granted = ctx.oidc.entities.RefreshToken?.resourceIndicators;
      if (granted && !granted.has(asked)) throw new InvalidTarget(`${asked} is not a server this sign-in was for.`);
      if (!o.audiences().includes(asked)) throw new InvalidTarget(`${asked} is not a server this authorization server issues tokens for.`);
      return true;
    },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    clientBasedCORS: () => false,
    renderError: (ctx: { type: string; body: unknown }, out: Record<string, string>) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

/**
 * Signed, HttpOnly, SameSite=Lax cookies. Behind an https issuer they are also Secure and carry the
 * prefixes browsers enforce (RFC 6265bis §4.1.3): `__Host-` for the session (Path=/, no Domain, so no
 * sibling host can plant or read it), `__Secure-` for the interaction cookies, which live on their
 * interaction's own path. Plain-http loopback issuers cannot use either prefix.
 */
function cookieSettings(issuer: string, hmac: Buffer[]): Record<string, unknown> {
  const secure = new URL(issuer).protocol === 'https:';
  const attrs = { signed: true, httpOnly: true, sameSite: 'lax', ...(secure ? { secure: true } : {}) };
  return {
    keys: hmac.map((k) => k.toString('base64')),
    long: attrs,
    short: attrs,
    ...(secure ? { names: { session: '__Host-session', interaction: '__Secure-interaction', resume: '__Secure-interaction_resume' } } : {}),
  };
}

/**
 * A code_verifier outside RFC 7636 §4.1's syntax (too short, too long, other characters) cannot
 * match the challenge: oidc-provider calls it a malformed request, before it compares anything; the
 * answer is the one every failed verification gets (invalid_grant, RFC 7636 §4.6), so a client
 * cannot tell one from the other.
 */
async function verifierSyntaxIsInvalidGrant(ctx: KoaContextLike, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.path !== AUTH_SERVER_PATHS.token || ctx.method !== 'POST' || ctx.status !== 400) return;
  const body = ctx.body as { error?: unknown; error_description?: unknown } | null;
  if (body?.error === 'invalid_request' && typeof body.error_description === 'string' && /^code_verifier (must be|contains)/.test(body.error_description)) {
    ctx.body = { error: 'invalid_grant', error_description: 'grant request is invalid' };
  }
}

/**
 * Starts the authorization server on 127.0.0.1: oidc-provider at ToolHive's paths, RFC 8414 metadata at
 * /.well-known/oauth-authorization-server (the same document as OpenID discovery), and the interactions.
 */
export async function startAuthServerEngine(o: AuthServerEngineOptions): Promise<AuthServerEngine> {
  const lib = await import('oidc-provider');
  const Provider = lib.default as unknown as ProviderCtor;
  const provider = new Provider(o.settings.issuer, configuration(o, lib.errors as unknown as OAuthErrors));
  // Every URL it writes (metadata, redirects, cookies' Secure flag) comes from the issuer, never from
  // what a caller sent: it listens on 127.0.0.1, and an https issuer reaches it through a front.
  provider.proxy = true;
  const issuer = new URL(o.settings.issuer);
  if (o.onStep) reportSteps(provider, o.onStep);
  provider.use(verifierSyntaxIsInvalidGrant);
  const handle = provider.callback();
  const registrations = new TokenBucket(REGISTRATIONS_PER_SECOND, REGISTRATION_BURST, o.now);
  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    req.headers.host = issuer.host;
    req.headers['x-forwarded-host'] = issuer.host;
    req.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    void (async () => {
      if (url.pathname === AUTH_SERVER_PATHS.registration && req.method === 'POST' && !registrations.take()) {
        // A program registering in a loop fills SQLite and the consent list: it waits, as at ToolHive.
        const retry = registrations.retryAfterSeconds();
        o.onStep?.(signInStep({ kind: 'client_registration', outcome: 'denied', endpoint: AUTH_SERVER_PATHS.registration, httpMethod: 'POST' }, { ...requestOrigin(req), error: 'rate_limited', reason: `More than ${REGISTRATION_BURST} registrations at once, or more than ${REGISTRATIONS_PER_SECOND} a second.` }));
        req.resume();
        res.writeHead(429, { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': String(retry) });
        res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: `Too many client registrations; try again in ${retry} s.` }));
        return;
      }
      if (url.pathname === '/.well-known/oauth-authorization-server' || url.pathname.startsWith('/.well-known/oauth-authorization-server/')) {
        req.url = '/.well-known/openid-configuration';
        return handle(req, res);
      }
      if (url.pathname === AUTH_SERVER_PATHS.authorization && req.method === 'GET' && !url.searchParams.has('scope')) {
        // RFC 6749 §3.3: a request without scope gets the default one (MCP clients often send none).
        url.searchParams.set('scope', (o.settings.baselineClientScopes.length ? o.settings.baselineClientScopes : ['openid']).join(' '));
        req.url = `${url.pathname}${url.search}`;
        return handle(req, res);
      }
      if (url.pathname.startsWith(`${AUTH_SERVER_PATHS.interaction}/`) || url.pathname === AUTH_SERVER_PATHS.callback) {
        // Tokens, codes and states pass here: nothing is cached or sent on as a referrer.
        res.setHeader('cache-control', 'no-store');
        return o.interactions.handle({
          req,
          res,
          url,
          details: () => provider.interactionDetails(req, res),
          client: async (clientId) => {
            const c = await provider.Client.find(clientId);
            return c ? { clientId: c.clientId, ...(c.clientName ? { clientName: c.clientName } : {}), redirectUris: c.redirectUris } : undefined;
          },
          newGrant: (accountId, clientId) => new provider.Grant({ accountId, clientId }),
          finish: (result) => provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false }),
        });
      }
      return handle(req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: 'invalid_request', error_description: (err as Error).message }));
      } else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    revokeGrant: async (grantId) => {
      await Promise.all([provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode].map((m) => m.revokeByGrantId(grantId)));
      await (await provider.Grant.find(grantId))?.destroy();
    },
    endSession: async (sessionId) => {
      await (await provider.Session.find(sessionId))?.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
