import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  accountClaims,
  AUTH_SERVER_PATHS,
  KeyRing,
  OidcUpstreamClient,
  parseAuthServerSettings,
  sealedAdapter,
  startAuthServerEngine,
  UpstreamInteractions,
  type AuthServerEngine,
  type AuthServerSettings,
  type ClientDocumentNetwork,
} from '../../src/authserver/index.js';
import { KeychainSecrets, OsKeychain, SealedStore } from '../../src/secrets/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempHome } from './core-harness.js';
import type { PrivateKeyring } from './keyring.js';
import { registerTestSecret } from './leak-registry.js';
import { freePort } from './ports.js';

// ---- a browser, as far as OAuth redirects and cookies go ---------------------------------------------

/** One request a UserAgent made, and how it was answered. */
export interface Hop {
  method: 'GET' | 'POST';
  url: string;
  status: number;
  location?: string;
  /** The Set-Cookie lines of the answer, as sent. */
  setCookies: string[];
}

interface StoredCookie {
  origin: string;
  name: string;
  value: string;
  path: string;
}

/** Where a followed flow ended: a redirect that left the servers we drive (not followed), or a page. */
export type FlowEnd = { redirect: URL; page?: undefined } | { redirect?: undefined; page: { url: URL; status: number; headers: Headers; body: string } };

export interface FollowOptions {
  /** Gatehouse's consent page: Allow, Deny, or stop there and return it (default: allow). */
  consent?: 'allow' | 'deny' | 'stop';
  /** The login at the test identity provider's devInteractions (default: alice). */
  login?: string;
  /** Stop (without following) at a redirect to here. Default: any origin other than the servers in `origins`. */
  stopAt?: (u: URL) => boolean;
}

/**
 * A browser for HTTP-only flows: a cookie jar per origin (scheme, host and port: Gatehouse and the
 * upstream both live on 127.0.0.1, which in production are different sites) with path matching, every
 * request and answer in `hops`, redirects never followed by fetch itself.
 */
export class UserAgent {
  private readonly cookies = new Map<string, StoredCookie>();
  readonly hops: Hop[] = [];

  constructor(private readonly origins: string[]) {}

  /** A new browser with the cookies this one holds for `origin` only (e.g. just the upstream's session). */
  withCookiesOf(origin: string): UserAgent {
    const ua = new UserAgent(this.origins);
    for (const [k, c] of this.cookies) if (c.origin === origin) ua.cookies.set(k, { ...c });
    return ua;
  }

  /** A cookie's value (the first by that name, or the one on `cookiePath`). */
  cookie(origin: string, name: string, cookiePath?: string): string | undefined {
    return [...this.cookies.values()].find((c) => c.origin === origin && c.name === name && (cookiePath === undefined || c.path === cookiePath))?.value;
  }

  setCookie(origin: string, name: string, value: string, cookiePath = '/'): void {
    this.cookies.set(`${origin}\0${name}\0${cookiePath}`, { origin, name, value, path: cookiePath });
  }

