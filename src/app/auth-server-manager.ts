import {
  KeyRing,
  OAuth2UpstreamClient,
  OidcUpstreamClient,
  parseAuthServerSettings,
  sealedAdapter,
  startAuthServerEngine,
  sweepExpired,
  UpstreamInteractions,
  type AuthServerEngine,
  type AuthServerSettings,
} from '../authserver/index.js';
import type { Keychain, SealedStore, SecretsProvider } from '../secrets/index.js';
import { CredentialsUnavailableError, type UpstreamCredentials } from '../proxy/index.js';
import type { ServerRecord, Store } from '../store/index.js';
import type { AuthManager } from './auth-manager.js';
import { BadRequestError } from './errors.js';

const SETTINGS_KEY = 'authServer';
/** Expired codes, sessions and tokens leave SQLite this often. */
const SWEEP_EVERY_MS = 10 * 60_000;

export interface AuthServerView {
  configured: boolean;
  running: boolean;
  issuer: string | null;
  upstream: { name: string; type: 'oidc' | 'oauth2'; url: string } | null;
  /** The servers whose tokens it issues: those whose callers' tokens must come from its issuer. */
  audiences: string[];
  signingKeys: { kid: string; alg: string; retiredAt: number | null }[];
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
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

interface Running {
  settings: AuthServerSettings;
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
  private problem: string | null = null;

  constructor(private readonly d: AuthServerManagerDeps) {}

  /** At start-up: the stored settings, if any, are put to work; a failure is reported, not thrown. */
  async restore(): Promise<void> {
    const stored = this.d.store.settings.get(SETTINGS_KEY);
    if (stored === undefined || stored === null) return;
    try {
      await this.start(parseAuthServerSettings(stored));
    } catch (err) {
      this.problem = (err as Error).message;
      this.d.log('error', `The authorization server did not start: ${this.problem}`);
    }
  }

  /** Checks, starts the new one, and only then replaces the running one and the stored settings. */
  async configure(input: unknown): Promise<AuthServerView> {
    let settings: AuthServerSettings;
    try {
      settings = parseAuthServerSettings(input);
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
    const port = this.portOf(settings);
    const previous = this.running;
    if (previous && Number(new URL(previous.settings.issuer).port) === port) {
      // The same port: the old one has to make room first; it comes back if the new one cannot start.
      await this.stopRunning();
      try {
        await this.start(settings);
      } catch (err) {
        await this.start(previous.settings).catch(() => {});
        throw new BadRequestError((err as Error).message);
      }
    } else {
      try {
        await this.start(settings);
      } catch (err) {
        throw new BadRequestError((err as Error).message);
      }
      if (previous) await this.close(previous);
    }
    this.d.store.settings.set(SETTINGS_KEY, input);
    this.problem = null;
    this.d.log('info', `The authorization server runs at ${settings.issuer}`);
    // A server that was already up when its issuer's authorization server appeared sends upstream tokens after a restart.
    const waiting = this.d.store.servers.list().filter((r) => r.status === 'running' && this.issuerOf(r.name) === settings.issuer);
    if (waiting.length && previous === undefined) this.d.log('info', `Restart ${waiting.map((r) => r.name).join(', ')} to send your identity provider's tokens on to ${waiting.length === 1 ? 'it' : 'them'}.`);
    return this.view();
  }

  async remove(): Promise<AuthServerView> {
    await this.stopRunning();
    this.d.store.settings.set(SETTINGS_KEY, null);
    this.problem = null;
    return this.view();
  }

  /** The URLs of the servers whose OIDC settings name this issuer: the resources its tokens may be for. */
  audiences(issuer = this.running?.settings.issuer): string[] {
    if (!issuer) return [];
    const out: string[] = [];
    for (const s of this.d.store.servers.list()) {
      const st = this.d.auth.state(s.name);
      if (st && !('failure' in st) && st.config.issuer === issuer) out.push(...st.resourceUrls);
    }
    return [...out, ...(this.running?.settings.allowedAudiences ?? [])];
  }

  view(): AuthServerView {
    const r = this.running;
    const stored = this.d.store.settings.get(SETTINGS_KEY);
    const u = r?.settings.upstream;
    return {
      configured: stored !== undefined && stored !== null,
      running: r !== undefined,
      issuer: r?.settings.issuer ?? null,
      upstream: u ? { name: u.name, type: u.type, url: u.type === 'oidc' ? u.issuerUrl : u.authorizationEndpoint } : null,
      audiences: this.audiences(),
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
  credentialsFor(s: ServerRecord): UpstreamCredentials | undefined {
    const issuer = this.issuerOf(s.name);
    // Only servers that take this authorization server's tokens: others keep their own 401s and credentials.
    // (At start-up the servers come up before it does: its stored settings say which issuer it has.)
    if (issuer === undefined || issuer !== this.configuredIssuer()) return undefined;
    let stale = false;
    return {
      headers: async (caller): Promise<Record<string, string>> => {
        const r = this.running;
        if (!r || r.settings.issuer !== issuer || r.settings.disableUpstreamTokenInjection || !caller || caller.local || caller.claims['iss'] !== issuer) return {};
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

  /** A loopback issuer is served on its own port; anything else needs a front that forwards to one (not yet). */
  private portOf(s: AuthServerSettings): number {
    const u = new URL(s.issuer);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) || u.protocol !== 'http:' || !u.port) {
      throw new BadRequestError(`Gatehouse serves its authorization server on this machine: give an issuer such as http://localhost:8666 (${s.issuer} would need a front that forwards to it).`);
    }
    return Number(u.port);
  }

  private async start(settings: AuthServerSettings): Promise<void> {
    const port = this.portOf(settings);
    const upstream = settings.upstream;
    const ring = new KeyRing('default', { keychain: this.d.keychain, secrets: this.d.secrets });
    const keys = await ring.load(settings, settings.lifespans.accessTokenMs);
    // A secret the settings name must be there now, not at the first sign-in.
    const secret = upstream.clientSecret ? await ring.read(upstream.clientSecret, 'The upstream client secret') : undefined;
    const login = upstream.type === 'oidc' ? new OidcUpstreamClient(upstream, async () => secret) : new OAuth2UpstreamClient(upstream, async () => secret);
    const interactions = new UpstreamInteractions({ settings, sealed: this.d.sealed, upstream: login });
    const adapterDeps = { sealed: this.d.sealed, index: this.d.store.authServerIndex };
    const engine = await startAuthServerEngine({
      settings,
      keys,
      adapter: sealedAdapter(adapterDeps),
      audiences: () => this.audiences(settings.issuer),
      findAccount: async (sub) => {
        const a = await interactions.account(sub);
        return a ? { ...a.claims, ...(a.name ? { name: a.name } : {}), ...(a.email ? { email: a.email } : {}) } : undefined;
      },
      interactions,
      port,
    });
    const sweep = setInterval(() => sweepExpired(adapterDeps), SWEEP_EVERY_MS);
    sweep.unref();
    // With another port, the old one is still up for a moment: configure() closes it.
    this.running = { settings, engine, interactions, sweep, keys: keys.signing.map((k) => ({ kid: k.kid, alg: k.alg, retiredAt: k.retiredAt ?? null })) };
  }
}
