import type { ErrorHint } from '../api/contract.js';
import {
  AuthConfigSchema,
  OidcInlineSchema,
  TokenValidator,
  effectiveAuth,
  type AuthConfig,
  type AuthState,
  type OidcInline,
  type ValidatorDeps,
} from '../auth/index.js';
import type { SecretsProvider } from '../secrets/index.js';
import type { ServerRecord, Store } from '../store/index.js';
import { BadRequestError, ConflictError, NotFoundError } from './errors.js';

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** Every URL a client can use for this server's MCP endpoint on this machine. */
export function loopbackResourceUrls(s: Pick<ServerRecord, 'proxyPort' | 'transport'>): string[] {
  const paths = s.transport === 'sse' ? ['/sse'] : s.transport === 'stdio' ? ['/mcp', '/sse'] : ['/mcp'];
  return LOOPBACK_HOSTS.flatMap((h) => paths.map((p) => `http://${h}:${s.proxyPort}${p}`));
}

/**
 * Who may call each server: builds and holds the authentication state of every proxy, and the shared
 * identity-provider profiles. Changing either takes effect on the running proxy at once, without
 * restarting its container; an invalid change is refused and the running settings stay.
 */
export interface AuthBroken {
  failure: string;
}

export class AuthManager {
  private readonly states = new Map<string, AuthState>();
  private readonly broken = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly deps: ValidatorDeps & { secrets: () => SecretsProvider },
  ) {}

  /** What the proxy enforces: settings, a failure (the proxy then refuses everything), or none (local mode). */
  state(server: string): AuthState | AuthBroken | undefined {
    const failure = this.broken.get(server);
    return failure !== undefined ? { failure } : this.states.get(server);
  }

  parse(config: unknown): AuthConfig {
    const parsed = AuthConfigSchema.safeParse(config ?? { type: 'none' });
    if (!parsed.success) throw new BadRequestError(`Invalid authentication settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  /** Builds the state for a server without installing it (throws BadRequestError when it cannot be built). */
  build(s: ServerRecord, config: AuthConfig = this.parse(s.auth)): AuthState | undefined {
    const urls = loopbackResourceUrls(s);
    let eff;
    try {
      eff = effectiveAuth(config, urls[0]!, (name) => this.profile(name));
    } catch (err) {
      throw new BadRequestError((err as Error).message, (err as { hint?: ErrorHint }).hint);
    }
    if (!eff) return undefined;
    const configured = config.type !== 'kubernetes' && (config.type === 'inline' ? config.inline.resourceUrl : this.profile(config.type === 'configMap' ? config.configMap.name : '')?.resourceUrl);
    const resourceUrls = configured ? [configured] : urls;
    const explicitAudience = config.type === 'kubernetes' || (config.type === 'inline' ? config.inline.audience : this.profile(config.type === 'configMap' ? config.configMap.name : '')?.audience);
    const audiences = explicitAudience ? [eff.audience] : resourceUrls;
    const validator = new TokenValidator({ ...eff, audiences, audienceExplicit: Boolean(explicitAudience) }, this.deps);
    return { config: eff, validator, resourceUrls, serverName: s.name };
  }

  /** Installs a server's stored settings (start-up, restore). A broken reference leaves the server closed, not open. */
  install(s: ServerRecord): void {
    try {
      this.swap(s.name, this.build(s));
    } catch (err) {
      this.swap(s.name, undefined);
      this.broken.set(s.name, `Authentication settings cannot be applied: ${(err as Error).message}`);
    }
  }

  installBuilt(name: string, state: AuthState | undefined): void {
    this.swap(name, state);
  }

  /** Changes a server's settings: validated and built first, then stored and swapped in. */
  setServerAuth(name: string, config: unknown): AuthConfig {
    const s = this.store.servers.get(name);
    if (!s) throw new NotFoundError(`No server named "${name}".`);
    const parsed = this.parse(config);
    const next = this.build(s, parsed);
    this.store.servers.setAuth(name, parsed);
    this.swap(name, next);
    return parsed;
  }

  drop(name: string): void {
    this.swap(name, undefined);
  }

  close(): void {
    for (const name of [...this.states.keys()]) this.drop(name);
  }

  // ---- shared profiles ------------------------------------------------------------------

  profile(name: string): OidcInline | undefined {
    const r = this.store.idps.get(name);
    return r ? OidcInlineSchema.parse(r.config) : undefined;
  }

  profiles(): { name: string; config: OidcInline; usedBy: string[]; updatedAt: string }[] {
    return this.store.idps.list().map((r) => ({ name: r.name, config: OidcInlineSchema.parse(r.config), usedBy: this.usersOf(r.name), updatedAt: r.updatedAt }));
  }

  /** Creates or replaces a profile; every server using it switches to the new settings at once. */
  putProfile(name: string, config: unknown): OidcInline {
    if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(name)) throw new BadRequestError(`Invalid profile name "${name}": use lowercase letters, digits, "-", "_" or ".".`);
    const parsed = OidcInlineSchema.safeParse(config);
    if (!parsed.success) throw new BadRequestError(`Invalid identity-provider profile: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.store.idps.upsert(name, parsed.data);
    for (const server of this.usersOf(name)) this.install(this.store.servers.get(server)!);
    return parsed.data;
  }

  removeProfile(name: string): void {
    const users = this.usersOf(name);
    if (users.length > 0) throw new ConflictError(`Profile "${name}" is used by ${users.join(', ')}; point them elsewhere first.`);
    if (!this.store.idps.delete(name)) throw new NotFoundError(`No identity-provider profile named "${name}".`);
  }

  usersOf(profile: string): string[] {
    return this.store.servers
      .list()
      .filter((s) => {
        const a = s.auth as { type?: string; configMap?: { name?: string } } | null;
        return a?.type === 'configMap' && a.configMap?.name === profile;
      })
      .map((s) => s.name);
  }

  private swap(name: string, next: AuthState | undefined): void {
    this.broken.delete(name);
    const old = this.states.get(name);
    // Warm the key cache so the first caller does not wait for discovery and JWKS.
    next?.validator.jwks?.refresh().catch(() => undefined);
    if (next) this.states.set(name, next);
    else this.states.delete(name);
    old?.validator.close();
  }
}
