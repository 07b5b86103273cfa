import { z } from 'zod';
import { bearerChallenge, resourceMetadataUrl } from '../auth/index.js';
import { parseTokenExchangeSettings, storedTokenExchange, TokenExchangeError, TokenExchanger, TokenExchangeSettingsError, type TokenExchangeSettings } from '../oauth/index.js';
import { CredentialsRefusedError, CredentialsUnavailableError, type UpstreamCredentials } from '../proxy/index.js';
import type { SecretsProvider } from '../secrets/index.js';
import type { ServerRecord, Store } from '../store/index.js';
import type { AuthManager } from './auth-manager.js';
import { BadRequestError, NotFoundError } from './errors.js';

export interface TokenExchangeView {
  tokenUrl: string;
  clientId: string | null;
  /** The keychain secret holding the client secret (its name, never its value). */
  clientSecretName: string | null;
  audience: string | null;
  scopes: string[];
  subjectTokenType: string;
  headerName: string;
  subjectProviderName: string | null;
}

export interface TokenExchangeManagerDeps {
  store: Store;
  secrets: () => SecretsProvider;
  auth: AuthManager;
  /** The embedded authorization server's credentials for a server (its users' upstream tokens), when it has them. */
  /** The embedded authorization server's upstream tokens: to send on as they are ('inject'), or to exchange ('exchange'). */
  upstreamCredentials: (s: ServerRecord, purpose: 'inject' | 'exchange') => UpstreamCredentials | undefined;
  /** The name of the embedded authorization server's upstream provider; undefined while none is set up. */
  upstreamName: () => string | undefined;
  log(server: string, level: 'info' | 'warn' | 'error', message: string): void;
}

/** The keychain name a runner file's client secret is moved to (the name says what it is for). */
export function tokenExchangeSecretName(server: string): string {
  return `${server}-token-exchange`;
}

/** What a server's row holds: the settings (operator's spelling) and the keychain secrets Gatehouse made for them. */
export interface StoredTokenExchange {
  tokenExchange: Record<string, unknown>;
  /** Secrets Gatehouse wrote (a runner file's or the app's clear client secret): they go with the settings or the server. */
  ownedSecrets: string[];
}

const StoredSchema = z.object({ tokenExchange: z.record(z.string(), z.unknown()), ownedSecrets: z.array(z.string().min(1).max(253)).max(8) }).strict();

/**
 * The settings and owned secrets of a row. A bare block (stored before ownership was recorded) owns
 * nothing, so a secret Gatehouse cannot prove it made is never deleted.
 */
export function unpackStoredTokenExchange(stored: unknown): { settings: unknown; owned: string[] } {
  const p = StoredSchema.safeParse(stored);
  return p.success ? { settings: p.data.tokenExchange, owned: p.data.ownedSecrets } : { settings: stored, owned: [] };
}

/** The keychain names settings read their client secret from (none for settings that do not read). */
function referencedSecrets(stored: unknown): string[] {
  if (stored === null || stored === undefined) return [];
  try {
    const secret = parseTokenExchangeSettings(unpackStoredTokenExchange(stored).settings).clientSecret;
    return secret && 'keychain' in secret ? secret.keychain : [];
  } catch {
    return [];
  }
}

/**
 * Token exchange (RFC 8693) toward servers that have it (ToolHive's tokenExchange): the caller's
 * token, or the user's upstream token, is exchanged at the token service and the result goes toward
 * the MCP server; the caller's own token never does. Settings are stored in the operator's spelling
 * with keychain references. Replaced settings apply from the next request; adding token exchange to
 * a server that had none takes a restart (its proxy is built then).
 */
export class TokenExchangeManager {
  /** One exchanger (and so one cache) per server and settings. */
  private readonly exchangers = new Map<string, { stored: string; exchanger: TokenExchanger }>();
  /** Servers whose running proxy exchanges tokens: new settings reach it at the next request. */
  private readonly exchanging = new Set<string>();

