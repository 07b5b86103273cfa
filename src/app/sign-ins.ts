import { LoginError, SignInError, signIn, type OAuthTokenStore, type SignInStatus } from '../oauth/index.js';
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

export interface SignInDeps {
  server(name: string): ServerRecord;
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
    const credential = s.url === null ? 'none' : remoteCredentialKind(remoteSettingsOf(s));
    return { server: name, credential, pending: this.pending.get(name)?.view ?? null, ...(await this.d.tokens.status(name)) };
  }

  /** Starts a sign-in (or joins the one under way) and answers with its URL once it is ready to open. */
  async start(name: string): Promise<SignInView> {
    const s = this.d.server(name);
    if (s.url === null) throw new BadRequestError(`${name} runs in a container: Gatehouse signs in only to remote servers.`);
    const remote = remoteSettingsOf(s);
    if (!remote.oauth) throw new BadRequestError(`${name} is not set up for an OAuth sign-in: its settings have OAuth off.`);
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

  /** Forgets the sign-in (the refresh token leaves the keychain); the server then needs a new one. */
  async signOut(name: string): Promise<SignInView> {
    this.d.server(name);
    this.cancel(name);
    await this.d.tokens.forget(name);
    this.d.log(name, 'info', `Signed out of ${name}`);
    return this.view(name);
  }

  private begin(s: ServerRecord): Pending {
    const name = s.name;
    const remote = remoteSettingsOf(s);
    const abort = new AbortController();
    const timeoutMs = remote.timeoutMs ?? DEFAULT_SIGN_IN_TIMEOUT_MS;
    let opened!: (v: PendingSignIn) => void;
    let failedEarly!: (err: unknown) => void;
    const ready = new Promise<PendingSignIn>((resolve, reject) => {
      opened = resolve;
      failedEarly = reject;
    });
    const entry: Pending = { ready, done: undefined as unknown as Promise<SignInStatus>, abort };
    const run = async (): Promise<SignInStatus> => {
      const clientSecret = remote.clientSecret ? await this.d.secrets().get(remote.clientSecret) : undefined;
      const registered = remote.clientId ? undefined : await this.d.tokens.registration(name);
      // A step-up asks for what the server asked for together with what was asked before (SEP-2350).
      const stepUp = (await this.d.tokens.status(name)).stepUp;
      const scopes = stepUp ? [...new Set([...(remote.scopes ?? []), ...stepUp])] : remote.scopes;
      this.d.log(name, 'info', `Signing in to ${name}`);
      const result = await signIn({
        serverUrl: s.url!,
        ...(remote.issuer ? { issuer: remote.issuer } : {}),
        ...(remote.authorizeUrl && remote.tokenUrl ? { endpoints: { authorizationUrl: remote.authorizeUrl, tokenUrl: remote.tokenUrl } } : {}),
        ...(remote.clientId ? { client: { clientId: remote.clientId, ...(clientSecret ? { clientSecret } : {}) } } : {}),
        ...(registered ? { registered } : {}),
        ...(scopes ? { scopes } : {}),
        ...(remote.clientMetadataUrl ? { clientMetadataUrl: remote.clientMetadataUrl } : {}),
        ...(remote.resource ? { resource: remote.resource } : {}),
        ...(remote.callbackPort ? { callbackPort: remote.callbackPort } : {}),
        timeoutMs,
        allowPrivateIp: remote.allowPrivateIp,
        signal: abort.signal,
        openUrl: async (url) => {
          const now = Date.now();
          const view: PendingSignIn = { authorizationUrl: url, startedAt: now, expiresAt: now + timeoutMs, browserOpened: !remote.skipBrowser };
          entry.view = view;
          this.emit(name);
          opened(view);
          if (!remote.skipBrowser) {
            await Promise.resolve()
              .then(() => this.d.openUrl(url))
              .catch((err: unknown) => {
              view.browserOpened = false;
              this.d.log(name, 'warn', `Could not open the browser (${(err as Error).message}); open the sign-in URL yourself.`);
            });
          }
        },
      });
      await this.d.tokens.save(name, result, { allowPrivateIp: remote.allowPrivateIp });
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
