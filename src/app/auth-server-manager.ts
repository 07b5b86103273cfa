import { parse as parseYaml } from 'yaml';
import {
  accountClaims,
  AuthServerSettingsError,
  configuredClient,
  forgetUpstreamRegistration,
  KeyRing,
  UpstreamRegistrar,
  upstreamRedirectUri,
  OAuth2UpstreamClient,
  OidcUpstreamClient,
  parseAuthServerSettings,
  sealedAdapter,
  sealedRecords,
  startAuthServerEngine,
  sweepExpired,
  UpstreamInteractions,
  signInStep,
  type AdapterPayload,
  type SignInStep,
  type AuthServerEngine,
  type AuthServerSettings,
  type OAuth2ClientSource,
  type UpstreamRegistrationView,
} from '../authserver/index.js';
import { safeFetchLike } from '../auth/index.js';
import type { Keychain, SealedStore, SecretsProvider } from '../secrets/index.js';
import { CredentialsUnavailableError, type UpstreamCredentials } from '../proxy/index.js';
import type { ServerRecord, Store } from '../store/index.js';
import type { AuthManager } from './auth-manager.js';
import { ProviderTest, type ProviderTestView } from './auth-server-test.js';
import { BadRequestError, ConflictError, NotFoundError } from './errors.js';

const SETTINGS_KEY = 'authServer';
/** The port on 127.0.0.1 a front forwards an issuer that is not on this machine to (Gatehouse's own setting, not ToolHive's). */
const LISTEN_PORT_KEY = 'authServerListenPort';
/** Expired codes, sessions and tokens leave SQLite this often. */
const SWEEP_EVERY_MS = 10 * 60_000;

export interface AuthServerView {
  configured: boolean;
  running: boolean;
  issuer: string | null;
  /** Where it listens on 127.0.0.1 (for an issuer elsewhere: where its front forwards to). */
  listensAt: string | null;
  upstream: {
    name: string;
    type: 'oidc' | 'oauth2';
    url: string;
    /** Gatehouse's client id there: from the settings, or from its registration (null: not registered yet). */
    clientId: string | null;
    /** With dcrConfig: Gatehouse's registration there (RFC 7591), kept in the keychain; null before it is made. */
    registration: { clientId: string; registeredAt: number; expiresAt: number | null; endpoint: string } | null;
  } | null;
  /** The servers whose tokens it issues: those whose callers' tokens must come from its issuer. */
  audiences: string[];
  /** The same, by server: each server's addresses (the first is the one clients are given). */
  servers: { name: string; urls: string[] }[];
  /** The first signs; a retired one is still published until the tokens it signed have expired. */
  signingKeys: { kid: string; alg: string; origin: 'own' | 'settings'; createdAt: number | null; retiredAt: number | null }[];
  lifespans: { accessTokenMs: number; refreshTokenMs: number; authCodeMs: number } | null;
  /** Why it is not running, when it is configured. */
  problem: string | null;
}

export interface AuthServerManagerDeps {
  store: Store;
  keychain: Keychain;
  sealed: SealedStore;
  secrets: () => SecretsProvider;
  auth: AuthManager;
  /** This Gatehouse's data directory, hashed: names its own keys in the keychain (the keychain is the user's, shared by every GATEHOUSE_HOME). */
  instanceId: string;
  /** Opens the system browser (the provider test's sign-in), the URL as one argument. */
  openUrl: (url: string) => Promise<void>;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** Each step of a sign-in, with the local server it is for (its URL was the resource): the audit log. */
  onSignInStep?: (step: SignInStep, server: string | undefined, at: Date) => void;
}

/** A client the user allowed on the consent page, and how many grants it holds now. */
export interface AuthServerClientView {
  clientId: string;
  clientName: string | null;
  redirectHosts: string[];
  scopes: string[];
  resource: string | null;
  approvedAt: number;
  grants: number;
}

/** A user the upstream identified (never a token: whether upstream tokens are kept, only). */
export interface AuthServerUserView {
  subject: string;
  name: string | null;
  email: string | null;
  upstream: string;
  signedInAt: number;
  upstreamTokens: boolean;
  grants: number;
  sessions: number;
}