  constructor(private readonly d: TokenExchangeManagerDeps) {}

  view(server: string): TokenExchangeView | null {
    const s = this.settingsOf(this.record(server));
    return s && !('broken' in s) ? viewOf(s) : null;
  }

  /**
   * Checks the settings and that the server can carry them, moves a clear secret to the keychain,
   * stores. A secret Gatehouse made for the settings before, that the new ones no longer read, is deleted.
   */
  async set(server: string, input: unknown): Promise<TokenExchangeView & { applies: 'next-request' | 'restart' | 'start' }> {
    const record = this.record(server);
    const before = unpackStoredTokenExchange(record.tokenExchange).owned;
    const { stored, undo } = await this.prepare(record, input, before);
    try {
      this.d.store.servers.setTokenExchange(server, stored);
    } catch (err) {
      await undo();
      throw err;
    }
    this.exchangers.delete(server);
    await this.deleteOwned(server, before.filter((n) => !stored.ownedSecrets.includes(n)));
    const applies = record.status === 'stopped' || record.status === 'error' ? 'start' : this.exchanging.has(server) ? 'next-request' : 'restart';
    return { ...viewOf(parseTokenExchangeSettings(stored.tokenExchange)), applies };
  }

  /** No token exchange any more: the settings, and the secret Gatehouse made for them (never one the user named). */
  async remove(server: string): Promise<void> {
    const record = this.record(server);
    this.d.store.servers.setTokenExchange(server, null);
    this.exchangers.delete(server);
    await this.deleteOwned(server, unpackStoredTokenExchange(record.tokenExchange).owned);
  }

  /** After a server was removed (its row, and so its settings, are gone): the secrets Gatehouse made for it go too. Never throws. */
  async serverRemoved(record: Pick<ServerRecord, 'name' | 'tokenExchange'>): Promise<void> {
    this.exchangers.delete(record.name);
    this.exchanging.delete(record.name);
    this.parsedSettings.delete(record.name);
    await this.deleteOwned(record.name, unpackStoredTokenExchange(record.tokenExchange).owned);
  }

  /**
   * The stored form of settings for this server, after every check: a runner file's clear client
   * secret is in the keychain by then (`undo` takes it out again if what follows fails). `owned`: the
   * secrets Gatehouse made for the server's current settings; those the new ones still read stay its own.
   */
  async prepare(record: Pick<ServerRecord, 'name' | 'url' | 'transport' | 'auth'>, input: unknown, owned: string[] = []): Promise<{ stored: StoredTokenExchange; undo: () => Promise<void> }> {
    let settings: TokenExchangeSettings;
    try {
      settings = parseTokenExchangeSettings(input);
    } catch (err) {
      if (err instanceof TokenExchangeSettingsError) throw new BadRequestError(err.message);
      throw err;
    }
    this.assertCarries(record, settings);
    const mismatch = this.providerMismatch(settings);
    if (mismatch) throw new BadRequestError(mismatch);
    let secretName: string | undefined;
    /** The value a secret Gatehouse stored before had, put back if what follows fails. */
    let replaced: string | undefined;
    if (settings.clientSecret && 'clear' in settings.clientSecret) {
      secretName = tokenExchangeSecretName(record.name);
      if ((await this.d.secrets().list()).includes(secretName)) {
        // Only a secret Gatehouse stored for these settings is overwritten; one the user made (or left
        // from before) is theirs, and a failed save would otherwise delete it.
        if (!owned.includes(secretName)) {
          throw new BadRequestError(
            `The keychain already has a secret named ${secretName} that Gatehouse did not store for ${record.name}'s token exchange, so it is not overwritten. To use it, name it instead of giving the secret (clientSecretRef: { name: ${secretName} }); to replace it, remove it first: gatehouse secret rm ${secretName}`,
          );
        }
        replaced = await this.d.secrets().get(secretName);
      }
      await this.d.secrets().set(secretName, settings.clientSecret.clear);
    } else if (settings.clientSecret) {
      const names = await this.d.secrets().list();
      if (!settings.clientSecret.keychain.some((n) => names.includes(n))) {
        throw new BadRequestError(`No secret named ${settings.clientSecret.keychain.join(' or ')} for the token exchange client. Add it with: gatehouse secret set ${settings.clientSecret.keychain[0]}`);
      }
    }
    const moved = secretName;
    const reads = settings.clientSecret && 'keychain' in settings.clientSecret ? settings.clientSecret.keychain : [];
    return {
      stored: { tokenExchange: storedTokenExchange(settings, secretName), ownedSecrets: moved ? [moved] : owned.filter((n) => reads.includes(n)) },
      undo: async () => {
        if (!moved) return;
        if (replaced === undefined) await this.d.secrets().delete(moved).catch(() => false);
        else await this.d.secrets().set(moved, replaced).catch(() => undefined);
      },
    };
  }

