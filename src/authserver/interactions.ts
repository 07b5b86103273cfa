import { randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { z } from 'zod';
import { messagePage } from '../common/index.js';
import type { SealedStore } from '../secrets/index.js';
import { consentPage, formTarget, seeOther, sendPage } from './consent-page.js';
import { AUTH_SERVER_PATHS, type InteractionContext, type InteractionDetails, type Interactions } from './engine.js';
import type { AuthServerSettings } from './settings.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { PendingUpstreamLogin, UpstreamIdentity } from './upstream-oidc.js';
import { requestOrigin, signInStep, type SignInStep, type SignInStepListener } from './steps.js';

/** The upstream login, as the interactions need it (OidcUpstreamClient in production). */
/** Where the upstream sends the browser back: the settings' redirectUri, or the issuer's one callback for every server. */
export function upstreamRedirectUri(settings: Pick<AuthServerSettings, 'issuer' | 'upstream'>): string {
  return settings.upstream.redirectUri ?? `${settings.issuer}${AUTH_SERVER_PATHS.callback}`;
}

export interface UpstreamLogin {
  begin(redirectUri: string): Promise<PendingUpstreamLogin>;
  finish(pending: PendingUpstreamLogin, code: string): Promise<UpstreamIdentity>;
  refresh(refreshToken: string): Promise<OAuthTokens>;
}

const StoredUpstreamSchema = z.object({ tokens: z.object({ access_token: z.string(), refresh_token: z.string().optional(), expires_in: z.number().optional() }).passthrough(), at: z.number() });
/** An upstream access token is refreshed this long before it expires. */
const UPSTREAM_EARLY_MS = 60_000;

/** A client the user allowed, remembered (and revocable) so the next sign-in of it asks no more. */
const ApprovalSchema = z.object({ clientId: z.string(), clientName: z.string().optional(), redirectHosts: z.array(z.string()), scopes: z.array(z.string()), resource: z.string().optional(), approvedAt: z.number() });
export type Approval = z.infer<typeof ApprovalSchema>;

/** A user the upstream identified: the claims Gatehouse's tokens carry, and Cedar sees. */
const AccountSchema = z.object({ sub: z.string(), name: z.string().optional(), email: z.string().optional(), claims: z.record(z.string(), z.unknown()), upstream: z.string(), lastLogin: z.number() });
export type Account = z.infer<typeof AccountSchema>;

/** The claims of an account as the engine gets them (findAccount): what its tokens carry, and Cedar sees. */
export function accountClaims(a: Pick<Account, 'claims' | 'name' | 'email'>): Record<string, unknown> {
  return { ...a.claims, ...(a.name ? { name: a.name } : {}), ...(a.email ? { email: a.email } : {}) };
}

/** Who the upstream said signed in during a test of the provider: its tokens are dropped, never kept. */
export type TestedIdentity = Omit<UpstreamIdentity, 'tokens'>;

/** A test of the upstream login under way ("Test this provider"): where to send the browser, and its outcome. */
export interface UpstreamTest {
  authorizationUrl: string;
  /** Settles once the upstream answered (or the test was cancelled or expired). */
  identity: Promise<TestedIdentity>;
  cancel(reason: string): void;
}

const NS = { approval: 'authserver:Approval', account: 'authserver:Account', upstream: 'authserver:Upstream' } as const;

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
/** States and consent forms live this long (RFC 9700: short-lived, single-use). */
const PENDING_TTL_MS = 10 * 60_000;
const MAX_FORM_BYTES = 4096;

export interface UpstreamInteractionsDeps {
  settings: AuthServerSettings;
  upstream: UpstreamLogin;
  sealed: SealedStore;
  /** A client was allowed or a user signed in (the app's lists follow). */
  onChange?: () => void;
  /** The user allowed or denied a client; the upstream signed them in, or did not (the audit log). */
  onStep?: SignInStepListener;
  now?: () => number;
}

/** Who asked, for which server: what a consent or upstream login step says about the request. */
interface AskedBy {
  clientId: string;
  /** The user, when a Gatehouse session already says who it is. */
  subject?: string | undefined;
  clientName?: string | undefined;
  resource?: string | undefined;
  scopes: string[];
}

interface Pending<T> {
  value: T;
  at: number;
}

function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
      if (body.length > MAX_FORM_BYTES) req.destroy(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Consent, then the upstream login (checklist row B17, the confused deputy ToolHive leaves open): a
 * client nobody approved gets Gatehouse's consent page — its name, where the answer goes, the server and
 * the scopes — before any redirect to the upstream, whose session cookie would otherwise sign the user
 * in for it silently. Approvals are remembered per client. The upstream's answer comes back to
 * /oauth/callback with a single-use state, and the interaction ends on its own path, where the
 * browser's interaction cookie is.
 */
export class UpstreamInteractions implements Interactions {
  private readonly consents = new Map<string, Pending<string>>();
  private readonly logins = new Map<string, Pending<{ uid: string; pending: PendingUpstreamLogin; asked: AskedBy }>>();
  private readonly results = new Map<string, Pending<{ accountId: string } | { error: string }>>();
  private readonly refreshing = new Map<string, Promise<string>>();
  /** Tests of the upstream login, by their own single-use state: never an authorization's, never a way to a code. */
  private readonly tests = new Map<string, Pending<{ pending: PendingUpstreamLogin; answered: () => void; settle: (r: TestedIdentity | Error) => void }>>();
  private readonly now: () => number;

  constructor(private readonly d: UpstreamInteractionsDeps) {
    this.now = d.now ?? Date.now;
  }

  // ---- what the engine and the app ask ------------------------------------------------------

  async account(sub: string): Promise<Account | undefined> {
    const raw = await this.d.sealed.getString(NS.account, sub);
    return raw === undefined ? undefined : AccountSchema.parse(JSON.parse(raw));
  }

  async approval(clientId: string): Promise<Approval | undefined> {
    const raw = await this.d.sealed.getString(NS.approval, clientId);
    return raw === undefined ? undefined : ApprovalSchema.parse(JSON.parse(raw));
  }

  /**
   * The upstream access token of a user, refreshed when due (one refresh at a time per user; a rotated
   * refresh token is sealed before the new access token is used). `stale`: the server refused it.
   * Undefined when there is none (the user signs in again).
   */
  async upstreamToken(sub: string, stale = false): Promise<string | undefined> {
    const running = this.refreshing.get(sub);
    if (running) return running;
    const raw = await this.d.sealed.getString(NS.upstream, sub);
    if (raw === undefined) return undefined;
    const stored = StoredUpstreamSchema.parse(JSON.parse(raw));
    const expiresAt = stored.tokens.expires_in !== undefined ? stored.at + stored.tokens.expires_in * 1000 : Number.POSITIVE_INFINITY;
    if (!stale && expiresAt - UPSTREAM_EARLY_MS > this.now()) return stored.tokens.access_token;
    const refreshToken = stored.tokens.refresh_token;
    if (!refreshToken) return stale || expiresAt <= this.now() ? undefined : stored.tokens.access_token;
    const p = (async () => {
      const fresh = await this.d.upstream.refresh(refreshToken);
      // A provider that does not rotate keeps the refresh token it had.
      const tokens = { ...fresh, refresh_token: fresh.refresh_token ?? refreshToken };
      await this.d.sealed.put(NS.upstream, sub, JSON.stringify({ tokens, at: this.now() }));
      return tokens.access_token;
    })().finally(() => this.refreshing.delete(sub));
    this.refreshing.set(sub, p);
    return p;
  }

  revokeApproval(clientId: string): boolean {
    return this.d.sealed.delete(NS.approval, clientId);
  }

  /** Every client the user allowed on the consent page, newest first. */
  async approvals(): Promise<Approval[]> {
    const all = await Promise.all(this.d.sealed.keys(NS.approval).map((id) => this.approval(id)));
    return all.filter((a): a is Approval => a !== undefined).sort((a, b) => b.approvedAt - a.approvedAt);
  }

  /** Every user the upstream identified, newest sign-in first, and whether their upstream tokens are kept. */
  async accounts(): Promise<(Account & { upstreamTokens: boolean })[]> {
    const held = new Set(this.d.sealed.keys(NS.upstream));
    const all = await Promise.all(this.d.sealed.keys(NS.account).map((sub) => this.account(sub)));
    return all
      .filter((a): a is Account => a !== undefined)
      .map((a) => ({ ...a, upstreamTokens: held.has(a.sub) }))
      .sort((a, b) => b.lastLogin - a.lastLogin);
  }

  /** Forgets a user: the account (its claims) and the upstream tokens kept for it. */
  forgetAccount(sub: string): boolean {
    this.refreshing.delete(sub);
    const upstream = this.d.sealed.delete(NS.upstream, sub);
    return this.d.sealed.delete(NS.account, sub) || upstream;
  }

  /**
   * Runs the upstream login for a test: the browser goes to the upstream and back to /oauth/callback
   * with a state of its own. The answer resolves `identity` and ends there: no account is saved, no
   * token kept, no interaction resumed, so no client gets a code from it. `answered` is called when the
   * upstream's answer arrives (the check of it follows).
   */
  async beginTest(answered: () => void = () => {}): Promise<UpstreamTest> {
    const pending = await this.d.upstream.begin(this.redirectUri());
    let settle!: (r: TestedIdentity | Error) => void;
    const identity = new Promise<TestedIdentity>((resolve, reject) => {
      settle = (r) => (r instanceof Error ? reject(r) : resolve(r));
    });
    identity.catch(() => {}); // the caller awaits it; an unawaited cancellation must not crash the core
    this.tests.set(pending.state, { value: { pending, answered, settle }, at: this.now() });
    return {
      authorizationUrl: pending.authorizationUrl,
      identity,
      cancel: (reason) => {
        if (this.tests.delete(pending.state)) settle(new Error(reason));
      },
    };
  }

  private step(ctx: InteractionContext, kind: 'consent' | 'upstream_login', outcome: SignInStep['outcome'], asked: AskedBy, fields: { subject?: string; subjectName?: string; error?: string; reason?: string } = {}): void {
    try {
      this.d.onStep?.(
        signInStep(
          { kind, outcome, endpoint: kind === 'consent' ? AUTH_SERVER_PATHS.interaction : AUTH_SERVER_PATHS.callback, httpMethod: ctx.req.method ?? 'GET' },
          { ...requestOrigin(ctx.req), clientId: asked.clientId, clientName: asked.clientName, subject: asked.subject, resource: asked.resource, scopes: asked.scopes, ...fields },
        ),
      );
    } catch {
      // an audit listener never breaks a sign-in
    }
  }

  // ---- the requests ------------------------------------------------------------------------

  async handle(ctx: InteractionContext): Promise<void> {
    this.sweep();
    const { url, req, res } = ctx;
    if (url.pathname === AUTH_SERVER_PATHS.callback) return this.callback(ctx);
    const [uid, step] = url.pathname.slice(AUTH_SERVER_PATHS.interaction.length + 1).split('/');
    const details = await ctx.details().catch(() => undefined);
    if (!details || details.uid !== uid) return sendPage(res, 400, messagePage('Sign-in expired', 'This sign-in is no longer under way. Start it again from your MCP client.'));
    if (step === undefined && req.method === 'GET') return this.ask(ctx, details);
    if (step === 'consent' && req.method === 'POST') return this.decided(ctx, details);
    if (step === 'done' && req.method === 'GET') return this.done(ctx, details);
    return sendPage(res, 405, messagePage('Not here', 'This address does not take that request.'));
  }

  private request(details: InteractionDetails): { clientId: string; scopes: string[]; resource: string | undefined; subject: string | undefined } {
    const scope = typeof details.params['scope'] === 'string' ? details.params['scope'] : '';
    const resource = typeof details.params['resource'] === 'string' ? details.params['resource'] : undefined;
    return { clientId: String(details.params['client_id'] ?? ''), scopes: scope.split(' ').filter(Boolean), resource, subject: details.session?.accountId };
  }

  /** Consent first, unless this client was allowed these scopes for this server before. */
  private async ask(ctx: InteractionContext, details: InteractionDetails): Promise<void> {
    const r = this.request(details);
    const client = await ctx.client(r.clientId);
    if (!client) return sendPage(ctx.res, 400, messagePage('Unknown program', 'The program asking is not registered here any more.'));
    const approved = await this.approval(r.clientId);
    if (approved && approved.resource === r.resource && r.scopes.every((s) => approved.scopes.includes(s))) {
      this.step(ctx, 'consent', 'success', { ...r, clientName: client.clientName }, { reason: `Allowed on ${new Date(approved.approvedAt).toISOString()}; not asked again.` });
      return this.proceed(ctx, details, { ...r, clientName: client.clientName });
    }
    // One token per interaction: a reloaded page still submits.
    const csrf = this.consents.get(details.uid)?.value ?? randomBytes(24).toString('base64url');
    this.consents.set(details.uid, { value: csrf, at: this.now() });
    sendPage(
      ctx.res,
      200,
      consentPage({
        action: `${AUTH_SERVER_PATHS.interaction}/${details.uid}/consent`,
        csrf,
        clientName: client.clientName,
        clientId: client.clientId,
        redirectHosts: [...new Set(client.redirectUris.map((u) => new URL(u).host))],
        scopes: r.scopes,
        resource: r.resource,
        upstream: this.upstreamUrl(),
      }),
      [this.upstreamUrl(), ...client.redirectUris].map(formTarget).filter((t): t is string => t !== undefined),
    );
  }

  private async decided(ctx: InteractionContext, details: InteractionDetails): Promise<void> {
    const form = await readForm(ctx.req);
    const expected = this.consents.get(details.uid);
    this.consents.delete(details.uid);
    if (!expected || !sameSecret(form.get('csrf') ?? '', expected.value)) return sendPage(ctx.res, 400, messagePage('Sign-in expired', 'This page is out of date. Start the sign-in again from your MCP client.'));
    const r = this.request(details);
    const client = await ctx.client(r.clientId);
    const asked: AskedBy = { ...r, clientName: client?.clientName };
    if (form.get('decision') !== 'allow') {
      this.step(ctx, 'consent', 'denied', asked, { error: 'access_denied', reason: 'The user denied access on the consent page.' });
      return ctx.finish({ error: 'access_denied', error_description: 'The user denied access.' });
    }
    const approval: Approval = { clientId: r.clientId, ...(client?.clientName ? { clientName: client.clientName } : {}), redirectHosts: [...new Set((client?.redirectUris ?? []).map((u) => new URL(u).host))], scopes: r.scopes, ...(r.resource ? { resource: r.resource } : {}), approvedAt: this.now() };
    await this.d.sealed.put(NS.approval, r.clientId, JSON.stringify(approval));
    this.d.onChange?.();
    this.step(ctx, 'consent', 'success', asked, { reason: 'Allowed on the consent page.' });
    return this.proceed(ctx, details, asked);
  }

  /** Approved: an account already signed in gets the grant; otherwise, to the upstream (303 after the POST). */
  private async proceed(ctx: InteractionContext, details: InteractionDetails, asked: AskedBy): Promise<void> {
    const signedIn = details.session?.accountId;
    if (signedIn && details.prompt.name === 'consent') return this.grant(ctx, details, signedIn);
    const pending = await this.d.upstream.begin(this.redirectUri());
    this.logins.set(pending.state, { value: { uid: details.uid, pending, asked }, at: this.now() });
    seeOther(ctx.res, pending.authorizationUrl);
  }

  /** Where the user signs in: the issuer (the authorization endpoint is on it, or under it), or the OAuth 2.0 endpoint. */
  private upstreamUrl(): string {
    return this.d.settings.upstream.type === 'oidc' ? this.d.settings.upstream.issuerUrl : this.d.settings.upstream.authorizationEndpoint;
  }

  private redirectUri(): string {
    return upstreamRedirectUri(this.d.settings);
  }

  private async callback(ctx: InteractionContext): Promise<void> {
    const state = ctx.url.searchParams.get('state') ?? '';
    const test = this.tests.get(state);
    this.tests.delete(state); // single use too
    if (test) return this.tested(ctx, test.value);
    const login = this.logins.get(state);
    this.logins.delete(state); // single use, whatever happens next
    if (!login) {
      // No sign-in under way has this state: a late, replayed or forged answer (checklist row B18).
      this.step(ctx, 'upstream_login', 'failure', { clientId: '', scopes: [] }, { error: 'invalid_request', reason: state ? 'An answer with a state no sign-in under way has (late, replayed or forged).' : 'An answer without a state.' });
      return sendPage(ctx.res, 400, messagePage('Sign-in expired', 'This answer of the identity provider does not belong to a sign-in under way (or came too late). Start again from your MCP client.'));
    }
    const { uid, pending, asked } = login.value;
    const error = ctx.url.searchParams.get('error');
    const code = ctx.url.searchParams.get('code');
    let result: { accountId: string } | { error: string };
    if (error || !code) {
      result = { error: error === 'access_denied' ? 'You declined at the identity provider.' : `The identity provider answered ${error ?? 'without a code'}.` };
      this.step(ctx, 'upstream_login', error === 'access_denied' ? 'denied' : 'failure', asked, { error: error ?? 'invalid_request', reason: result.error });
    } else {
      try {
        const who = await this.d.upstream.finish(pending, code);
        const account: Account = { sub: who.subject, ...(who.name ? { name: who.name } : {}), ...(who.email ? { email: who.email } : {}), claims: who.claims, upstream: this.d.settings.upstream.name, lastLogin: this.now() };
        await this.d.sealed.put(NS.account, who.subject, JSON.stringify(account));
        // The upstream's tokens, sealed: they go toward the MCP server later (or not, by the settings).
        await this.d.sealed.put(NS.upstream, who.subject, JSON.stringify({ tokens: who.tokens, at: this.now() }));
        result = { accountId: who.subject };
        this.d.onChange?.();
        this.step(ctx, 'upstream_login', 'success', asked, { subject: who.subject, subjectName: who.name ?? who.email });
      } catch (err) {
        result = { error: (err as Error).message };
        this.step(ctx, 'upstream_login', 'failure', asked, { error: 'access_denied', reason: result.error });
      }
    }
    this.results.set(uid, { value: result, at: this.now() });
    seeOther(ctx.res, `${AUTH_SERVER_PATHS.interaction}/${uid}/done`);
  }

  /** The upstream's answer to a test: checked as a real one is, then dropped with its tokens. */
  private async tested(ctx: InteractionContext, t: { pending: PendingUpstreamLogin; answered: () => void; settle: (r: TestedIdentity | Error) => void }): Promise<void> {
    const provider = this.d.settings.upstream.name;
    const error = ctx.url.searchParams.get('error');
    const code = ctx.url.searchParams.get('code');
    t.answered();
    let outcome: TestedIdentity | Error;
    if (error || !code) outcome = new Error(error === 'access_denied' ? 'You declined at the identity provider.' : `The identity provider answered ${error ?? 'without a code'}.`);
    else {
      try {
        const { tokens: _dropped, ...who } = await this.d.upstream.finish(t.pending, code);
        outcome = who;
      } catch (err) {
        outcome = err as Error;
      }
    }
    t.settle(outcome);
    if (outcome instanceof Error) return sendPage(ctx.res, 200, messagePage('Provider test failed', `${provider} did not sign you in: ${outcome.message} Gatehouse shows the details.`));
    sendPage(ctx.res, 200, messagePage('Provider test finished', `${provider} signed you in as ${outcome.name ?? outcome.subject}. Go back to Gatehouse to see the identity and claims it resolved. No program was given a token.`));
  }

  private async done(ctx: InteractionContext, details: InteractionDetails): Promise<void> {
    const result = this.results.get(details.uid)?.value;
    this.results.delete(details.uid);
    if (!result) return sendPage(ctx.res, 400, messagePage('Sign-in expired', 'This sign-in is no longer under way. Start it again from your MCP client.'));
    if ('error' in result) return ctx.finish({ error: 'access_denied', error_description: result.error });
    return this.grant(ctx, details, result.accountId);
  }

  private async grant(ctx: InteractionContext, details: InteractionDetails, accountId: string): Promise<void> {
    const r = this.request(details);
    const grant = ctx.newGrant(accountId, r.clientId);
    const oidc = r.scopes.filter((s) => OIDC_SCOPES.has(s));
    if (oidc.length) grant.addOIDCScope(oidc.join(' '));
    if (r.resource) grant.addResourceScope(r.resource, r.scopes.join(' '));
    const grantId = await grant.save();
    this.d.onChange?.();
    return ctx.finish({ login: { accountId }, consent: { grantId } });
  }

  private sweep(): void {
    const cutoff = this.now() - PENDING_TTL_MS;
    for (const m of [this.consents, this.logins, this.results] as Map<string, Pending<unknown>>[]) for (const [k, v] of m) if (v.at < cutoff) m.delete(k);
    for (const [k, v] of this.tests) {
      if (v.at >= cutoff) continue;
      this.tests.delete(k);
      v.value.settle(new Error('The test sign-in took too long.'));
    }
  }
}
