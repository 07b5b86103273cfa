import { LoginError, RefreshRetryError, SignInError, SignInRequiredError, signIn, type OAuthTokenStore, type SignInRequest, type SignInStatus } from '../oauth/index.js';
import type { ProxyLogLevel } from '../proxy/index.js';
import { remoteCredentialKind } from '../remote/index.js';
import type { SecretsProvider } from '../secrets/index.js';
import type { ServerRecord } from '../store/index.js';
import { BadRequestError, ConflictError } from './errors.js';
import { remoteSettingsOf } from './kinds/index.js';

/** A sign-in waits this long for the browser unless the server's settings say otherwise. */
export const DEFAULT_SIGN_IN_TIMEOUT_MS = 5 * 60_000;

export interface PendingSignIn {
  authorizationUrl: string;
  startedAt: number;
  expiresAt: number;
  /** Whether Gatehouse opened the system browser (not with --remote-auth-skip-browser). */
  browserOpened: boolean;
}

export interface SignInView extends SignInStatus {
  server: string;
  credential: 'oauth' | 'bearer' | 'none';
  pending: PendingSignIn | null;
}

interface Pending {
  view?: PendingSignIn;
  ready: Promise<PendingSignIn>;
  done: Promise<SignInStatus>;
  abort: AbortController;
}

/**
 * A local server whose proxy accepts only tokens from an identity provider: where Gatehouse signs in
 * for the callers that cannot (the issuer, and the proxy's URL as the token's resource and audience).
 */
export interface CallerSignInTarget {
  issuer: string;
  resource: string;
  scopes: string[];
  /** A public client registered at the identity provider for Gatehouse (otherwise it registers itself). */
  clientId?: string;
  allowPrivateIp: boolean;
}

/** An access token for a local server's callers (the bridge adds it to what it relays); never stored by them. */
export interface CallerToken {
  accessToken: string;
  expiresAt: number | null;
}

export interface SignInDeps {
  server(name: string): ServerRecord;
  /** Undefined for servers Gatehouse does not sign in to on callers' behalf (remote ones have their own settings). */
  callerTarget(s: ServerRecord): CallerSignInTarget | undefined;
  tokens: OAuthTokenStore;
  secrets: () => SecretsProvider;
  /** Opens the system browser with the URL as one argument (never a shell). */
  openUrl: (url: string) => Promise<void>;
  log(server: string, level: ProxyLogLevel, message: string): void;
}

/**
 * Gatehouse's sign-ins to remote servers: one at a time per server (a second request joins the one
 * under way), cancellable, the URL always given back to show (a browser on another machine works too).
 */
export class SignIns {
  private readonly pending = new Map<string, Pending>();
  /** How the last sign-in of a server failed, for a wait that comes after its end. */
  private readonly lastFailure = new Map<string, Error>();
  private readonly listeners = new Set<(server: string) => void>();

  constructor(private readonly d: SignInDeps) {
    d.tokens.onChange((server) => this.emit(server));
  }