  /**
   * subjectProviderName names the upstream whose token is exchanged: another name than the
   * authorization server's upstream is a mistake to say, not a token of the wrong provider to send.
   * (With no authorization server set up yet, it cannot be checked; requests refuse until there is.)
   */
  private providerMismatch(settings: TokenExchangeSettings): string | undefined {
    const name = this.d.upstreamName();
    if (!settings.subjectProviderName || name === undefined || name === settings.subjectProviderName) return undefined;
    return `subjectProviderName is "${settings.subjectProviderName}", but the embedded authorization server's upstream identity provider is named "${name}": set subjectProviderName to ${name}.`;
  }

  forget(server: string): void {
    this.exchangers.delete(server);
  }

  /** Deletes secrets Gatehouse made, unless another server's settings read them; a failure is logged with what to do. */
  private async deleteOwned(server: string, names: string[]): Promise<void> {
    if (names.length === 0) return;
    const others = new Set(this.d.store.servers.list().filter((r) => r.name !== server).flatMap((r) => referencedSecrets(r.tokenExchange)));
    for (const name of names) {
      if (others.has(name)) continue;
      try {
        await this.d.secrets().delete(name);
      } catch (err) {
        this.d.log(server, 'warn', `The keychain secret ${name} (the token exchange client secret Gatehouse stored) could not be deleted (${(err as Error).message}): remove it with gatehouse secret rm ${name}.`);
      }
    }
  }

