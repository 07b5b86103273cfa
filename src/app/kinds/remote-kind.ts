import net from 'node:net';
import { assertUrlAllowed, guardedLookup, UnsafeUrlError } from '../../auth/index.js';
import type { LogSink } from '../../logs/index.js';
import { OAuthTokenStore, RefreshRetryError, SignInRequiredError } from '../../oauth/index.js';
import { CredentialsUnavailableError, ReverseProxyBackend, type UpstreamCredentials } from '../../proxy/index.js';
import { RemoteSettingsSchema, remoteCredentialKind, type RemoteSettings } from '../../remote/index.js';
import type { SecretsProvider } from '../../secrets/index.js';
import type { ServerRecord, ServerStatus, Store, TransportKind } from '../../store/index.js';
import { BadRequestError } from '../errors.js';
import type { RunRequest } from '../run-request.js';
import type { Definition, Running, ServerKind } from './server-kind.js';

export interface RemoteKindDeps {
  store: Store;
  logs: LogSink;
  secrets: () => SecretsProvider;
  tokens: OAuthTokenStore;
  requestTimeoutMs: number;
}

/** Retry-After for a caller while the sign-in is missing, and while the authorization server cannot answer. */
const SIGN_IN_RETRY_AFTER_S = 10;
const RETRYING_RETRY_AFTER_S = 30;
/** While refreshes fail transiently, they are retried in the background from this delay, doubling, up to the cap. */
const RETRY_FIRST_MS = 15_000;
const RETRY_MAX_MS = 10 * 60_000;

/** A remote server's settings as stored; a row that does not parse fails its start, with the reason. */
export function remoteSettingsOf(s: ServerRecord): RemoteSettings {
  const parsed = RemoteSettingsSchema.safeParse(s.remote ?? {});
  if (!parsed.success) throw new Error(`The remote settings of ${s.name} are not valid: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

/** The transport a URL speaks unless told: ToolHive's rule, a path ending in /sse is the 2024-11-05 wire. */
function transportFor(url: URL, asked: TransportKind | undefined): TransportKind {
  if (asked === 'stdio') throw new BadRequestError('A remote server speaks HTTP: use --transport streamable-http or sse.');
  return asked ?? (url.pathname.replace(/\/+$/, '').endsWith('/sse') ? 'sse' : 'streamable-http');
}

/** A remote URL: https, or http to this machine; no credentials in it; private addresses only when allowed. */
export function checkRemoteUrl(raw: string, allowPrivateIp: boolean): URL {
  try {
    const u = assertUrlAllowed(raw, { insecureAllowHttp: false, allowPrivateIp, privateIpSetting: '--remote-allow-private-ip' }, raw);
    if (u.hash) throw new UnsafeUrlError(`Refusing ${raw}: a server URL has no #fragment.`);
    return u;
  } catch (err) {
    throw new BadRequestError((err as Error).message.replace(/^Refusing to fetch/, 'Refusing the remote server'));
  }
}

/**
 * Remote MCP servers: no container, the proxy forwards to the server's URL over https, adding the
 * server's credentials (Gatehouse's own sign-in, a bearer token from the keychain, configured headers).
 */
export class RemoteKind implements ServerKind {
  private readonly timers = new Map<string, { timer: NodeJS.Timeout | undefined; backoffMs: number }>();

  constructor(private readonly d: RemoteKindDeps) {
    // The refresher follows the sign-in: a new one starts it again, a sign-out stops it.
    d.tokens.onChange((name) => void this.followSignIn(name).catch(() => {}));
  }