  /** Called with a server's name when its sign-in starts, ends or changes state (the app and the tray follow). */
  onChange(listener: (server: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(server: string): void {
    for (const l of this.listeners) l(server);
  }

  async view(name: string): Promise<SignInView> {
    const s = this.d.server(name);
    const credential = s.url !== null ? remoteCredentialKind(remoteSettingsOf(s)) : this.d.callerTarget(s) ? 'oauth' : 'none';
    return { server: name, credential, pending: this.pending.get(name)?.view ?? null, ...(await this.d.tokens.status(name)) };
  }

  /** Starts a sign-in (or joins the one under way) and answers with its URL once it is ready to open. */
  async start(name: string): Promise<SignInView> {
    const s = this.d.server(name);
    if (s.url === null && !this.d.callerTarget(s)) {
      throw new BadRequestError(`${name} accepts its callers without a sign-in (it has no identity provider): there is nothing to sign in to.`);
    }
    if (s.url !== null && !remoteSettingsOf(s).oauth) throw new BadRequestError(`${name} is not set up for an OAuth sign-in: its settings have OAuth off.`);
    let p = this.pending.get(name);
    if (!p) {
      this.lastFailure.delete(name);
      p = this.begin(s);
      this.pending.set(name, p);
    }
    await p.ready;
    return this.view(name);
  }

  /** Waits for the sign-in under way to end; its failure is thrown as a clear error. */
  async wait(name: string): Promise<SignInView> {
    const p = this.pending.get(name);
    if (p) await p.done;
    else {
      const failed = this.lastFailure.get(name);
      this.lastFailure.delete(name);
      if (failed) throw failed;
    }
    return this.view(name);
  }

  cancel(name: string): boolean {
    const p = this.pending.get(name);
    p?.abort.abort();
    return p !== undefined;
  }

  /**
   * A token for a local server's callers, from Gatehouse's sign-in at its identity provider (refreshed
   * when due). `refused`: the proxy refused the last one; a fresh one is got. Fails with what to do when
   * there is no sign-in.
   */
  async callerToken(name: string, refused = false): Promise<CallerToken> {
    const s = this.d.server(name);
    if (s.url !== null || !this.d.callerTarget(s)) throw new BadRequestError(`${name} does not take a caller token from Gatehouse: its proxy ${s.url !== null ? 'adds the remote server\'s credentials itself' : 'accepts callers without one'}.`);
    if (refused) this.d.tokens.refused(name, 'first');
    try {
      const accessToken = await this.d.tokens.accessToken(name);
      return { accessToken, expiresAt: (await this.d.tokens.status(name)).expiresAt };
    } catch (err) {
      if (err instanceof SignInRequiredError || err instanceof RefreshRetryError) {
        throw new ConflictError(`MCP server "${name}" needs a sign-in at its identity provider: ${err.message}`, { action: 'sign-in', server: name });
      }
      throw err;
    }
  }

  /** Forgets the sign-in (the refresh token leaves the keychain); the server then needs a new one. */
  async signOut(name: string): Promise<SignInView> {
    this.d.server(name);
    this.cancel(name);
    await this.d.tokens.forget(name);
    this.d.log(name, 'info', `Signed out of ${name}`);
    return this.view(name);
  }

  /** The sign-in's settings: a remote server's own, or a local server's identity provider (defaults otherwise). */
  private async request(s: ServerRecord): Promise<{ req: Omit<SignInRequest, 'openUrl' | 'signal'>; skipBrowser: boolean; allowPrivateIp: boolean }> {
    const name = s.name;
    const registered = await this.d.tokens.registration(name);
    // A step-up asks for what the server asked for together with what was asked before (SEP-2350).
    const stepUp = (await this.d.tokens.status(name)).stepUp;
    const withStepUp = (scopes: string[] | undefined) => (stepUp ? [...new Set([...(scopes ?? []), ...stepUp])] : scopes);
    if (s.url === null) {
      const target = this.d.callerTarget(s)!;
      // An OpenID provider signs users in with `openid` at least (offline_access follows where it is offered).
      const scopes = withStepUp(target.scopes.length ? target.scopes : ['openid']);
      return {
        req: {
          serverUrl: target.resource,
          issuer: target.issuer,
          resource: target.resource,
          ...(target.clientId ? { client: { clientId: target.clientId } } : registered ? { registered } : {}),
          ...(scopes ? { scopes } : {}),
          timeoutMs: DEFAULT_SIGN_IN_TIMEOUT_MS,
          allowPrivateIp: target.allowPrivateIp,
        },
        skipBrowser: false,
        allowPrivateIp: target.allowPrivateIp,
      };
    }
    const remote = remoteSettingsOf(s);
    const clientSecret = remote.clientSecret ? await this.d.secrets().get(remote.clientSecret) : undefined;
    const scopes = withStepUp(remote.scopes);
    return {
      req: {
        serverUrl: s.url,
        ...(remote.issuer ? { issuer: remote.issuer } : {}),
        ...(remote.authorizeUrl && remote.tokenUrl ? { endpoints: { authorizationUrl: remote.authorizeUrl, tokenUrl: remote.tokenUrl } } : {}),
        ...(remote.clientId ? { client: { clientId: remote.clientId, ...(clientSecret ? { clientSecret } : {}) } } : registered ? { registered } : {}),
        ...(scopes ? { scopes } : {}),
        ...(remote.clientMetadataUrl ? { clientMetadataUrl: remote.clientMetadataUrl } : {}),
        ...(remote.resource ? { resource: remote.resource } : {}),
        ...(remote.callbackPort ? { callbackPort: remote.callbackPort } : {}),
        timeoutMs: remote.timeoutMs ?? DEFAULT_SIGN_IN_TIMEOUT_MS,
        allowPrivateIp: remote.allowPrivateIp,
      },
      skipBrowser: remote.skipBrowser,
      allowPrivateIp: remote.allowPrivateIp,
    };
  }

  private begin(s: ServerRecord): Pending {
    const name = s.name;
    const abort = new AbortController();
    let opened!: (v: PendingSignIn) => void;
    let failedEarly!: (err: unknown) => void;
    const ready = new Promise<PendingSignIn>((resolve, reject) => {
      opened = resolve;
      failedEarly = reject;
    });
    const entry: Pending = { ready, done: undefined as unknown as Promise<SignInStatus>, abort };
    const run = async (): Promise<SignInStatus> => {
      const { req, skipBrowser, allowPrivateIp } = await this.request(s);
      const timeoutMs = req.timeoutMs ?? DEFAULT_SIGN_IN_TIMEOUT_MS;
      this.d.log(name, 'info', `Signing in to ${name}`);
      const result = await signIn({
        ...req,
        signal: abort.signal,
        openUrl: async (url) => {
          const now = Date.now();
          const view: PendingSignIn = { authorizationUrl: url, startedAt: now, expiresAt: now + timeoutMs, browserOpened: !skipBrowser };
          entry.view = view;
          this.emit(name);
          opened(view);
          if (!skipBrowser) {
            await Promise.resolve()
              .then(() => this.d.openUrl(url))
              .catch((err: unknown) => {
                view.browserOpened = false;
                this.d.log(name, 'warn', `Could not open the browser (${(err as Error).message}); open the sign-in URL yourself.`);
              });
          }
        },
      });
      await this.d.tokens.save(name, result, { allowPrivateIp });
      this.d.log(name, 'info', `Signed in to ${name} at ${result.issuer}`);
      return this.d.tokens.status(name);
    };
    entry.done = run()
      .catch(async (err: unknown) => {
        if (err instanceof SignInError && err.staleRegistration) await this.d.tokens.dropRegistration(name);
        const message = err instanceof LoginError || err instanceof SignInError ? err.message : `The sign-in to ${name} failed: ${(err as Error).message}`;
        this.d.log(name, err instanceof LoginError && err.kind === 'cancelled' ? 'info' : 'warn', message);
        const failure = err instanceof LoginError && (err.kind === 'port-busy' || err.kind === 'port-refused') ? new ConflictError(message) : new BadRequestError(message);
        failedEarly(failure);
        this.lastFailure.set(name, failure);
        throw failure;
      })
      .finally(() => {
        this.pending.delete(name);
        this.emit(name);
      });
    // Awaited by wait(); a start nobody waits on must not crash the core.
    entry.done.then(() => this.lastFailure.delete(name), () => {});
    return entry;
  }
}