  /**
   * What a server's proxy adds toward the MCP server for each caller: the exchanged token, in
   * Authorization or the configured header. Undefined for servers without token exchange (the
   * embedded authorization server's upstream tokens, if any, are used as they are).
   */
  credentialsFor(s: ServerRecord): UpstreamCredentials | undefined {
    const initial = this.settingsOf(s);
    if (!initial) {
      this.exchanging.delete(s.name);
      return this.d.upstreamCredentials(s, 'inject');
    }
    this.exchanging.add(s.name);
    /**
     * The settings as stored now, read at each request: settings replaced while the server runs
     * apply from the next request (the secret the old ones read may already be gone). Settings
     * removed while it runs refuse, rather than sending requests on without the exchanged token.
     */
    const current = (): TokenExchangeSettings => {
      const record = this.d.store.servers.get(s.name);
      const now = record ? this.settingsOf(record) : undefined;
      if (now === undefined) throw new CredentialsRefusedError(`The token exchange of "${s.name}" was removed while it runs: restart it to send requests without.`, 502);
      if ('broken' in now) throw new CredentialsRefusedError(`The token exchange settings of "${s.name}" cannot be read (${now.broken}): set them again.`, 502);
      return now;
    };
    // Looked up when a request needs it, not when the proxy is built: a server may start before the
    // authorization server is set up (at start-up, or when it is set up after the server).
    let upstream: UpstreamCredentials | undefined;
    const upstreamNow = (settings: TokenExchangeSettings) => (settings.subjectProviderName ? (upstream ??= this.d.upstreamCredentials(s, 'exchange')) : undefined);
    type Caller = Parameters<UpstreamCredentials['headers']>[0];
    // The subject token of each caller's last exchange: a refusal forgets that exchange, not another caller's.
    const subjects = new WeakMap<NonNullable<Caller>, string>();
    const subjectOf = async (caller: Caller, settings: TokenExchangeSettings): Promise<string> => {
      if (settings.subjectProviderName) {
        const mismatch = this.providerMismatch(settings);
        if (mismatch) throw new CredentialsRefusedError(mismatch, 502);
        const upstream = upstreamNow(settings);
        if (!upstream) throw new CredentialsRefusedError(`The server "${s.name}" exchanges your identity provider's token (${settings.subjectProviderName}), but it does not take the embedded authorization server's tokens.`, 502);
        const h = await upstream.headers(caller);
        const token = /^Bearer (.+)$/.exec(h['authorization'] ?? '')?.[1];
        if (!token) throw new CredentialsRefusedError(`No token from ${settings.subjectProviderName} is held for you: sign in again from your MCP client.`, 401, this.challenge(s.name));
        return token;
      }
      const token = caller?.presentedToken?.();
      if (!token) throw new CredentialsRefusedError(`The server "${s.name}" exchanges your access token for one of its own: send one (Authorization: Bearer).`, 401, this.challenge(s.name));
      return token;
    };
    return {
      headers: async (caller) => {
        const settings = current();
        const subject = await subjectOf(caller, settings);
        if (caller) subjects.set(caller, subject);
        try {
          return { [settings.headerName]: `Bearer ${await this.exchangerFor(s.name, settings).exchange(subject)}` };
        } catch (err) {
          if (!(err instanceof TokenExchangeError)) throw err;
          this.d.log(s.name, err.failure === 'subject' ? 'info' : 'warn', `Token exchange: ${err.message}`);
          if (err.failure === 'unavailable') throw new CredentialsUnavailableError(err.message, 10);
          if (err.failure === 'subject') throw new CredentialsRefusedError(`${err.message} Sign in again from your MCP client.`, 401, this.challenge(s.name, 'invalid_token', 'The token service refused this token'));
          throw new CredentialsRefusedError(err.message, 502);
        }
      },
      refused: async (attempt, caller) => {
        // The server refused the exchanged token: exchange again once (the upstream token renewed too,
        // when it is the subject); a second refusal is reported.
        const subject = caller ? subjects.get(caller) : undefined;
        if (subject !== undefined) this.exchangers.get(s.name)?.exchanger.forget(subject);
        if (attempt === 'first') {
          const record = this.d.store.servers.get(s.name);
          const now = record ? this.settingsOf(record) : undefined;
          if (now && !('broken' in now)) await upstreamNow(now)?.refused('first', caller);
        } else this.d.log(s.name, 'warn', `${s.name} refused a freshly exchanged token: check the token exchange audience and scopes.`);
      },
      refusedMessage: (server) => `The MCP server "${server}" refused the token Gatehouse exchanged for yours (the token exchange audience or scopes may not be what it expects).`,
    };
  }

  /** The exchanger of this server's current settings: its cache lasts as long as they do. */
  private exchangerFor(server: string, settings: TokenExchangeSettings): TokenExchanger {
    const key = JSON.stringify(settings);
    const have = this.exchangers.get(server);
    if (have && have.stored === key) return have.exchanger;
    const secret = settings.clientSecret;
    const exchanger = new TokenExchanger(settings, {
      clientSecret: async () => {
        if (!secret || !('keychain' in secret)) return undefined;
        const names = await this.d.secrets().list();
        const found = secret.keychain.find((n) => names.includes(n));
        if (found === undefined) throw new TokenExchangeError(`The token exchange client secret ${secret.keychain[0]} is not in the keychain: add it with gatehouse secret set ${secret.keychain[0]}.`, 'settings');
        return this.d.secrets().get(found);
      },
    });
    this.exchangers.set(server, { stored: key, exchanger });
    return exchanger;
  }

