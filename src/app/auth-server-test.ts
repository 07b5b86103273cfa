import { accountClaims, tokenClaimsOf, type AuthServerSettings, type TestedIdentity, type UpstreamInteractions, type UpstreamTest } from '../authserver/index.js';
import { principalOf } from '../authz/index.js';
import { BadRequestError } from './errors.js';

/** A test waits this long for the browser (the upstream's own login pages included). */
const TEST_TIMEOUT_MS = 5 * 60_000;

/** Claims of Gatehouse's access token that differ from one token to the next (the preview shows an example value). */
export const PER_TOKEN_CLAIMS = ['jti', 'iat', 'exp', 'scope', 'client_id', 'aud'] as const;

export interface ProviderTestView {
  state: 'idle' | 'waiting' | 'checking' | 'done' | 'failed';
  upstream: string | null;
  authorizationUrl: string | null;
  browserOpened: boolean;
  startedAt: number | null;
  expiresAt: number | null;
  finishedAt: number | null;
  identity: { subject: string; name: string | null; email: string | null } | null;
  /** The claims of an access token Gatehouse would issue this user (the per-token ones as an example). */
  claims: Record<string, unknown> | null;
  perToken: string[];
  /** The principal entity a server's Cedar policies get for that token (ToolHive's model, default claim settings). */
  cedar: { principal: string; parents: string[]; attributes: Record<string, unknown> } | null;
  error: string | null;
}

const IDLE: ProviderTestView = { state: 'idle', upstream: null, authorizationUrl: null, browserOpened: false, startedAt: null, expiresAt: null, finishedAt: null, identity: null, claims: null, perToken: [], cedar: null, error: null };

/** What the test runs against: the running authorization server. */
export interface ProviderTestTarget {
  settings: AuthServerSettings;
  interactions: UpstreamInteractions;
  audiences: string[];
}

export interface ProviderTestDeps {
  /** Opens the system browser with the URL as one argument (never a shell). */
  openUrl: (url: string) => Promise<void>;
  onChange: () => void;
  log(level: 'info' | 'warn', message: string): void;
  now?: () => number;
}

/**
 * The claims of the access token Gatehouse issues a user, built as the engine builds them
 * (findAccount's claims, the engine's own claims on top), and the Cedar principal the proxy makes of
 * that token (src/authz principalOf): what a policy sees, not a paraphrase of it.
 */
export function tokenPreview(who: TestedIdentity, settings: AuthServerSettings, audiences: string[], now: number): Pick<ProviderTestView, 'claims' | 'perToken' | 'cedar'> {
  const iat = Math.floor(now / 1000);
  const claims: Record<string, unknown> = {
    ...tokenClaimsOf(accountClaims(who)),
    jti: '(a new one for each token)',
    sub: who.subject,
    iat,
    exp: iat + Math.floor(settings.lifespans.accessTokenMs / 1000),
    scope: (settings.baselineClientScopes.length ? settings.baselineClientScopes : ['openid']).join(' '),
    client_id: "(the signed-in program's client id)",
    iss: settings.issuer,
    aud: audiences[0] ?? "(the server's URL)",
  };
  const principal = principalOf(claims, { policies: [] });
  return {
    claims,
    perToken: [...PER_TOKEN_CLAIMS],
    cedar: principal
      ? { principal: `${principal.uid.type}::${JSON.stringify(principal.uid.id)}`, parents: principal.entity.parents.map((p) => `${p.type}::${JSON.stringify(p.id)}`), attributes: principal.claimAttrs }
      : null,
  };
}

/**
 * "Test this provider": the upstream login in the system browser, with a state of its own (never an
 * authorization's), and what it resolved. No token goes to any client, no account is saved. One test
 * at a time; a second start joins the one under way. Every change is announced (the app gets it pushed).
 */
export class ProviderTest {
  private current: ProviderTestView = IDLE;
  private running: { test: UpstreamTest; done: Promise<ProviderTestView>; timer: NodeJS.Timeout } | undefined;
  private starting: Promise<ProviderTestView> | undefined;
  private readonly now: () => number;

  constructor(private readonly d: ProviderTestDeps) {
    this.now = d.now ?? Date.now;
  }

  view(): ProviderTestView {
    return this.current;
  }

  start(target: ProviderTestTarget): Promise<ProviderTestView> {
    if (this.running) return Promise.resolve(this.current);
    // Two clicks at once start one test.
    this.starting ??= this.begin(target).finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async begin(target: ProviderTestTarget): Promise<ProviderTestView> {
    const upstream = target.settings.upstream.name;
    let test: UpstreamTest;
    try {
      test = await target.interactions.beginTest(() => this.set({ ...this.current, state: 'checking' }));
    } catch (err) {
      throw new BadRequestError(`The sign-in at ${upstream} could not start: ${(err as Error).message}`);
    }
    const startedAt = this.now();
    const timer = setTimeout(() => test.cancel(`Nobody finished the sign-in at ${upstream} within ${TEST_TIMEOUT_MS / 60_000} minutes.`), TEST_TIMEOUT_MS);
    timer.unref();
    const done = test.identity.then(
      (who) => {
        this.d.log('info', `Tested the sign-in at ${upstream}: it identified ${who.subject}`);
        return { ...this.current, state: 'done' as const, finishedAt: this.now(), identity: { subject: who.subject, name: who.name ?? null, email: who.email ?? null }, ...tokenPreview(who, target.settings, target.audiences, this.now()) };
      },
      (err: unknown) => {
        this.d.log('warn', `The test sign-in at ${upstream} failed: ${(err as Error).message}`);
        return { ...this.current, state: 'failed' as const, finishedAt: this.now(), error: (err as Error).message };
      },
    ).then((view) => {
      clearTimeout(timer);
      this.running = undefined;
      this.set(view);
      return view;
    });
    this.running = { test, done, timer };
    this.set({ ...IDLE, state: 'waiting', upstream, authorizationUrl: test.authorizationUrl, browserOpened: true, startedAt, expiresAt: startedAt + TEST_TIMEOUT_MS });
    await Promise.resolve()
      .then(() => this.d.openUrl(test.authorizationUrl))
      .catch((err: unknown) => {
        this.d.log('warn', `Could not open the browser (${(err as Error).message}); open the sign-in URL yourself.`);
        if (this.running?.test === test) this.set({ ...this.current, browserOpened: false });
      });
    return this.current;
  }

  /** The test under way, once it ended; or the last one's outcome. */
  async wait(): Promise<ProviderTestView> {
    return this.running ? this.running.done : this.current;
  }

  cancel(reason = 'The test was cancelled.'): void {
    this.running?.test.cancel(reason);
  }

  private set(view: ProviderTestView): void {
    this.current = view;
    this.d.onChange();
  }
}
