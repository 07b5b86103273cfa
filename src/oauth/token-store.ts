import { refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { safeFetchLike } from '../auth/index.js';
import type { Keychain } from '../secrets/index.js';
import { INTERNAL_PREFIX } from '../secrets/index.js';
import type { SignInResult } from './sign-in.js';

/** What survives a restart of Gatehouse, in the keychain only: the grant's refresh token and how to use it. */
const StoredGrantSchema = z.object({
  issuer: z.string(),
  resource: z.string(),
  clientId: z.string(),
  clientSecret: z.string().optional(),
  refreshToken: z.string(),
  scope: z.string().optional(),
  /** The scopes the sign-in asked for (a step-up asks for these and the new ones). */
  requested: z.array(z.string()).optional(),
  metadata: z.record(z.string(), z.unknown()),
  /** The authorization server is on a private address, allowed explicitly at sign-in. */
  allowPrivateIp: z.boolean().optional(),
});
type StoredGrant = z.infer<typeof StoredGrantSchema>;

/** A client Gatehouse registered for itself (dynamic registration), kept so the next sign-in reuses it. */
const RegistrationSchema = z.object({
  issuer: z.string(),
  client: z.object({ client_id: z.string() }).passthrough(),
  redirectPath: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/),
});
export type StoredRegistration = NonNullable<SignInResult['registration']>;

/** The user must sign in again (no grant, or the authorization server refused it): nothing retries this. */
export class SignInRequiredError extends Error {}
/** The authorization server could not answer now (5xx, 429, the network): the refresh is worth retrying. */
export class RefreshRetryError extends Error {}

const EARLY_MS = 60_000;
/** After a refresh failed transiently, callers wait this long before one asks the authorization server again. */
const RETRY_PAUSE_MS = 5_000;
const TRANSIENT = new Set(['server_error', 'temporarily_unavailable']);

interface Live {
  accessToken: string;
  expiresAt: number;
  /** When it is refreshed: a minute before expiry, or half-way through a short-lived token. */
  refreshAt: number;
  scope?: string;
}

/**
 * What the app and the CLI may know of a sign-in: its state, expiry, scopes and the last refresh; never
 * a token. `claims` are the access token's payload when it is a JWT (audience, subject, ...).
 */
export interface SignInStatus {
  state: 'signed-out' | 'signed-in' | 'needs-sign-in' | 'retrying';
  detail: string | null;
  issuer: string | null;
  expiresAt: number | null;
  /** When the access token is due for a refresh. */
  refreshAt: number | null;
  scope: string | null;
  claims: Record<string, unknown> | null;
  lastRefresh: { at: number; ok: boolean; detail: string | null } | null;
  /**
   * The server asked for more than this sign-in has (403 insufficient_scope): the scopes the next
   * sign-in asks for. The sign-in keeps working for what it already may do.
   */
  stepUp: string[] | null;
}

interface Tracked {
  state: SignInStatus['state'];
  detail: string | null;
  issuer: string | null;
  claims: Record<string, unknown> | null;
  lastRefresh: SignInStatus['lastRefresh'];
  requested: string[] | null;
  stepUp: string[] | null;
}

export interface TokenStoreOptions {
  fetchFn?: (input: string | URL, init?: RequestInit) => Promise<Response>;
  now?: () => number;
}

/**
 * Tokens of Gatehouse's own sign-ins, per server: the refresh token in the keychain, the access token
 * in memory only. An access token about to expire is refreshed first, one refresh at a time per
 * server however many callers ask, and a rotated refresh token is stored before the new access token
 * is used: if the keychain cannot keep it, the token is not used (a lost rotation would end the grant).
 */
export class OAuthTokenStore {
  private readonly live = new Map<string, Live>();
  private readonly refreshing = new Map<string, Promise<string>>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly listeners = new Set<(server: string) => void>();
  /**
   * Bumped by a sign-in and a sign-out: a refresh that was under way when either happened keeps nothing
   * of its answer (it would bring back a grant signed out of, or overwrite the new one).
   */
  private readonly generations = new Map<string, { n: number; signedOut: boolean }>();
  private readonly now: () => number;