export interface AuthServerRevoked {
  revoked: string;
  grants: number;
  sessions: number;
}

/** What changed: the authorization server's view, or the provider test's. */
export type AuthServerChange = 'view' | 'test';

interface Running {
  settings: AuthServerSettings;
  /** Where the engine listens on 127.0.0.1. */
  port: number;
  engine: AuthServerEngine;
  interactions: UpstreamInteractions;
  keys: AuthServerView['signingKeys'];
  sweep: NodeJS.Timeout;
}

/**
 * The one embedded authorization server of this Gatehouse (one registration at the upstream serves
 * every local server): its settings in SQLite (ToolHive's shape, as given), its engine on the issuer's
 * port on 127.0.0.1. A server takes its tokens by naming its issuer in its OIDC settings, as ToolHive's
 * MCPServer does; each such server's URL is an audience. Invalid settings never replace running ones.
 */
export class AuthServerManager {
  private running: Running | undefined;
  /** With dcrConfig: Gatehouse's registration at the upstream, for the settings it was made for. */
  private registration: { settings: AuthServerSettings; view: UpstreamRegistrationView | undefined } | undefined;
  private problem: string | null = null;
  private readonly listeners = new Set<(what: AuthServerChange) => void>();
  private readonly test: ProviderTest;
  /** Changes (settings, rotation, removal) one at a time: each one stops and starts the engine. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: AuthServerManagerDeps) {
    this.test = new ProviderTest({ openUrl: d.openUrl, onChange: () => this.emit('test'), log: (level, m) => d.log(level, m) });
  }

  /** Called when the view or the provider test changes (the app follows on the push channel). */
  onChange(listener: (what: AuthServerChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(what: AuthServerChange): void {
    for (const l of this.listeners) {
      try {
        l(what);
      } catch {
        // one broken listener does not stop the others
      }
    }
  }

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op, op);
    this.queue = next.catch(() => {});
    return next;
  }

  /** At start-up: the stored settings, if any, are put to work; a failure is reported, not thrown. */
  async restore(): Promise<void> {
    const stored = this.d.store.settings.get(SETTINGS_KEY);
    if (stored === undefined || stored === null) return;
    try {
      const settings = parseAuthServerSettings(stored);
      await this.start(settings, this.portOf(settings, undefined));
    } catch (err) {
      this.problem = (err as Error).message;
      this.d.log('error', `The authorization server did not start: ${this.problem}`);
    }
  }

  /** Settings pasted or read as text: YAML (the guide's) or JSON (a RunConfig), checked as configure() checks them. */
  configureFromText(text: string, listenPort?: number): Promise<AuthServerView> {
    let input: unknown;
    try {
      input = parseYaml(text, { prettyErrors: true }) as unknown;
    } catch (err) {
      throw new BadRequestError(`These settings are neither YAML nor JSON: ${(err as Error).message}`);
    }
    return this.configure(input, listenPort);
  }

  /**
   * Checks, starts the new one, and only then replaces the running one and the stored settings.
   * `listenPort`: for an issuer that is not on this machine, the local port its front forwards to (kept
   * for the next settings when not given again).
   */
  configure(input: unknown, listenPort?: number): Promise<AuthServerView> {
    return this.serially(async () => {
      const view = await this.apply(input, listenPort);
      this.emit('view');
      return view;
    });
  }

