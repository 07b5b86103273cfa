import { refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { z } from 'zod';
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
  metadata: z.record(z.string(), z.unknown()),
});
type StoredGrant = z.infer<typeof StoredGrantSchema>;

/** The user must sign in again (no grant, or the authorization server refused it): nothing retries this. */
export class SignInRequiredError extends Error {}
/** The authorization server could not answer now (5xx, 429, the network): the refresh is worth retrying. */
export class RefreshRetryError extends Error {}

const EARLY_MS = 60_000;
const TRANSIENT = new Set(['server_error', 'temporarily_unavailable']);

interface Live {
  accessToken: string;
  expiresAt: number;
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

  /** After a sign-in: keeps its grant (a sign-in without a refresh token lasts as long as its access token). */
  async save(server: string, r: SignInResult): Promise<void> {
    if (r.tokens.refresh_token) {
      const grant: StoredGrant = {
        issuer: r.issuer,
        resource: r.resource,
        clientId: r.client.client_id,
        ...(r.client.client_secret ? { clientSecret: r.client.client_secret } : {}),
        refreshToken: r.tokens.refresh_token,
        ...(r.tokens.scope ? { scope: r.tokens.scope } : {}),
        metadata: r.metadata as Record<string, unknown>,
      };
      await this.keychain.set(this.account(server), JSON.stringify(grant));
    }
    this.remember(server, r.tokens);
  }

  /** An access token for the server, refreshed when it is about to expire. */
  async accessToken(server: string): Promise<string> {
    const l = this.live.get(server);
    if (l && l.expiresAt - EARLY_MS > this.now()) return l.accessToken;
    let pending = this.refreshing.get(server);
    if (!pending) {
      pending = this.refresh(server).finally(() => this.refreshing.delete(server));
      this.refreshing.set(server, pending);
    }
    return pending;
  }

  async signedIn(server: string): Promise<boolean> {
    return this.live.has(server) || (await this.keychain.get(this.account(server))) !== null;
  }

  async forget(server: string): Promise<void> {
    this.live.delete(server);
    await this.keychain.delete(this.account(server));
  }

  private remember(server: string, tokens: OAuthTokens): void {
    const expiresIn = typeof tokens.expires_in === 'number' ? tokens.expires_in : 3600;
    this.live.set(server, { accessToken: tokens.access_token, expiresAt: this.now() + expiresIn * 1000 });
  }

  private async refresh(server: string): Promise<string> {
    const raw = await this.keychain.get(this.account(server));
    if (raw === null) {
      this.live.delete(server);
      throw new SignInRequiredError(`Sign in to ${server} first.`);
    }
    const parsed = StoredGrantSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) throw new SignInRequiredError(`The stored sign-in of ${server} is unreadable; sign in again.`);
    const g = parsed.data;
    let tokens: OAuthTokens;
    try {
      tokens = await refreshAuthorization(g.issuer, {
        metadata: g.metadata as AuthorizationServerMetadata,
        clientInformation: { client_id: g.clientId, ...(g.clientSecret ? { client_secret: g.clientSecret } : {}) },
        refreshToken: g.refreshToken,
        resource: new URL(g.resource),
        ...(this.opts.fetchFn ? { fetchFn: this.opts.fetchFn } : {}),
      });
    } catch (err) {
      // An OAuth error answer (invalid_grant, invalid_client, ...) ends the grant. The SDK turns a 5xx,
      // a 429 or a body that is no OAuth error into server_error: those, and the network, may pass.
      if (err instanceof OAuthError && !TRANSIENT.has(err.errorCode)) {
        this.live.delete(server);
        throw new SignInRequiredError(`The sign-in of ${server} ended (${err.errorCode}); sign in again.`);
      }
      throw new RefreshRetryError(`Could not refresh the sign-in of ${server} now: ${(err as Error).message}`);
    }
    if (tokens.refresh_token && tokens.refresh_token !== g.refreshToken) {
      // Stored before use: a rotation the keychain did not keep must not be acted on.
      await this.keychain.set(this.account(server), JSON.stringify({ ...g, refreshToken: tokens.refresh_token }));
    }
    this.remember(server, tokens);
    return tokens.access_token;
  }
}