  cookieHeader(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => c.origin === url.origin && (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private take(url: URL, res: Response): string[] {
    const lines = res.headers.getSetCookie();
    for (const line of lines) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let cookiePath = '/';
      let expired = false;
      for (const a of attrs) {
        const i = a.indexOf('=');
        const k = (i < 0 ? a : a.slice(0, i)).toLowerCase();
        const v = i < 0 ? '' : a.slice(i + 1);
        if (k === 'path' && v) cookiePath = v;
        if (k === 'max-age' && Number(v) <= 0) expired = true;
        if (k === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const key = `${url.origin}\0${name}\0${cookiePath}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { origin: url.origin, name, value, path: cookiePath });
    }
    return lines;
  }

  /** One request with this browser's cookies; the answer's cookies kept. */
  async send(url: URL | string, init: { method?: 'GET' | 'POST'; form?: URLSearchParams; headers?: Record<string, string> } = {}): Promise<Response> {
    const u = new URL(url);
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader(u);
    if (cookie) headers['cookie'] = cookie;
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(u, { method, headers, redirect: 'manual', ...(init.form ? { body: init.form.toString() } : {}) });
    const setCookies = this.take(u, res);
    const location = res.headers.get('location');
    this.hops.push({ method, url: u.href, status: res.status, ...(location ? { location: new URL(location, u).href } : {}), setCookies });
    return res;
  }

  /**
   * Follows a flow as a browser would: redirects (GET), Gatehouse's consent page (its form posted with
   * the decision), the test identity provider's login and consent pages (devInteractions), until a
   * redirect leaves the servers we drive (returned, not followed) or a page that is none of those.
   */
  async follow(start: URL | string, opts: FollowOptions = {}): Promise<FlowEnd> {
    const stopAt = opts.stopAt ?? ((u: URL) => !this.origins.includes(u.origin));
    let req: { url: URL; method: 'GET' | 'POST'; form?: URLSearchParams } = { url: new URL(start), method: 'GET' };
    for (let hop = 0; hop < 24; hop++) {
      const res = await this.send(req.url, req);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        const next = new URL(location, req.url);
        if (stopAt(next)) return { redirect: next };
        req = { url: next, method: 'GET' };
        continue;
      }
      const body = await res.text();
      const consent = res.status === 200 ? consentForm(body) : undefined;
      if (consent && (opts.consent ?? 'allow') !== 'stop') {
        req = { url: new URL(consent.action, req.url), method: 'POST', form: new URLSearchParams({ csrf: consent.csrf, decision: opts.consent ?? 'allow' }) };
        continue;
      }
      const dev = res.status === 200 ? devInteractionForm(body) : undefined;
      if (dev) {
        const form = new URLSearchParams({ prompt: dev.prompt });
        if (dev.prompt === 'login') {
          form.set('login', opts.login ?? 'alice');
          form.set('password', 'any-password');
        }
        req = { url: new URL(dev.action, req.url), method: 'POST', form };
        continue;
      }
      return { page: { url: req.url, status: res.status, headers: res.headers, body } };
    }
    throw new Error(`the flow from ${String(start)} did not end: ${this.hops.slice(-6).map((h) => `${h.method} ${h.url} ${h.status}`).join(' | ')}`);
  }
}

const unescape = (s: string) => s.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');

/** Gatehouse's consent form: where it posts and its CSRF token. */
export function consentForm(html: string): { action: string; csrf: string } | undefined {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  return action && csrf ? { action: unescape(action), csrf: unescape(csrf) } : undefined;
}

/** oidc-provider's devInteractions page (the test identity provider): a form with prompt=login or prompt=consent. */
function devInteractionForm(html: string): { action: string; prompt: string } | undefined {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
  return action && prompt ? { action: unescape(action), prompt } : undefined;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

// ---- the authorization server under test --------------------------------------------------------------

export interface RigUpstream {
  issuerUrl: string;
  clientId: string;
  clientSecret?: string;
  scopes?: string[];
}

export interface RigOptions {
  keyring: PrivateKeyring;
  /** The MCP servers' URLs tokens may be for (mutable: the engine reads it at each request). */
  audiences: string[];
  /** The upstream identity provider, told Gatehouse's callback URL (to register it there). */
  upstream: (callbackUrl: string) => Promise<RigUpstream>;
  /** More of ToolHive's settings (cimd, ...), beside the issuer and upstream. */
  settings?: Record<string, unknown>;
  /** Where client metadata documents come from. */
  clientDocuments?: ClientDocumentNetwork;
}

export interface TokenAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

export interface AuthorizeParams {
  clientId: string;
  redirectUri: string;
  /** Default: 'openid'. Null: no scope parameter. */
  scope?: string | null;
  resource?: string;
  state?: string;
  /** Default: a fresh S256 challenge. Null: no code_challenge. */
  challenge?: string | null;
  /** Default 'S256' when a challenge is sent. Null: no code_challenge_method. */
  method?: string | null;
  extra?: Record<string, string>;
}

/**
 * Gatehouse's embedded authorization server as the core runs it (engine, consent page and upstream
 * login through UpstreamInteractions, keys and records in a real keychain and SQLite file), on its own
 * loopback issuer, with a clock for the interactions that tests can move (`skewMs`).
 */
export class AuthServerRig {
  readonly issuer: string;
  skewMs = 0;
  private constructor(
    readonly engine: AuthServerEngine,
    readonly interactions: UpstreamInteractions,
    readonly settings: AuthServerSettings,
    readonly upstreamOrigin: string,
    private readonly store: Store,
  ) {
    this.issuer = settings.issuer;
  }

  static async start(o: RigOptions): Promise<AuthServerRig> {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const up = await o.upstream(`${issuer}${AUTH_SERVER_PATHS.callback}`);
    const store = openStore(path.join(tempHome('gatehouse-authserver-checklist-'), 'gatehouse.db'));
    const kc = new OsKeychain('Gatehouse', 10_000, o.keyring.env);
    const ringName = `checklist-${randomBytes(4).toString('hex')}`;
    const secretName = `${ringName}-upstream`;
    if (up.clientSecret) await new KeychainSecrets(kc).set(`${secretName}.client-secret`, registerTestSecret('checklist upstream client secret', up.clientSecret));
    const settings = parseAuthServerSettings({
      ...o.settings,
      issuer,
      upstreamProviders: [
        {
          name: 'corp',
          type: 'oidc',
          oidcConfig: { issuerUrl: up.issuerUrl, clientId: up.clientId, ...(up.clientSecret ? { clientSecretRef: { name: secretName, key: 'client-secret' } } : {}), scopes: up.scopes ?? ['openid'] },
        },
      ],
    });
    const ring = new KeyRing(ringName, { keychain: kc, secrets: () => new KeychainSecrets(kc) });
    const keys = await ring.load(settings, settings.lifespans.accessTokenMs);
    const sealed = new SealedStore(kc, store.encrypted);
    const u = settings.upstream;
    if (u.type !== 'oidc') throw new Error('an oidc upstream');
    let rig: AuthServerRig | undefined;
    const interactions = new UpstreamInteractions({
      settings,
      sealed,
      upstream: new OidcUpstreamClient(u, async () => (u.clientSecret ? ring.read(u.clientSecret, 'The upstream client secret') : undefined)),
      now: () => Date.now() + (rig?.skewMs ?? 0),
    });
    const engine = await startAuthServerEngine({
      settings,
      keys,
      adapter: sealedAdapter({ sealed, index: store.authServerIndex }),
      audiences: () => o.audiences,
      findAccount: async (sub) => {
        const a = await interactions.account(sub);
        return a ? accountClaims(a) : undefined;
      },
      interactions,
      port,
      // A patient client: a second passes between registrations, so the rate limit never bites here.
      now: ((t) => () => (t += 1000))(0),
      ...(o.clientDocuments ? { clientDocuments: o.clientDocuments } : {}),
    });
    rig = new AuthServerRig(engine, interactions, settings, new URL(up.issuerUrl).origin, store);
    return rig;
  }

  async close(): Promise<void> {
    await this.engine.close();
    this.store.close();
  }

  /** A fresh browser that knows Gatehouse and the upstream (a redirect anywhere else ends a flow). */
  browser(): UserAgent {
    return new UserAgent([this.issuer, this.upstreamOrigin]);
  }

  url(p: string): string {
    return `${this.issuer}${p}`;
  }

  /** RFC 7591 registration, as an MCP client sends it; the answer as it came. */
  async register(metadata: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(this.url(AUTH_SERVER_PATHS.registration), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  /** A public client (PKCE, no secret) with these redirect URIs; its client_id. */
  async client(redirectUris: string[], extra: Record<string, unknown> = {}): Promise<string> {
    const r = await this.register({ client_name: 'Checklist client', redirect_uris: redirectUris, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', ...extra });
    if (r.status !== 201 || typeof r.json['client_id'] !== 'string') throw new Error(`registration failed: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json['client_id'];
  }

  authorizeUrl(p: AuthorizeParams): { url: URL; verifier: string; state: string } {
    const { verifier, challenge } = pkce();
    const state = p.state ?? randomBytes(12).toString('base64url');
    const url = new URL(this.url(AUTH_SERVER_PATHS.authorization));
    const q = url.searchParams;
    q.set('response_type', 'code');
    q.set('client_id', p.clientId);
    q.set('redirect_uri', p.redirectUri);
    q.set('state', state);
    const scope = p.scope === undefined ? 'openid' : p.scope;
    if (scope !== null) q.set('scope', scope);
    if (p.resource) q.set('resource', p.resource);
    const ch = p.challenge === undefined ? challenge : p.challenge;
    if (ch !== null) q.set('code_challenge', ch);
    const method = p.method === undefined ? (ch !== null ? 'S256' : null) : p.method;
    if (method !== null) q.set('code_challenge_method', method);
    for (const [k, v] of Object.entries(p.extra ?? {})) q.set(k, v);
    return { url, verifier, state };
  }

  /**
   * A whole sign-in in `ua` (default: a fresh browser): authorize, consent (allowed), the upstream login,
   * back to the client's redirect, which must carry a code; the code and the verifier.
   */
  async signIn(p: AuthorizeParams & { ua?: UserAgent; login?: string }): Promise<{ code: string; verifier: string; redirect: URL; ua: UserAgent }> {
    const ua = p.ua ?? this.browser();
    const { url, verifier, state } = this.authorizeUrl(p);
    const end = await ua.follow(url, { ...(p.login ? { login: p.login } : {}) });
    if (!end.redirect) throw new Error(`the sign-in ended on a page: ${end.page.url.href} HTTP ${end.page.status} ${end.page.body.slice(0, 300)}`);
    const code = end.redirect.searchParams.get('code');
    if (!code || end.redirect.searchParams.get('state') !== state) throw new Error(`the sign-in ended without a code: ${end.redirect.href}`);
    return { code, verifier, redirect: end.redirect, ua };
  }

  /** A token request (form-encoded); the answer as it came. */
  async token(form: Record<string, string | undefined>): Promise<TokenAnswer> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
    const res = await fetch(this.url(AUTH_SERVER_PATHS.token), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const json = (await res.json()) as Record<string, unknown>;
    for (const k of ['access_token', 'refresh_token', 'id_token']) if (typeof json[k] === 'string') registerTestSecret(`checklist ${k}`, json[k]);
    return { status: res.status, headers: res.headers, json };
  }

  redeem(p: { clientId: string; code: string; verifier?: string; redirectUri: string; resource?: string }): Promise<TokenAnswer> {
    return this.token({ grant_type: 'authorization_code', client_id: p.clientId, code: p.code, code_verifier: p.verifier, redirect_uri: p.redirectUri, resource: p.resource });
  }

  refresh(p: { clientId: string; refreshToken: string; resource?: string }): Promise<TokenAnswer> {
    return this.token({ grant_type: 'refresh_token', client_id: p.clientId, refresh_token: p.refreshToken, resource: p.resource });
  }
}