  private async apply(input: unknown, listenPort: number | undefined): Promise<AuthServerView> {
    let settings: AuthServerSettings;
    try {
      settings = parseAuthServerSettings(input);
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
    const port = this.portOf(settings, listenPort);
    const previous = this.running;
    if (previous && previous.port === port) {
      // The same port: the old one has to make room first; it comes back if the new one cannot start.
      await this.stopRunning();
      try {
        await this.start(settings, port, undefined, true);
      } catch (err) {
        await this.start(previous.settings, previous.port, previous.interactions).catch(() => {});
        throw new BadRequestError((err as Error).message);
      }
    } else {
      try {
        await this.start(settings, port, undefined, true);
      } catch (err) {
        throw new BadRequestError((err as Error).message);
      }
      if (previous) await this.close(previous);
    }
    this.d.store.settings.set(SETTINGS_KEY, input);
    this.d.store.settings.set(LISTEN_PORT_KEY, isLoopbackIssuer(settings.issuer) ? null : port);
    // A registration at an upstream (dcrConfig) that the new settings do not use is dropped from the keychain.
    if (settings.upstream.type !== 'oauth2' || !settings.upstream.dcr) {
      await forgetUpstreamRegistration(this.d.keychain, this.d.instanceId).catch(() => false);
      this.registration = undefined;
    }
    this.problem = null;
    // A test under way belongs to the upstream it started at.
    this.test.cancel('The authorization server was set up again.');
    this.d.log('info', `The authorization server runs at ${settings.issuer}`);
    // A server that was already up when its issuer's authorization server appeared sends upstream tokens after a restart.
    const waiting = this.d.store.servers.list().filter((r) => r.status === 'running' && this.issuerOf(r.name) === settings.issuer);
    if (waiting.length && previous === undefined) this.d.log('info', `Restart ${waiting.map((r) => r.name).join(', ')} to send your identity provider's tokens on to ${waiting.length === 1 ? 'it' : 'them'}.`);
    return this.view();
  }

  remove(): Promise<AuthServerView> {
    return this.serially(async () => {
      this.test.cancel('The authorization server was removed.');
      await this.stopRunning();
      this.d.store.settings.set(SETTINGS_KEY, null);
      this.d.store.settings.set(LISTEN_PORT_KEY, null);
      // Its registration at the upstream (dcrConfig) goes with it; a new one is made if it is set up again.
      await forgetUpstreamRegistration(this.d.keychain, this.d.instanceId).catch(() => false);
      this.registration = undefined;
      this.problem = null;
      this.emit('view');
      return this.view();
    });
  }

  /**
   * A new signing key of Gatehouse's own signs from now on; the one before stays published until the
   * tokens it signed have expired. oidc-provider takes its keys when it is made, so the engine restarts in
   * place: same port, same state in SQLite, same interactions (sign-ins under way go on).
   */
  rotateKey(): Promise<AuthServerView> {
    return this.serially(async () => {
      const r = this.requireRunning();
      try {
        await this.ring().rotate(r.settings);
      } catch (err) {
        throw err instanceof AuthServerSettingsError ? new BadRequestError(err.message) : err;
      }
      await this.close(r);
      try {
        await this.start(r.settings, r.port, r.interactions);
      } catch (err) {
        this.problem = `It did not start again after the key rotation: ${(err as Error).message}`;
        this.d.log('error', `The authorization server ${this.problem}`);
        this.emit('view');
        throw new ConflictError(`The authorization server ${this.problem}`);
      }
      this.d.log('info', `The authorization server signs with a new key (${this.running!.keys[0]!.kid}); the one before is still published until its tokens expire.`);
      this.emit('view');
      return this.view();
    });
  }

  private requireRunning(): Running {
    if (!this.running) throw new ConflictError(this.configuredIssuer() ? `The authorization server is not running${this.problem ? ` (${this.problem})` : ''}.` : 'No authorization server is set up.');
    return this.running;
  }

  private ring(): KeyRing {
    return new KeyRing(this.d.instanceId, { keychain: this.d.keychain, secrets: this.d.secrets });
  }

  private adapterDeps() {
    return { sealed: this.d.sealed, index: this.d.store.authServerIndex };
  }

  /** The engine's live records of a model (grants, sessions), unsealed. */
  private records(model: 'Grant' | 'Session'): Promise<AdapterPayload[]> {
    return sealedRecords(this.adapterDeps(), model);
  }

  // ---- approved clients and signed-in users -------------------------------------------------

  async clients(): Promise<AuthServerClientView[]> {
    const r = this.running;
    if (!r) return [];
    const grants = await this.records('Grant');
    return (await r.interactions.approvals()).map((a) => ({
      clientId: a.clientId,
      clientName: a.clientName ?? null,
      redirectHosts: a.redirectHosts,
      scopes: a.scopes,
      resource: a.resource ?? null,
      approvedAt: a.approvedAt,
      grants: grants.filter((g) => g['clientId'] === a.clientId).length,
    }));
  }

  /** The client's approval goes, and its grants with their refresh tokens: it signs in, and is asked, again. */
  revokeClient(clientId: string): Promise<AuthServerRevoked> {
    return this.serially(async () => {
      const r = this.requireRunning();
      const approval = await r.interactions.approval(clientId);
      const grants = (await this.records('Grant')).filter((g) => g['clientId'] === clientId);
      if (!approval && grants.length === 0) throw new NotFoundError(`No client ${clientId} was allowed here, or it holds no grant.`);
      r.interactions.revokeApproval(clientId);
      for (const g of grants) await r.engine.revokeGrant(String(g['jti']));
      this.recordStep(signInStep({ kind: 'revocation', outcome: 'success', endpoint: `/v1/authserver/clients/${clientId}`, httpMethod: 'DELETE' }, { by: 'app', clientId, clientName: approval?.clientName, resource: approval?.resource, reason: `The client's approval and ${grants.length} grant(s) were revoked in Gatehouse.` }));
      this.d.log('info', `Revoked ${approval?.clientName ?? 'the client'} (${clientId}): its approval and ${grants.length} grant(s); it must sign in and be allowed again.`);
      this.emit('view');
      return { revoked: clientId, grants: grants.length, sessions: 0 };
    });
  }

  async users(): Promise<AuthServerUserView[]> {
    const r = this.running;
    if (!r) return [];
    const [grants, sessions] = await Promise.all([this.records('Grant'), this.records('Session')]);
    return (await r.interactions.accounts()).map((a) => ({
      subject: a.sub,
      name: a.name ?? null,
      email: a.email ?? null,
      upstream: a.upstream,
      signedInAt: a.lastLogin,
      upstreamTokens: a.upstreamTokens,
      grants: grants.filter((g) => g['accountId'] === a.sub).length,
      sessions: sessions.filter((x) => x['accountId'] === a.sub).length,
    }));
  }

  /** Signs a user out everywhere: their grants and refresh tokens, their browser sessions, their upstream tokens. */
  revokeUser(subject: string): Promise<AuthServerRevoked> {
    return this.serially(async () => {
      const r = this.requireRunning();
      const account = await r.interactions.account(subject);
      const grants = (await this.records('Grant')).filter((g) => g['accountId'] === subject);
      const sessions = (await this.records('Session')).filter((x) => x['accountId'] === subject);
      if (!account && grants.length === 0 && sessions.length === 0) throw new NotFoundError(`No user ${subject} is signed in here.`);
      for (const g of grants) await r.engine.revokeGrant(String(g['jti']));
      for (const x of sessions) await r.engine.endSession(String(x['jti']));
      r.interactions.forgetAccount(subject);
      this.recordStep(signInStep({ kind: 'revocation', outcome: 'success', endpoint: `/v1/authserver/users/${subject}`, httpMethod: 'DELETE' }, { by: 'app', subject, subjectName: account?.name ?? account?.email, reason: `${grants.length} grant(s), ${sessions.length} session(s) and the upstream tokens were revoked in Gatehouse.` }));
      this.d.log('info', `Signed ${subject} out: ${grants.length} grant(s), ${sessions.length} session(s) and the upstream tokens kept for them are gone.`);
      this.emit('view');
      return { revoked: subject, grants: grants.length, sessions: sessions.length };
    });
  }

  /**
   * A sign-in step goes to the audit log of the server it is for (by its URL, the resource), with the
   * user's name when the upstream gave one. Never throws: the audit log never stops a sign-in.
   */
  private recordStep(step: SignInStep): void {
    const sink = this.d.onSignInStep;
    if (!sink) return;
    const at = new Date();
    const server = step.resource ? this.servers().find((x) => x.urls.includes(step.resource!))?.name : undefined;
    const named = async (): Promise<SignInStep> => {
      if (!step.subject || step.subjectName || !this.running) return step;
      const a = await this.running.interactions.account(step.subject).catch(() => undefined);
      const name = a?.name ?? a?.email;
      return name ? { ...step, subjectName: name } : step;
    };
    void named()
      .then((s) => sink(s, server, at))
      .catch((err: unknown) => this.d.log('warn', `An audit event of the authorization server was dropped: ${(err as Error).message}`));
  }

  // ---- "Test this provider" -------------------------------------------------------------------

  testView(): ProviderTestView {
    return this.test.view();
  }

  startTest(): Promise<ProviderTestView> {
    const r = this.requireRunning();
    return this.test.start({ settings: r.settings, interactions: r.interactions, audiences: this.audiences() });
  }

  waitTest(): Promise<ProviderTestView> {
    return this.test.wait();
  }

  cancelTest(): void {
    this.test.cancel();
  }

  /** The URLs of the servers whose OIDC settings name this issuer: the resources its tokens may be for. */
  audiences(issuer = this.running?.settings.issuer): string[] {
    return [...this.servers(issuer).flatMap((s) => s.urls), ...(issuer ? (this.running?.settings.allowedAudiences ?? []) : [])];
  }

  /** The servers whose OIDC settings name this issuer, each with its URLs (every spelling of its address). */
  private servers(issuer = this.running?.settings.issuer): { name: string; urls: string[] }[] {
    if (!issuer) return [];
    const out: { name: string; urls: string[] }[] = [];
    for (const s of this.d.store.servers.list()) {
      const st = this.d.auth.state(s.name);
      if (st && !('failure' in st) && st.config.issuer === issuer) out.push({ name: s.name, urls: st.resourceUrls });
    }
    return out;
  }

  view(): AuthServerView {
    const r = this.running;
    const stored = this.d.store.settings.get(SETTINGS_KEY);
    const u = r?.settings.upstream;
    const reg = r && this.registration?.settings === r.settings ? this.registration.view : undefined;
    return {
      configured: stored !== undefined && stored !== null,
      running: r !== undefined,
      issuer: r?.settings.issuer ?? null,
      listensAt: r ? r.engine.url : null,
      upstream: u
        ? {
            name: u.name,
            type: u.type,
            url: u.type === 'oidc' ? u.issuerUrl : u.authorizationEndpoint,
            clientId: u.clientId ?? reg?.clientId ?? null,
            registration: reg ? { clientId: reg.clientId, registeredAt: reg.registeredAt, expiresAt: reg.expiresAt, endpoint: reg.registrationEndpoint } : null,
          }
        : null,
      audiences: this.audiences(),
      servers: this.servers(),
      signingKeys: r?.keys ?? [],
      lifespans: r?.settings.lifespans ?? null,
      problem: this.problem,
    };
  }

  /**
   * What a server's proxy adds toward the MCP server for each caller: the upstream access token of the
   * user behind a token this authorization server issued (ToolHive's upstream swap, Authorization
   * replaced). Undefined for servers that do not take its tokens, or with injection turned off (the
   * caller's credentials are never forwarded either way).
   */
  credentialsFor(s: ServerRecord, purpose: 'inject' | 'exchange' = 'inject'): UpstreamCredentials | undefined {
    const issuer = this.issuerOf(s.name);
    // Only servers that take this authorization server's tokens: others keep their own 401s and credentials.
    // (At start-up the servers come up before it does: its stored settings say which issuer it has.)
    if (issuer === undefined || issuer !== this.configuredIssuer()) return undefined;
    let stale = false;
    return {
      headers: async (caller): Promise<Record<string, string>> => {
        const r = this.running;
        // disableUpstreamTokenInjection keeps the upstream token from the MCP server; token exchange
        // (subjectProviderName) still exchanges it, as at ToolHive.
        const withheld = purpose === 'inject' && r?.settings.disableUpstreamTokenInjection;
        if (!r || r.settings.issuer !== issuer || withheld || !caller || caller.local || caller.claims['iss'] !== issuer) return {};
        const token = await r.interactions.upstreamToken(caller.subject, stale).catch((err: unknown) => {
          throw new CredentialsUnavailableError(`The identity provider did not renew your sign-in (${(err as Error).message}): sign in again from your MCP client.`, 30);
        });
        stale = false;
        if (!token) throw new CredentialsUnavailableError('Your sign-in at the identity provider ended: sign in again from your MCP client.', 30);
        return { authorization: `Bearer ${token}` };
      },
      refused: async (attempt) => {
        if (attempt === 'first') stale = true;
        else this.d.log('warn', `${s.name} refused the upstream token of a signed-in user, even a renewed one.`);
      },
      refusedMessage: (server) => `The MCP server "${server}" refused your identity provider's token: sign in again from your MCP client.`,
    };
  }

  /** Whose tokens a server's proxy takes (undefined: none, or settings that could not be applied). */
  private issuerOf(server: string): string | undefined {
    const st = this.d.auth.state(server);
    return st && !('failure' in st) ? st.config.issuer : undefined;
  }

  /** The name of the upstream identity provider (running, or stored before it runs); undefined with none set up. */
  upstreamName(): string | undefined {
    if (this.running) return this.running.settings.upstream.name;
    try {
      const stored = this.d.store.settings.get(SETTINGS_KEY);
      return stored === undefined || stored === null ? undefined : parseAuthServerSettings(stored).upstream.name;
    } catch {
      return undefined;
    }
  }

  /** The issuer of the running authorization server, or of the stored settings before it runs. */
  private configuredIssuer(): string | undefined {
    if (this.running) return this.running.settings.issuer;
    try {
      const stored = this.d.store.settings.get(SETTINGS_KEY);
      return stored === undefined || stored === null ? undefined : parseAuthServerSettings(stored).issuer;
    } catch {
      return undefined;
    }
  }

  async close(r = this.running): Promise<void> {
    if (!r) return;
    clearInterval(r.sweep);
    await r.engine.close();
    if (this.running === r) this.running = undefined;
  }

  private async stopRunning(): Promise<void> {
    await this.close(this.running);
  }

  /**
   * Where the engine listens on 127.0.0.1: a loopback issuer's own port; for any other issuer (the
   * guide's https://mcp.example.com) the port a front (a TLS proxy or a tunnel answering for that
   * name) forwards to: given now, or kept from the last settings.
   */
  private portOf(s: AuthServerSettings, listenPort: number | undefined): number {
    const u = new URL(s.issuer);
    if (isLoopbackIssuer(s.issuer)) {
      if (!u.port) throw new BadRequestError(`Give the issuer's port: Gatehouse listens on it (such as ${u.protocol}//${u.host}:8666).`);
      if (listenPort !== undefined && listenPort !== Number(u.port)) throw new BadRequestError(`The issuer ${s.issuer} is on this machine: Gatehouse listens on its port ${u.port}, not ${listenPort}.`);
      return Number(u.port);
    }
    const stored = this.d.store.settings.get(LISTEN_PORT_KEY);
    const port = listenPort ?? (typeof stored === 'number' ? stored : undefined);
    if (port === undefined) {
      throw new BadRequestError(
        `${s.issuer} is not on this machine: Gatehouse's authorization server listens on 127.0.0.1, behind a front (a TLS proxy or a tunnel answering for ${u.host}) that forwards to it. Give the local port it forwards to (authserver set FILE --port PORT, or "Local port" in the app), or use an issuer such as http://localhost:8666.`,
      );
    }
    return port;
  }

  /**
   * Where this machine reaches an issuer served through a front: its origin and the local port. The
   * proxies read its keys there, not through the front (no DNS, no TLS, no trip off the machine).
   */
  frontedIssuer(): { origin: string; port: number } | undefined {
    const r = this.running;
    return r && !isLoopbackIssuer(r.settings.issuer) ? { origin: new URL(r.settings.issuer).origin, port: r.port } : undefined;
  }

  /**
   * Gatehouse's client at an OAuth 2.0 upstream: the settings' clientId, or (dcrConfig) a registration
   * there, kept in the keychain. `registerNow`: made before the settings are taken, so a registration the
   * upstream refuses is reported when they are set; at start-up it is made at the first sign-in instead
   * (the upstream may be out of reach then).
   */
  private async oauth2Client(settings: AuthServerSettings, secret: string | undefined, registerNow: boolean): Promise<OAuth2ClientSource> {
    const upstream = settings.upstream;
    if (upstream.type !== 'oauth2' || !upstream.dcr) return configuredClient(upstream.clientId!, async () => secret);
    const dcr = upstream.dcr;
    const ring = this.ring();
    const registrar = new UpstreamRegistrar(upstream, upstreamRedirectUri(settings), {
      keychain: this.d.keychain,
      instanceId: this.d.instanceId,
      fetchFn: safeFetchLike({ insecureAllowHttp: upstream.insecureAllowHttp, allowPrivateIp: upstream.allowPrivateIps }, { timeoutMs: 10_000 }),
      initialAccessToken: async () => (dcr.initialAccessToken ? ring.read(dcr.initialAccessToken, 'The dcrConfig initial access token') : undefined),
    });
    const noteRegistration = async () => {
      const view = await registrar.view();
      const before = this.registration?.settings === settings ? this.registration.view : undefined;
      const changed = this.registration?.settings !== settings || view?.registeredAt !== before?.registeredAt;
      if (before && view && view.clientId !== before.clientId) this.d.log('warn', `The upstream ${upstream.name} no longer had Gatehouse's registration ${before.clientId}: Gatehouse registered again, as ${view.clientId}.`);
      this.registration = { settings, view };
      if (changed && this.running?.settings === settings) this.emit('view');
    };
    const source: OAuth2ClientSource = {
      credentials: async (opts) => {
        const c = await registrar.credentials(opts);
        await noteRegistration();
        return c;
      },
      rejected: async () => {
        this.d.log('warn', `The upstream ${upstream.name} no longer knows Gatehouse's registration there (invalid_client): the next sign-in registers again.`);
        await registrar.forget();
      },
    };
    if (registerNow) {
      const before = await registrar.view();
      await registrar.credentials();
      const after = await registrar.view();
      if (after && after.registeredAt !== before?.registeredAt) this.d.log('info', `Gatehouse registered at ${after.registrationEndpoint} as ${after.clientId}, with the callback ${upstreamRedirectUri(settings)}.`);
    }
    // The registration kept from before (after a restart) is shown without waiting for a sign-in.
    await noteRegistration().catch(() => undefined);
    return source;
  }

  /** Starts an engine for the settings; `interactions`: the ones of the engine it replaces (a restart in place). */
  private async start(settings: AuthServerSettings, port: number, reuse?: UpstreamInteractions, registerNow = false): Promise<void> {
    const upstream = settings.upstream;
    const ring = this.ring();
    const keys = await ring.load(settings, settings.lifespans.accessTokenMs);
    let interactions = reuse;
    if (!interactions) {
      // A secret the settings name must be there now, not at the first sign-in.
      const secret = upstream.clientSecret ? await ring.read(upstream.clientSecret, 'The upstream client secret') : undefined;
      const login = upstream.type === 'oidc' ? new OidcUpstreamClient(upstream, async () => secret) : new OAuth2UpstreamClient(upstream, await this.oauth2Client(settings, secret, registerNow));
      interactions = new UpstreamInteractions({ settings, sealed: this.d.sealed, upstream: login, onChange: () => this.emit('view'), onStep: (step) => this.recordStep(step) });
    }
    const its = interactions;
    const adapterDeps = this.adapterDeps();
    const engine = await startAuthServerEngine({
      settings,
      keys,
      adapter: sealedAdapter(adapterDeps),
      audiences: () => this.audiences(settings.issuer),
      findAccount: async (sub) => {
        const a = await its.account(sub);
        return a ? accountClaims(a) : undefined;
      },
      interactions: its,
      port,
      onStep: (step) => this.recordStep(step),
    });
    const sweep = setInterval(() => sweepExpired(adapterDeps), SWEEP_EVERY_MS);
    sweep.unref();
    // With another port, the old one is still up for a moment: configure() closes it.
    this.running = {
      settings,
      port,
      engine,
      interactions: its,
      sweep,
      keys: keys.signing.map((k) => ({ kid: k.kid, alg: k.alg, origin: k.origin, createdAt: k.origin === 'own' ? k.createdAt : null, retiredAt: k.retiredAt ?? null })),
    };
  }
}

/** An http issuer on this machine (127.0.0.1, localhost, [::1]): served on its own port, no front. */
function isLoopbackIssuer(issuer: string): boolean {
  const u = new URL(issuer);
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}
