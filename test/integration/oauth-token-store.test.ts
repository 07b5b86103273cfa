import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthTokenStore, RefreshRetryError, signIn, SignInRequiredError, type SignInResult } from '../../src/oauth/index.js';
import { OsKeychain } from '../../src/secrets/index.js';
import { launchBrowser } from '../support/browser.js';
import { signInAtTestIdp } from '../support/idp-login.js';
import { startPrivateKeyring, type PrivateKeyring } from '../support/keyring.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';

/**
 * Tokens of a sign-in kept across restarts and refreshed: the refresh token in a real keychain (a
 * private GNOME keyring), access tokens of 5 seconds from a real oidc-provider that rotates refresh
 * tokens, and many callers at once.
 */
describe('the sign-in token store', () => {
  let idp: TestIdp;
  let browser: Browser;
  let keyring: PrivateKeyring;
  let signedIn: SignInResult;
  const resource = 'http://127.0.0.1:18998/mcp';
  const signInAsDana = () =>
    signIn({
      serverUrl: resource,
      issuer: idp.issuer,
      client: { clientId: idp.clients.native.clientId, redirectUri: idp.clients.native.redirectUri },
      scopes: ['openid', 'offline_access'],
      openUrl: (url) => signInAtTestIdp(browser, url, { login: 'dana' }),
    });

  beforeAll(async () => {
    idp = await startTestIdp({ accessTokenTTL: 5 });
    browser = await launchBrowser();
    keyring = await startPrivateKeyring();
    signedIn = await signInAsDana();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await keyring?.stop();
    await idp?.stop();
  });

  it('refreshes an expiring token once for many callers, keeps the rotated refresh token, and survives a restart', async () => {
    const kc = new OsKeychain('Gatehouse', 10_000, keyring.env);
    const store = new OAuthTokenStore(kc);
    await store.save('remote', signedIn);
    const stored = JSON.parse((await kc.get('gatehouse:oauth:remote'))!) as { refreshToken: string };
    expect(stored.refreshToken).toBe(signedIn.tokens.refresh_token);
    // A 5-second token is refreshed half-way through its life: past that, twenty callers, one refresh, one token.
    await new Promise((r) => setTimeout(r, 2_700));
    const tokens = await Promise.all(Array.from({ length: 20 }, () => store.accessToken('remote')));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(signedIn.tokens.access_token);
    expect(decodeJwt(tokens[0]!)).toMatchObject({ sub: 'dana', aud: resource });
    const rotated = JSON.parse((await kc.get('gatehouse:oauth:remote'))!) as { refreshToken: string };
    expect(rotated.refreshToken).not.toBe(stored.refreshToken);

    // A restart: a new store over the same keychain, nothing in memory, and the grant still works.
    const again = new OAuthTokenStore(new OsKeychain('Gatehouse', 10_000, keyring.env));
    expect(await again.signedIn('remote')).toBe(true);
    expect(decodeJwt(await again.accessToken('remote'))).toMatchObject({ sub: 'dana' });
  });

  it('needs a sign-in when there is none or the grant is gone, and retries when the server is down', async () => {
    const kc = new OsKeychain('Gatehouse', 10_000, keyring.env);
    const store = new OAuthTokenStore(kc);
    await expect(store.accessToken('never-signed-in')).rejects.toThrow(SignInRequiredError);
    // A refresh token the IdP does not know: invalid_grant.
    await store.save('revoked', { ...signedIn, tokens: { ...signedIn.tokens, refresh_token: 'not-a-real-refresh-token', expires_in: 0 } });
    await expect(store.accessToken('revoked')).rejects.toThrow(SignInRequiredError);
    // The authorization server answers 503: worth retrying, the grant is kept.
    const down = new OAuthTokenStore(kc, { fetchFn: async () => new Response('busy', { status: 503 }) });
    await down.save('flaky', { ...signedIn, tokens: { ...signedIn.tokens, refresh_token: 'kept', expires_in: 0 } });
    await expect(down.accessToken('flaky')).rejects.toThrow(RefreshRetryError);
    expect(JSON.parse((await kc.get('gatehouse:oauth:flaky'))!)).toMatchObject({ refreshToken: 'kept' });
    await down.forget('flaky');
    expect(await kc.get('gatehouse:oauth:flaky')).toBeNull();
  });

  it('fails closed when the keychain cannot keep a rotated refresh token: the new access token is not used', async () => {
    const fresh = await signInAsDana();
    const real = new OsKeychain('Gatehouse', 10_000, keyring.env);
    let failWrites = false;
    const kc = {
      get: (a: string) => real.get(a),
      delete: (a: string) => real.delete(a),
      accounts: () => real.accounts(),
      set: async (a: string, v: string) => {
        if (failWrites) throw new Error('the keychain is locked');
        await real.set(a, v);
      },
    };
    const store = new OAuthTokenStore(kc);
    await store.save('locked', { ...fresh, tokens: { ...fresh.tokens, expires_in: 0 } });
    const before = JSON.parse((await real.get('gatehouse:oauth:locked'))!) as { refreshToken: string };
    failWrites = true;
    const err = await store.accessToken('locked').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignInRequiredError);
    expect(String(err)).toMatch(/keychain could not keep/);
    // Nothing was used that was not stored: no token is handed out, and the state says to sign in.
    await expect(store.accessToken('locked')).rejects.toThrow(SignInRequiredError);
    expect((await store.status('locked')).state).toBe('needs-sign-in');
    expect(JSON.parse((await real.get('gatehouse:oauth:locked'))!).refreshToken).toBe(before.refreshToken);
  });
});