  constructor(
    private readonly keychain: Keychain,
    private readonly opts: TokenStoreOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  private account(server: string): string {
    return `${INTERNAL_PREFIX}oauth:${server}`;
  }

  private registrationAccount(server: string): string {
    return `${INTERNAL_PREFIX}oauth-client:${server}`;
  }

  /** The client registered for this server's sign-ins, if one was (and is still believed valid). */
  async registration(server: string): Promise<StoredRegistration | undefined> {
    const raw = await this.keychain.get(this.registrationAccount(server));
    if (raw === null) return undefined;
    try {
      return RegistrationSchema.parse(JSON.parse(raw)) as StoredRegistration;
    } catch {
      return undefined;
    }
  }

  async dropRegistration(server: string): Promise<void> {
    await this.keychain.delete(this.registrationAccount(server));
  }

  /** Called with a server's name whenever its sign-in state changes. */
  onChange(listener: (server: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The sign-in's state, for the app, the CLI and the server's status. */
  async status(server: string): Promise<SignInStatus> {
    const t = this.tracked.get(server);
    const l = this.live.get(server);
    let state: SignInStatus['state'];
    let issuer = t?.issuer ?? null;
    if (t && t.state !== 'signed-in') state = t.state;
    else if (l) state = 'signed-in';
    else {
      const raw = await this.keychain.get(this.account(server));
      const grant = raw === null ? undefined : StoredGrantSchema.safeParse(JSON.parse(raw)).data;
      issuer ??= grant?.issuer ?? null;
      // A stored grant not used yet (after a restart) is signed in: its first use refreshes it.
      state = grant ? 'signed-in' : 'signed-out';
    }
    return {
      state,
      detail: t?.detail ?? null,
      issuer,
      expiresAt: l?.expiresAt ?? null,
      refreshAt: l?.refreshAt ?? null,
      scope: l?.scope ?? null,
      claims: t?.claims ?? null,
      lastRefresh: t?.lastRefresh ?? null,
      stepUp: t?.stepUp ?? null,
    };
  }

  /**
   * The server refused a call for want of scope (403 insufficient_scope, naming the scopes it needs).
   * `step-up`: the sign-in lacks some of them; the next one asks for them with the ones asked before.
   * `refused`: it already asked for (or was granted) all of them: asking again would only loop.
   */
  insufficientScope(server: string, challenged: string[]): 'step-up' | 'refused' {
    const t = this.tracked.get(server);
    const had = new Set([...(t?.requested ?? []), ...(this.live.get(server)?.scope?.split(' ') ?? [])]);
    const missing = challenged.filter((s) => !had.has(s));
    if (missing.length === 0) return 'refused';
    const want = [...new Set([...(t?.requested ?? []), ...(t?.stepUp ?? []), ...challenged])];
    this.track(server, { stepUp: want, detail: `the server asks for more permission (${missing.join(' ')})` });
    return 'step-up';
  }

  /**
   * The server refused the access token (401). `first`: forget it, the next call refreshes. `again`: a
   * fresh one was refused too: the user must sign in again; no refresh is tried until then.
   */
  refused(server: string, attempt: 'first' | 'again'): void {
    this.live.delete(server);
    if (attempt === 'again') this.track(server, { state: 'needs-sign-in', detail: 'the server refused the sign-in' });
  }

  /** After a sign-in: keeps its grant (a sign-in without a refresh token lasts as long as its access token). */
  async save(server: string, r: SignInResult, opts: { allowPrivateIp?: boolean } = {}): Promise<void> {
    // Before any await: a refresh under way now must not write the old grant over this one.
    this.supersede(server, false);
    if (r.tokens.refresh_token) {
      const grant: StoredGrant = {
        issuer: r.issuer,
        resource: r.resource,
        clientId: r.client.client_id,
        ...(r.client.client_secret ? { clientSecret: r.client.client_secret } : {}),
        refreshToken: r.tokens.refresh_token,
        ...(r.tokens.scope ? { scope: r.tokens.scope } : {}),
        requested: r.requestedScopes,
        metadata: r.metadata as Record<string, unknown>,
        ...(opts.allowPrivateIp ? { allowPrivateIp: true } : {}),
      };
      await this.keychain.set(this.account(server), JSON.stringify(grant));
    } else await this.keychain.delete(this.account(server));
    if (r.registration) await this.keychain.set(this.registrationAccount(server), JSON.stringify(r.registration));
    this.remember(server, r.tokens);
    this.track(server, { state: 'signed-in', detail: null, issuer: r.issuer, lastRefresh: null, requested: r.requestedScopes, stepUp: null });
  }

  /** An access token for the server, refreshed when it is about to expire. */
  async accessToken(server: string): Promise<string> {
    const t = this.tracked.get(server);
    if (t?.state === 'needs-sign-in') throw new SignInRequiredError(`Sign in to ${server} again (${t.detail ?? 'the sign-in ended'}).`);
    const l = this.live.get(server);
    if (l && l.refreshAt > this.now()) return l.accessToken;
    // A refresh just failed and the token still works: callers use it rather than each asking again.
    if (l && t?.state === 'retrying' && l.expiresAt > this.now() && t.lastRefresh && this.now() - t.lastRefresh.at < RETRY_PAUSE_MS) return l.accessToken;
    let pending = this.refreshing.get(server);
    if (!pending) {
      pending = this.refresh(server).finally(() => this.refreshing.delete(server));
      this.refreshing.set(server, pending);
    }
    try {
      return await pending;
    } catch (err) {
      // The authorization server cannot answer now, but the access token has not expired: it still works.
      const still = this.live.get(server);
      if (err instanceof RefreshRetryError && still && still.expiresAt > this.now()) return still.accessToken;
      throw err;
    }
  }

  private supersede(server: string, signedOut: boolean): void {
    this.generations.set(server, { n: (this.generations.get(server)?.n ?? 0) + 1, signedOut });
  }

  /** What a superseded refresh answers: the token of the sign-in that superseded it, or "signed out". */
  private superseded(server: string): string {
    const l = this.live.get(server);
    if (l) return l.accessToken;
    throw new SignInRequiredError(`Signed out of ${server}.`);
  }

  async signedIn(server: string): Promise<boolean> {
    return this.live.has(server) || (await this.keychain.get(this.account(server))) !== null;
  }

  async forget(server: string): Promise<void> {
    this.supersede(server, true);
    this.live.delete(server);
    await this.keychain.delete(this.account(server));
    this.tracked.delete(server);
    this.emit(server);
  }

  /** A removed server: its sign-in and its registration go. */
  async forgetAll(server: string): Promise<void> {
    await this.dropRegistration(server);
    await this.forget(server);
  }

  /** A renamed server keeps its sign-in. */
  async rename(from: string, to: string): Promise<void> {
    for (const account of [(n: string) => this.account(n), (n: string) => this.registrationAccount(n)]) {
      const raw = await this.keychain.get(account(from));
      if (raw !== null) {
        await this.keychain.set(account(to), raw);
        await this.keychain.delete(account(from));
      }
    }
    const l = this.live.get(from);
    if (l) this.live.set(to, l);
    this.live.delete(from);
    const t = this.tracked.get(from);
    if (t) this.tracked.set(to, t);
    this.tracked.delete(from);
    this.emit(to);
  }

  private remember(server: string, tokens: OAuthTokens): void {
    const expiresIn = typeof tokens.expires_in === 'number' ? tokens.expires_in : 3600;
    const lifetimeMs = expiresIn * 1000;
    const now = this.now();
    this.live.set(server, { accessToken: tokens.access_token, expiresAt: now + lifetimeMs, refreshAt: now + lifetimeMs - Math.min(EARLY_MS, lifetimeMs / 2), ...(tokens.scope ? { scope: tokens.scope } : {}) });
    let claims: Record<string, unknown> | null = null;
    try {
      claims = decodeJwt(tokens.access_token) as Record<string, unknown>;
    } catch {
      claims = null; // an opaque token: nothing to show
    }
    this.track(server, { claims });
  }

  private track(server: string, change: Partial<Tracked>): void {
    const before = this.tracked.get(server);
    const next: Tracked = { state: 'signed-in', detail: null, issuer: null, claims: null, lastRefresh: null, requested: null, stepUp: null, ...before, ...change };
    this.tracked.set(server, next);
    if (!before || before.state !== next.state || before.detail !== next.detail || change.lastRefresh !== undefined || change.claims !== undefined || change.stepUp !== undefined) this.emit(server);
  }

  private emit(server: string): void {
    for (const l of this.listeners) {
      try {
        l(server);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private async refresh(server: string): Promise<string> {
    const raw = await this.keychain.get(this.account(server));
    if (raw === null) {
      this.live.delete(server);
      this.track(server, { state: 'needs-sign-in', detail: this.tracked.has(server) ? 'the sign-in expired' : 'not signed in yet' });
      throw new SignInRequiredError(`Sign in to ${server} first.`);
    }
    let parsed: ReturnType<typeof StoredGrantSchema.safeParse>;
    try {
      parsed = StoredGrantSchema.safeParse(JSON.parse(raw));
    } catch {
      parsed = StoredGrantSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      this.track(server, { state: 'needs-sign-in', detail: 'the stored sign-in is unreadable' });
      throw new SignInRequiredError(`The stored sign-in of ${server} is unreadable; sign in again.`);
    }
    const g = parsed.data;
    const generation = this.generations.get(server)?.n;
    // A sign-in or sign-out while the authorization server answered: the answer (a rotated refresh token too) is not kept.
    const supersededMeanwhile = () => this.generations.get(server)?.n !== generation;
    let tokens: OAuthTokens;
    try {
      tokens = await refreshAuthorization(g.issuer, {
        metadata: g.metadata as AuthorizationServerMetadata,
        clientInformation: { client_id: g.clientId, ...(g.clientSecret ? { client_secret: g.clientSecret } : {}) },
        refreshToken: g.refreshToken,
        resource: g.resource,
        // The refresh goes through the same SSRF rules as the sign-in (no redirects, addresses checked).
        fetchFn: this.opts.fetchFn ?? safeFetchLike({ insecureAllowHttp: false, allowPrivateIp: g.allowPrivateIp === true }, { timeoutMs: 10_000 }),
      });
    } catch (err) {
      if (supersededMeanwhile()) return this.superseded(server);
      // An OAuth error answer (invalid_grant, invalid_client, ...) ends the grant. The SDK turns a 5xx,
      // a 429 or a body that is no OAuth error into server_error: those, and the network, may pass.
      if (err instanceof OAuthError && !TRANSIENT.has(err.errorCode)) {
        this.live.delete(server);
        // The server forgot the client: the next sign-in registers a new one.
        if (err.errorCode === 'invalid_client') await this.dropRegistration(server).catch(() => {});
        this.track(server, { state: 'needs-sign-in', detail: `the authorization server ended the sign-in (${err.errorCode})`, issuer: g.issuer, lastRefresh: { at: this.now(), ok: false, detail: err.errorCode } });
        throw new SignInRequiredError(`The sign-in of ${server} ended (${err.errorCode}); sign in again.`);
      }
      const why = (err as Error).message;
      this.track(server, { state: 'retrying', detail: `the authorization server could not refresh the sign-in: ${why}`, issuer: g.issuer, lastRefresh: { at: this.now(), ok: false, detail: why } });
      throw new RefreshRetryError(`Could not refresh the sign-in of ${server} now: ${why}`);
    }
    if (supersededMeanwhile()) return this.superseded(server);
    if (tokens.refresh_token && tokens.refresh_token !== g.refreshToken) {
      // Stored before use: a rotation the keychain did not keep must not be acted on.
      try {
        await this.keychain.set(this.account(server), JSON.stringify({ ...g, refreshToken: tokens.refresh_token }));
        if (supersededMeanwhile()) {
          // A sign-out's delete may have gone first: the grant must not come back. (A new sign-in's own
          // write was issued after this one, so it is the one the keychain keeps.)
          if (this.generations.get(server)?.signedOut) await this.keychain.delete(this.account(server)).catch(() => {});
          return this.superseded(server);
        }
      } catch (err) {
        if (err instanceof SignInRequiredError) throw err;
        this.live.delete(server);
        this.track(server, { state: 'needs-sign-in', detail: 'the keychain could not keep the renewed sign-in', issuer: g.issuer, lastRefresh: { at: this.now(), ok: false, detail: 'keychain write failed' } });
        throw new SignInRequiredError(`The keychain could not keep the renewed sign-in of ${server} (${(err as Error).message}); sign in again.`);
      }
    }
    this.remember(server, tokens);
    const stepUp = this.tracked.get(server)?.stepUp ?? null;
    this.track(server, { state: 'signed-in', detail: stepUp ? (this.tracked.get(server)?.detail ?? null) : null, issuer: g.issuer, lastRefresh: { at: this.now(), ok: true, detail: null }, requested: g.requested ?? null });
    return tokens.access_token;
  }
}