  /** The Bearer challenge of this server's proxy, so an MCP client can sign in again from the 401. */
  private challenge(server: string, error?: string, description?: string): Record<string, string> {
    const st = this.d.auth.state(server);
    if (!st || 'failure' in st || st.resourceUrls.length === 0) return {};
    return { 'www-authenticate': bearerChallenge({ realm: st.config.issuer, resourceMetadata: resourceMetadataUrl(st.resourceUrls[0]!), scopes: st.config.scopes, ...(error ? { error } : {}), ...(description ? { description } : {}) }) };
  }

  /** Stored settings were checked when saved; if they no longer parse, requests are refused, never sent without. */
  /** The last stored form read, and what it parsed to: a running proxy reads the settings at every request. */
  private readonly parsedSettings = new Map<string, { raw: string; settings: TokenExchangeSettings | { broken: string } }>();

  private settingsOf(s: ServerRecord): TokenExchangeSettings | { broken: string } | undefined {
    if (s.tokenExchange === null || s.tokenExchange === undefined) return undefined;
    const raw = JSON.stringify(s.tokenExchange);
    const known = this.parsedSettings.get(s.name);
    if (known?.raw === raw) return known.settings;
    let settings: TokenExchangeSettings | { broken: string };
    try {
      settings = parseTokenExchangeSettings(unpackStoredTokenExchange(s.tokenExchange).settings);
    } catch (err) {
      settings = { broken: (err as Error).message };
    }
    this.parsedSettings.set(s.name, { raw, settings });
    return settings;
  }

  /** Token exchange needs a caller with a token and an HTTP hop toward the server to carry the result. */
  private assertCarries(s: Pick<ServerRecord, 'name' | 'url' | 'transport' | 'auth'>, settings: TokenExchangeSettings): void {
    if (s.url !== null) throw new BadRequestError(`Token exchange is for servers in containers; a remote server (${s.name}) gets its credentials from its own sign-in (--remote-auth-*).`);
    if (s.transport === 'stdio') throw new BadRequestError(`${s.name} speaks stdio: there is no request header to carry an exchanged token. Token exchange needs a server with --transport streamable-http or sse.`);
    const type = typeof s.auth === 'object' && s.auth !== null ? (s.auth as { type?: unknown }).type : 'none';
    if (type === 'none' || type === undefined) throw new BadRequestError(`${s.name} takes callers without a token (local mode): token exchange needs a token to exchange. Set up authentication first (gatehouse auth set ${s.name} --oidc-issuer ...).`);
    if (settings.subjectProviderName && type === 'kubernetes') throw new BadRequestError('subjectProviderName exchanges the embedded authorization server\'s upstream tokens; this server takes Kubernetes service-account tokens.');
  }

  private record(server: string): ServerRecord {
    const r = this.d.store.servers.get(server);
    if (!r) throw new NotFoundError(`No server named ${server}.`);
    return r;
  }
}

/** The view of stored settings (null: none, or settings that no longer read). */
export function tokenExchangeViewOf(stored: unknown): TokenExchangeView | null {
  if (stored === null || stored === undefined) return null;
  try {
    return viewOf(parseTokenExchangeSettings(unpackStoredTokenExchange(stored).settings));
  } catch {
    return null;
  }
}

function viewOf(s: TokenExchangeSettings): TokenExchangeView {
  const secret = s.clientSecret && 'keychain' in s.clientSecret ? s.clientSecret.keychain[0]! : null;
  return {
    tokenUrl: s.tokenUrl,
    clientId: s.clientId ?? null,
    clientSecretName: secret,
    audience: s.audience ?? null,
    scopes: s.scopes,
    subjectTokenType: s.subjectTokenType,
    headerName: s.headerName,
    subjectProviderName: s.subjectProviderName ?? null,
  };
}