  async define(req: RunRequest): Promise<Definition> {
    const parsed = RemoteSettingsSchema.safeParse(req.remote ?? {});
    if (!parsed.success) throw new BadRequestError(`Invalid remote settings: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'remote'}: ${i.message}`).join('; ')}.`);
    const remote = parsed.data;
    const url = checkRemoteUrl(req.url ?? '', remote.allowPrivateIp);
    for (const value of [remote.issuer, remote.authorizeUrl, remote.tokenUrl]) if (value !== undefined) checkRemoteUrl(value, remote.allowPrivateIp);
    if (req.image !== undefined) throw new BadRequestError('Give an image or a URL, not both.');
    // Secrets are named here and read at each use: a missing one is a clear error now, not at the first call.
    const named = [remote.clientSecret, remote.bearerToken, ...(remote.forwardHeaders ?? []).map((h) => h.secret)].filter((n): n is string => n !== undefined);
    const existing = named.length ? new Set(await this.d.secrets().list()) : new Set<string>();
    for (const n of named) if (!existing.has(n)) throw new BadRequestError(`No secret named "${n}": add it first (gatehouse secret set ${n}).`);
    const transport = transportFor(url, req.transport);
    return {
      fields: {
        image: null,
        url: url.href,
        transport,
        args: [],
        env: {},
        secrets: [],
        volumes: [],
        permissionProfile: 'remote',
        profile: null,
        targetPort: null,
        memoryBytes: null,
        nanoCpus: null,
        networkSetting: 'host',
        remote,
      },
      summary: `${url.href}, ${transport}${remote.oauth ? ', OAuth sign-in' : remote.bearerToken ? ', bearer token' : ''}`,
      create: async () => {},
    };
  }

  async up(s: ServerRecord): Promise<Running> {
    const remote = remoteSettingsOf(s);
    const url = checkRemoteUrl(s.url ?? '', remote.allowPrivateIp);
    const tls = url.protocol === 'https:';
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port) || (tls ? 443 : 80);
    const lookup = net.isIP(host) ? undefined : guardedLookup({ insecureAllowHttp: false, allowPrivateIp: remote.allowPrivateIp, privateIpSetting: '--remote-allow-private-ip' }, url.href);
    // Secret values are read once, at start (as a container's environment is): not a keychain round trip per request.
    const fixed = await this.fixedHeaders(remote);
    const backend = new ReverseProxyBackend(
      { host, port, hostHeader: url.host, remote: { tls, path: url.pathname + url.search, localPath: s.transport === 'sse' ? '/sse' : '/mcp', ...(lookup ? { lookup } : {}) }, credentials: this.credentials(s.name, remote, fixed) },
      { log: (level, message, fields) => this.d.logs.write({ server: s.name, source: 'proxy', level, message, fields: fields ?? null }), responseTimeoutMs: this.d.requestTimeoutMs },
    );
    if (remote.oauth) this.keepFresh(s.name, 0);
    return { backend, release: () => this.stopKeepingFresh(s.name) };
  }

  async stopped(): Promise<void> {}

  async removed(s: ServerRecord): Promise<void> {
    this.stopKeepingFresh(s.name); // the manager forgets the sign-in (every kind has one)
  }

  async renaming(s: ServerRecord, newName: string): Promise<void> {
    this.stopKeepingFresh(s.name); // the manager moves the sign-in
  }

  async failureDetail(_s: ServerRecord, err: unknown): Promise<{ message: string; exitCode: number | null }> {
    return { message: err instanceof Error ? err.message : String(err), exitCode: null };
  }

  /** The server's status while it is up, from its sign-in (servers without one are simply running). */
  async authStatus(s: ServerRecord): Promise<{ status: ServerStatus; detail: string | null }> {
    if (!remoteSettingsOf(s).oauth) return { status: 'running', detail: null };
    const st = await this.d.tokens.status(s.name);
    if (st.state === 'signed-in' && st.stepUp) return { status: 'needs-sign-in', detail: st.detail ?? 'the server asks for more permission' };
    if (st.state === 'signed-in') return { status: 'running', detail: null };
    if (st.state === 'retrying') return { status: 'auth-retrying', detail: st.detail };
    return { status: 'needs-sign-in', detail: st.detail ?? 'not signed in yet' };
  }

  /** The configured headers and the bearer token, secrets resolved; a missing secret fails the start, named. */
  private async fixedHeaders(remote: RemoteSettings): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const h of remote.forwardHeaders ?? []) out[h.name.toLowerCase()] = h.value ?? (await this.d.secrets().get(h.secret!));
    if (remote.bearerToken !== undefined) out['authorization'] = `Bearer ${await this.d.secrets().get(remote.bearerToken)}`;
    return out;
  }

  private credentials(name: string, remote: RemoteSettings, fixed: Record<string, string>): UpstreamCredentials {
    const kind = remoteCredentialKind(remote);
    return {
      headers: async () => {
        const headers = { ...fixed };
        if (kind !== 'oauth') return headers;
        try {
          headers['authorization'] = `Bearer ${await this.d.tokens.accessToken(name)}`;
        } catch (err) {
          if (err instanceof RefreshRetryError) {
            this.keepFresh(name, this.timers.get(name)?.backoffMs || RETRY_FIRST_MS);
            throw new CredentialsUnavailableError(`Gatehouse cannot refresh its sign-in to "${name}" right now; it keeps retrying.`, RETRYING_RETRY_AFTER_S);
          }
          const why = err instanceof SignInRequiredError ? '' : ` (${(err as Error).message})`;
          throw new CredentialsUnavailableError(`Sign-in required: sign in to "${name}" in Gatehouse (gatehouse login ${name}, or Sign in in the app)${why}.`, SIGN_IN_RETRY_AFTER_S);
        }
        return headers;
      },
      refusedMessage: (server) =>
        kind === 'oauth'
          ? `The MCP server "${server}" refused Gatehouse's sign-in: sign in again (gatehouse login ${server}).`
          : `The MCP server "${server}" refused ${kind === 'bearer' ? `the bearer token (the keychain secret ${remote.bearerToken})` : 'the request: it needs credentials (add the server with --remote-auth or --remote-auth-bearer-token)'}.`,
      insufficientScope: async (challenged) => {
        if (kind !== 'oauth') return { stepUp: false, message: `The MCP server "${name}" refused the call for want of scope (${challenged.join(' ') || 'unnamed'}); its credentials do not allow it.` };
        const verdict = this.d.tokens.insufficientScope(name, challenged);
        if (verdict === 'step-up') {
          this.d.logs.write({ server: name, source: 'proxy', level: 'warn', message: `The remote server asks for more permission (scope ${challenged.join(' ')}): sign in again to grant it.`, fields: null });
          return { stepUp: true, message: `The MCP server "${name}" asks for more permission (scope ${challenged.join(' ')}): sign in again in Gatehouse to grant it (gatehouse login ${name}, or Sign in in the app).` };
        }
        // Already asked for: another sign-in would only loop (the MCP spec's retry limit).
        return { stepUp: false, message: `The MCP server "${name}" refused the call even though the sign-in asked for the scope it names (${challenged.join(' ')}).` };
      },
      refused: async (attempt) => {
        if (kind === 'oauth') this.d.tokens.refused(name, attempt);
        else if (attempt === 'again') this.d.logs.write({ server: name, source: 'proxy', level: 'warn', message: `The remote server refused ${kind === 'bearer' ? 'the bearer token' : 'the request'} (401).`, fields: null });
      },
    };
  }

  /**
   * Refreshes the sign-in when its access token is due (the store says when), whether or not anyone is calling, and retries a refresh that failed transiently
   * with a doubling delay, so its status is true even when no client is calling.
   */
  private keepFresh(name: string, delayMs: number): void {
    const entry = this.timers.get(name) ?? { timer: undefined, backoffMs: 0 };
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => void this.refreshNow(name), delayMs);
    entry.timer.unref();
    this.timers.set(name, entry);
  }

  private async refreshNow(name: string): Promise<void> {
    const entry = this.timers.get(name);
    if (!entry) return;
    entry.timer = undefined;
    const retryLater = () => {
      entry.backoffMs = Math.min(RETRY_MAX_MS, entry.backoffMs ? entry.backoffMs * 2 : RETRY_FIRST_MS);
      this.keepFresh(name, entry.backoffMs);
    };
    try {
      await this.d.tokens.accessToken(name);
      const st = await this.d.tokens.status(name);
      if (!this.timers.has(name)) return;
      // The refresh failed but the access token still works: still a retry, not a new schedule.
      if (st.state === 'retrying') return retryLater();
      entry.backoffMs = 0;
      if (st.refreshAt !== null) this.keepFresh(name, Math.max(1_000, st.refreshAt - Date.now() + 100));
    } catch (err) {
      if (!(err instanceof RefreshRetryError) || !this.timers.has(name)) return; // needs sign-in: the user acts
      retryLater();
    }
  }

  /**
   * A refresher stops at "needs sign-in", and nothing started it again: after the next sign-in the token
   * expired unseen and the status stayed "running" until a caller came (through a lapsed grant or a
   * forgotten client too). A server that is up and signed in with no refresh scheduled gets one. A
   * sign-out cancels the scheduled one, which would only turn "signed out" into "needs sign-in".
   */
  private async followSignIn(name: string): Promise<void> {
    const entry = this.timers.get(name);
    if (!entry) return;
    const st = await this.d.tokens.status(name);
    if (this.timers.get(name) !== entry) return; // stopped meanwhile
    if (st.state === 'signed-out') {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.backoffMs = 0;
      return;
    }
    if (entry.timer || st.state !== 'signed-in' || st.refreshAt === null) return;
    entry.backoffMs = 0;
    this.keepFresh(name, Math.max(1_000, st.refreshAt - Date.now() + 100));
  }

  private stopKeepingFresh(name: string): void {
    const entry = this.timers.get(name);
    if (entry?.timer) clearTimeout(entry.timer);
    this.timers.delete(name);
  }
}
