import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AUTH_SERVER_PATHS } from '../../src/authserver/index.js';
import { AuthServerRig, consentForm, pkce, type FlowEnd, type Hop, type UserAgent } from '../support/authserver-rig.js';
import { startBrokenIdp, type BrokenIdp, type IdTokenFlaw } from '../support/broken-idp.js';
import { startPrivateKeyring, type PrivateKeyring } from '../support/keyring.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';

/**
 * Checklist rows B1–B26 of shared/reference/mcp-auth.md §7 (the embedded authorization server), one
 * `B<n>` test (or describe) per row, against the real engine: oidc-provider at ToolHive's paths,
 * Gatehouse's consent page and upstream login (UpstreamInteractions), keys and records in a real
 * keychain and SQLite file, and a real upstream OpenID provider (oidc-provider with devInteractions,
 * driven over HTTP). B26 uses an upstream that issues deliberately broken ID tokens. B23 (Client ID
 * Metadata Documents) is in authserver-clients.test.ts, with the real clients' registrations.
 */

const RS_A = 'http://127.0.0.1:47101/mcp';
const RS_B = 'http://127.0.0.1:47102/mcp';
const UNKNOWN_RS = 'http://127.0.0.1:47199/mcp';
/** The main client: a loopback redirect registered with its port. */
const CB = 'http://127.0.0.1:53100/cb';

let keyring: PrivateKeyring;

beforeAll(async () => {
  keyring = await startPrivateKeyring();
});
afterAll(async () => {
  await keyring?.stop();
});

const at = (end: FlowEnd): URL => {
  if (!end.redirect) throw new Error(`expected a redirect to the client, got a page: ${end.page.url.href} HTTP ${end.page.status} ${end.page.body.slice(0, 300)}`);
  return end.redirect;
};
/** Where a URL points, without its query and fragment. */
const target = (u: URL) => `${u.origin}${u.pathname}`;
const isRedirect = (status: number) => status >= 300 && status < 400;

interface ParsedCookie {
  name: string;
  value: string;
  attrs: Map<string, string>;
}
function parseSetCookie(line: string): ParsedCookie {
  const [pair = '', ...rest] = line.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const attrs = new Map<string, string>();
  for (const a of rest) {
    const i = a.indexOf('=');
    attrs.set((i < 0 ? a : a.slice(0, i)).toLowerCase(), i < 0 ? '' : a.slice(i + 1));
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs };
}

describe('the embedded authorization server against checklist rows B1–B26 (mcp-auth.md §7)', () => {
  let idp: TestIdp;
  let rig: AuthServerRig;
  const audiences = [RS_A, RS_B];
  let client: string;

  beforeAll(async () => {
    idp = await startTestIdp({ registration: true });
    rig = await AuthServerRig.start({
      keyring,
      audiences,
      upstream: async (callbackUrl) => {
        const reg = await registerConfidentialClient(idp, { name: 'Gatehouse', redirectUri: callbackUrl });
        return { issuerUrl: idp.issuer, clientId: reg.client_id, clientSecret: reg.client_secret };
      },
    });
    client = await rig.client([CB], { client_name: 'Checklist MCP client' });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
    await idp?.stop();
  });

  /** A code for the main client and RS_A, redeemed: the token answer. */
  const tokensFor = async (clientId = client, redirectUri = CB, resource = RS_A) => {
    const s = await rig.signIn({ clientId, redirectUri, resource });
    const t = await rig.redeem({ clientId, code: s.code, verifier: s.verifier, redirectUri, resource });
    expect(t.status, JSON.stringify(t.json)).toBe(200);
    return t;
  };

  it('B1: a code redeemed twice: the second gets invalid_grant, and the tokens of the first are revoked', async () => {
    const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    const first = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: RS_A });
    expect(first.status).toBe(200);
    const rt = first.json['refresh_token'];
    expect(typeof rt).toBe('string');
    const second = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: RS_A });
    expect(second.status).toBe(400);
    expect(second.json['error']).toBe('invalid_grant');
    expect(second.json['access_token']).toBeUndefined();
    // The grant of the first redemption is gone: its refresh token refreshes no more.
    const r = await rig.refresh({ clientId: client, refreshToken: String(rt), resource: RS_A });
    expect(r.status).toBe(400);
    expect(r.json['error']).toBe('invalid_grant');
  });

  it('B2: a code redeemed after its lifetime (≤ 10 min) gets invalid_grant; within it, it works', async () => {
    const ttl = rig.settings.lifespans.authCodeMs;
    expect(ttl).toBeGreaterThanOrEqual(30_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
    const early = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    const late = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    const issuedAt = Date.now();
    // oidc-provider reads the time from Date at each request: move it, for the engine only (timers stay real).
    vi.useFakeTimers({ toFake: ['Date'], now: issuedAt + ttl - 60_000 });
    try {
      const ok = await rig.redeem({ clientId: client, code: early.code, verifier: early.verifier, redirectUri: CB, resource: RS_A });
      expect(ok.status, JSON.stringify(ok.json)).toBe(200);
      vi.setSystemTime(issuedAt + ttl + 5_000);
      const expired = await rig.redeem({ clientId: client, code: late.code, verifier: late.verifier, redirectUri: CB, resource: RS_A });
      expect(expired.status).toBe(400);
      expect(expired.json['error']).toBe('invalid_grant');
      expect(expired.json['access_token']).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it("B3: client A's code redeemed as client B gets invalid_grant", async () => {
    const cbB = 'http://127.0.0.1:53110/cb';
    const other = await rig.client([cbB], { client_name: 'Client B' });
    const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    for (const redirectUri of [CB, cbB]) {
      const stolen = await rig.redeem({ clientId: other, code: s.code, verifier: s.verifier, redirectUri, resource: RS_A });
      expect(stolen.status, redirectUri).toBe(400);
      expect(stolen.json['error'], redirectUri).toBe('invalid_grant');
      expect(stolen.json['access_token']).toBeUndefined();
    }
  });

  describe('B4: redirect_uri must match exactly; a mismatch is an error shown at the authorization server, never a redirect', () => {
    const WEB = 'https://app.example.com/cb';
    let webClient: string;
    beforeAll(async () => {
      webClient = await rig.client([WEB], { client_name: 'Web client' });
    });

    const webVariants: [string, string][] = [
      ['a longer path', 'https://app.example.com/cb/x'],
      ['a query added', 'https://app.example.com/cb?x=1'],
      ['the path in another case', 'https://app.example.com/CB'],
      ['a trailing slash', 'https://app.example.com/cb/'],
      ['http instead of https', 'http://app.example.com/cb'],
      ['a userinfo trick (host evil.example)', 'https://app.example.com@evil.example/cb'],
      ['userinfo added', 'https://evil.example@app.example.com/cb'],
      ['a fragment', 'https://app.example.com/cb#frag'],
      ['another host', 'https://evil.example/cb'],
      ['a host suffix', 'https://app.example.com.evil.example/cb'],
      ['an explicit port', 'https://app.example.com:8443/cb'],
    ];
    it.each(webVariants)('B4: web client registered %s → %s is refused at the AS', async (_what, variant) => {
      const { url } = rig.authorizeUrl({ clientId: webClient, redirectUri: variant, resource: RS_A });
      const res = await fetch(url, { redirect: 'manual' });
      const body = await res.text();
      expect(isRedirect(res.status), `HTTP ${res.status} to ${res.headers.get('location')}`).toBe(false);
      expect(res.headers.get('location')).toBeNull();
      expect(res.status).toBe(400);
      expect((JSON.parse(body) as { error?: string }).error).toMatch(/^invalid_(redirect_uri|request)$/);
    });

    const loopbackVariants: [string, string][] = [
      ['a longer path', 'http://127.0.0.1:53100/cb/x'],
      ['a query added', 'http://127.0.0.1:53100/cb?x=1'],
      ['the path in another case', 'http://127.0.0.1:53100/CB'],
      ['https instead of http', 'https://127.0.0.1:53100/cb'],
      ['a userinfo trick (host evil.example)', 'http://127.0.0.1:53100@evil.example/cb'],
      ['userinfo added', 'http://evil.example@127.0.0.1:53100/cb'],
      ['a fragment', 'http://127.0.0.1:53100/cb#frag'],
      ['another host', 'http://evil.example:53100/cb'],
      ['another port and another path', 'http://127.0.0.1:53999/cb2'],
    ];
    it.each(loopbackVariants)('B4: loopback client registered http://127.0.0.1:53100/cb, %s → %s is refused at the AS', async (_what, variant) => {
      const { url } = rig.authorizeUrl({ clientId: client, redirectUri: variant, resource: RS_A });
      const res = await fetch(url, { redirect: 'manual' });
      const body = await res.text();
      expect(isRedirect(res.status), `HTTP ${res.status} to ${res.headers.get('location')}`).toBe(false);
      expect(res.headers.get('location')).toBeNull();
      expect(res.status).toBe(400);
      expect((JSON.parse(body) as { error?: string }).error).toMatch(/^invalid_(redirect_uri|request)$/);
    });

    it('B4: the registered URI itself is accepted (the control)', async () => {
      const { url } = rig.authorizeUrl({ clientId: webClient, redirectUri: WEB, resource: RS_A });
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(303);
      expect(new URL(res.headers.get('location')!, rig.issuer).pathname).toMatch(/^\/oauth\/interaction\//);
    });
  });

  describe('B5: a loopback client may use any port (RFC 8252 §7.3), but localhost and 127.0.0.1 are not interchangeable', () => {
    it('B5: registered http://127.0.0.1/cb (no port): a sign-in at :53123 gets its code there, and redeems it', async () => {
      const noPort = await rig.client(['http://127.0.0.1/cb']);
      const redirectUri = 'http://127.0.0.1:53123/cb';
      const s = await rig.signIn({ clientId: noPort, redirectUri, resource: RS_A });
      expect(target(s.redirect)).toBe(redirectUri);
      const t = await rig.redeem({ clientId: noPort, code: s.code, verifier: s.verifier, redirectUri, resource: RS_A });
      expect(t.status, JSON.stringify(t.json)).toBe(200);
    });

    it('B5: registered http://127.0.0.1:4000/cb: a sign-in at :53124 gets its code there', async () => {
      const withPort = await rig.client(['http://127.0.0.1:4000/cb']);
      const s = await rig.signIn({ clientId: withPort, redirectUri: 'http://127.0.0.1:53124/cb', resource: RS_A });
      expect(target(s.redirect)).toBe('http://127.0.0.1:53124/cb');
    });

    it('B5: registered http://127.0.0.1/cb: http://localhost:53123/cb and http://[::1]:53123/cb are refused at the AS', async () => {
      const noPort = await rig.client(['http://127.0.0.1/cb']);
      for (const swapped of ['http://localhost:53123/cb', 'http://localhost/cb', 'http://[::1]:53123/cb']) {
        const { url } = rig.authorizeUrl({ clientId: noPort, redirectUri: swapped, resource: RS_A });
        const res = await fetch(url, { redirect: 'manual' });
        expect(res.status, swapped).toBe(400);
        expect(res.headers.get('location'), swapped).toBeNull();
        expect(((await res.json()) as { error: string }).error).toBe('invalid_redirect_uri');
      }
    });

    it('B5: registered http://localhost/cb: http://127.0.0.1:53125/cb is refused, http://localhost:53125/cb is allowed', async () => {
      const localhost = await rig.client(['http://localhost/cb']);
      const refused = await fetch(rig.authorizeUrl({ clientId: localhost, redirectUri: 'http://127.0.0.1:53125/cb', resource: RS_A }).url, { redirect: 'manual' });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('location')).toBeNull();
      await refused.arrayBuffer();
      const s = await rig.signIn({ clientId: localhost, redirectUri: 'http://localhost:53125/cb', resource: RS_A });
      expect(target(s.redirect)).toBe('http://localhost:53125/cb');
    });
  });

  it("B6: a token request whose redirect_uri differs from the authorization request's gets invalid_grant", async () => {
    const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    for (const other of ['http://127.0.0.1:53101/cb', 'http://127.0.0.1:53100/other', 'http://localhost:53100/cb']) {
      const t = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: other, resource: RS_A });
      expect(t.status, other).toBe(400);
      expect(t.json['error'], other).toBe('invalid_grant');
    }
    // A port-agnostic client that signed in on another port than the one it registered cannot leave redirect_uri out.
    const noPort = await rig.client(['http://127.0.0.1/cb']);
    const p = await rig.signIn({ clientId: noPort, redirectUri: 'http://127.0.0.1:53126/cb', resource: RS_A });
    const omitted = await rig.token({ grant_type: 'authorization_code', client_id: noPort, code: p.code, code_verifier: p.verifier, resource: RS_A });
    expect(omitted.status).toBe(400);
    expect(omitted.json['error']).toBe('invalid_grant');
    // The code was good: with its own redirect_uri it redeems.
    const ok = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: RS_A });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
  });

  it('B7: an authorization request without code_challenge gets invalid_request (with iss) and no code', async () => {
    const ua = rig.browser();
    const { url, state } = rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: RS_A, challenge: null });
    const back = at(await ua.follow(url));
    expect(target(back)).toBe(CB);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('code')).toBeNull();
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(rig.issuer);
    // Refused at once: no consent page, no upstream.
    expect(ua.hops).toHaveLength(1);
  });

  it('B8: code_challenge_method=plain is refused, and the metadata lists S256 only', async () => {
    const { verifier } = pkce();
    const ua = rig.browser();
    const back = at(await ua.follow(rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: RS_A, challenge: verifier, method: 'plain' }).url));
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('code')).toBeNull();
    const m = (await (await fetch(rig.url('/.well-known/oauth-authorization-server'))).json()) as Record<string, unknown>;
    expect(m['code_challenge_methods_supported']).toEqual(['S256']);
  });

  it('B9: PKCE downgrade: no code is issued without a challenge, and a code with one is not redeemed without its verifier', async () => {
    // The downgrade needs a code issued without a challenge: there is none (B7), with or without a method.
    for (const method of [null, 'S256']) {
      const back = at(await rig.browser().follow(rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: RS_A, challenge: null, method }).url));
      expect(back.searchParams.get('error'), String(method)).toBe('invalid_request');
      expect(back.searchParams.get('code')).toBeNull();
    }
    const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    const t = await rig.redeem({ clientId: client, code: s.code, redirectUri: CB, resource: RS_A });
    expect(t.status).toBe(400);
    expect(t.json['error']).toBe('invalid_grant');
    expect(t.json['access_token']).toBeUndefined();
  });

  it('B10: a valid code with the wrong verifier gets invalid_grant', async () => {
    const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    const wrong = await rig.redeem({ clientId: client, code: s.code, verifier: pkce().verifier, redirectUri: CB, resource: RS_A });
    expect(wrong.status).toBe(400);
    expect(wrong.json['error']).toBe('invalid_grant');
    expect(wrong.json['access_token']).toBeUndefined();
  });

  it('B10: a valid code with a verifier outside RFC 7636 §4.1 (too short, too long, other characters) gets invalid_grant too', async () => {
    const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    for (const verifier of [s.verifier.slice(0, 20), s.verifier.repeat(4).slice(0, 129), `${s.verifier.slice(0, 42)}+`]) {
      const bad = await rig.redeem({ clientId: client, code: s.code, verifier, redirectUri: CB, resource: RS_A });
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
    }
    // None of them used the code up: the right verifier still redeems it once.
    expect((await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: RS_A })).json['access_token']).toEqual(expect.any(String));
  });

  describe('B11: errors about the client or its redirect are shown at the authorization server, never redirected', () => {
    const evil = 'https://evil.example/cb';
    const cases: [string, () => URL][] = [
      ['an unknown client_id', () => rig.authorizeUrl({ clientId: 'no-such-client', redirectUri: evil, resource: RS_A }).url],
      ['an unknown client_id with a loopback redirect', () => rig.authorizeUrl({ clientId: 'no-such-client', redirectUri: CB, resource: RS_A }).url],
      ['a bad redirect_uri and no code_challenge', () => rig.authorizeUrl({ clientId: client, redirectUri: evil, resource: RS_A, challenge: null }).url],
      ['a bad redirect_uri and response_type=token', () => rig.authorizeUrl({ clientId: client, redirectUri: evil, resource: RS_A, extra: { response_type: 'token' } }).url],
      ['a bad redirect_uri and an unknown resource', () => rig.authorizeUrl({ clientId: client, redirectUri: evil, resource: UNKNOWN_RS }).url],
      ['a bad redirect_uri and prompt=none', () => rig.authorizeUrl({ clientId: client, redirectUri: evil, resource: RS_A, extra: { prompt: 'none' } }).url],
      ['a bad redirect_uri and code_challenge_method=plain', () => rig.authorizeUrl({ clientId: client, redirectUri: evil, resource: RS_A, challenge: pkce().verifier, method: 'plain' }).url],
    ];
    it.each(cases)('B11: %s → an error at the AS', async (_what, make) => {
      const res = await fetch(make(), { redirect: 'manual' });
      const body = await res.text();
      expect(isRedirect(res.status), `HTTP ${res.status} to ${res.headers.get('location')}`).toBe(false);
      expect(res.headers.get('location')).toBeNull();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect((JSON.parse(body) as { error?: string }).error).toMatch(/^invalid_(client|redirect_uri|request)$/);
    });

    it("B11: Gatehouse's own endpoints (upstream callback, interactions) answer a stray request with a page, not a redirect", async () => {
      for (const u of [
        rig.url(`${AUTH_SERVER_PATHS.callback}?error=access_denied&state=forged&redirect_uri=${encodeURIComponent(evil)}`),
        rig.url(`${AUTH_SERVER_PATHS.interaction}/forged-uid`),
        rig.url(`${AUTH_SERVER_PATHS.interaction}/forged-uid/done`),
      ]) {
        const res = await fetch(u, { redirect: 'manual' });
        await res.arrayBuffer();
        expect(res.status, u).toBe(400);
        expect(res.headers.get('location'), u).toBeNull();
      }
    });
  });

  it('B12: every authorization response carries iss = the issuer (codes and errors), and the metadata says so', async () => {
    const m = (await (await fetch(rig.url('/.well-known/oauth-authorization-server'))).json()) as Record<string, unknown>;
    expect(m['authorization_response_iss_parameter_supported']).toBe(true);
    const ok = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    expect(ok.redirect.searchParams.get('iss')).toBe(rig.issuer);
    const errors: [string, FlowEnd][] = [
      ['invalid_request', await rig.browser().follow(rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: RS_A, challenge: null }).url)],
      ['invalid_target', await rig.browser().follow(rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: UNKNOWN_RS }).url)],
      ['unsupported_response_type', await rig.browser().follow(rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: RS_A, extra: { response_type: 'token' } }).url)],
      ['access_denied', await rig.browser().follow(rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: RS_B, scope: 'openid email' }).url, { consent: 'deny' })],
    ];
    for (const [error, end] of errors) {
      const back = at(end);
      expect(target(back), error).toBe(CB);
      // response_type=token asks for the fragment response mode, and its error comes back in the fragment.
      const params = back.hash ? new URLSearchParams(back.hash.slice(1)) : back.searchParams;
      expect(params.get('error'), error).toBe(error);
      expect(params.get('iss'), error).toBe(rig.issuer);
      expect(params.get('code'), error).toBeNull();
    }
  });

  it('B13: each refresh returns a new refresh token, and the one it replaced is invalid', async () => {
    const t = await tokensFor();
    const rt1 = String(t.json['refresh_token']);
    const r2 = await rig.refresh({ clientId: client, refreshToken: rt1, resource: RS_A });
    expect(r2.status, JSON.stringify(r2.json)).toBe(200);
    const rt2 = String(r2.json['refresh_token']);
    expect(rt2).not.toBe(rt1);
    const r3 = await rig.refresh({ clientId: client, refreshToken: rt2, resource: RS_A });
    expect(r3.status, JSON.stringify(r3.json)).toBe(200);
    const rt3 = String(r3.json['refresh_token']);
    expect(new Set([rt1, rt2, rt3]).size).toBe(3);
    const old = await rig.refresh({ clientId: client, refreshToken: rt2, resource: RS_A });
    expect(old.status).toBe(400);
    expect(old.json['error']).toBe('invalid_grant');
  });

  it('B14: a rotated refresh token used again gets invalid_grant, and revokes the one that replaced it (the family)', async () => {
    const t = await tokensFor();
    const rt1 = String(t.json['refresh_token']);
    const r2 = await rig.refresh({ clientId: client, refreshToken: rt1, resource: RS_A });
    expect(r2.status).toBe(200);
    const rt2 = String(r2.json['refresh_token']);
    const replay = await rig.refresh({ clientId: client, refreshToken: rt1, resource: RS_A });
    expect(replay.status).toBe(400);
    expect(replay.json['error']).toBe('invalid_grant');
    const family = await rig.refresh({ clientId: client, refreshToken: rt2, resource: RS_A });
    expect(family.status).toBe(400);
    expect(family.json['error']).toBe('invalid_grant');
  });

  it("B15: a refresh token is bound to its client and its resource: another client's gets invalid_grant, another resource invalid_target", async () => {
    const other = await rig.client(['http://127.0.0.1:53111/cb'], { client_name: 'Client C' });
    const stolen = await rig.refresh({ clientId: other, refreshToken: String((await tokensFor()).json['refresh_token']), resource: RS_A });
    expect(stolen.status).toBe(400);
    expect(stolen.json['error']).toBe('invalid_grant');
    expect(stolen.json['access_token']).toBeUndefined();
    // RS_B is a server this authorization server serves, but not one this grant is for; the other one it does
    // not serve at all. A refused refresh does not spend the token: the client's retry is no reuse.
    const refreshToken = String((await tokensFor()).json['refresh_token']);
    for (const resource of [RS_B, UNKNOWN_RS]) {
      const elsewhere = await rig.refresh({ clientId: client, refreshToken, resource });
      expect(elsewhere.status, resource).toBe(400);
      expect(elsewhere.json['error'], resource).toBe('invalid_target');
      expect(elsewhere.json['access_token']).toBeUndefined();
    }
    const retried = await rig.refresh({ clientId: client, refreshToken, resource: RS_A });
    expect(retried.status, JSON.stringify(retried.json)).toBe(200);
    expect(retried.json['refresh_token']).not.toBe(refreshToken);
  });

  describe('B16: access tokens are for exactly the resource asked for; an unknown one gets invalid_target', () => {
    const verify = async (token: unknown, audience: string) => {
      const { payload } = await jwtVerify(String(token), createRemoteJWKSet(new URL(rig.url(AUTH_SERVER_PATHS.jwks))), { issuer: rig.issuer, audience });
      return payload;
    };

    it('B16: resource=X gives aud=X exactly, for each of two servers, at the token endpoint and on refresh', async () => {
      for (const resource of [RS_A, RS_B]) {
        const t = await tokensFor(client, CB, resource);
        expect((await verify(t.json['access_token'], resource))['aud'], resource).toBe(resource);
        const r = await rig.refresh({ clientId: client, refreshToken: String(t.json['refresh_token']), resource });
        expect(r.status).toBe(200);
        expect((await verify(r.json['access_token'], resource))['aud']).toBe(resource);
      }
    });

    it('B16: an unknown resource gets invalid_target, at the authorization and at the token endpoint', async () => {
      const back = at(await rig.browser().follow(rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: UNKNOWN_RS }).url));
      expect(back.searchParams.get('error')).toBe('invalid_target');
      expect(back.searchParams.get('code')).toBeNull();
      const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
      const t = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: UNKNOWN_RS });
      expect(t.status).toBe(400);
      expect(t.json['error']).toBe('invalid_target');
    });

    it('B16: a code for X redeemed for another server Y gets invalid_target', async () => {
      const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
      const t = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: RS_B });
      expect(t.status).toBe(400);
      expect(t.json['error']).toBe('invalid_target');
      expect(t.json['access_token']).toBeUndefined();
    });

    it('B16: no resource with a single server: the token is for that server', async () => {
      const saved = audiences.splice(0, audiences.length, RS_A);
      try {
        const s = await rig.signIn({ clientId: client, redirectUri: CB });
        const t = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB });
        expect(t.status, JSON.stringify(t.json)).toBe(200);
        expect((await verify(t.json['access_token'], RS_A))['aud']).toBe(RS_A);
      } finally {
        audiences.splice(0, audiences.length, ...saved);
      }
    });

    it('B16: no resource with several servers: refused with invalid_target (there is no default to guess)', async () => {
      const ua = rig.browser();
      const { url } = rig.authorizeUrl({ clientId: client, redirectUri: CB });
      const back = at(await ua.follow(url));
      expect(back.searchParams.get('code')).toBeNull();
      expect(back.searchParams.get('error')).toBe('invalid_target');
      expect(back.searchParams.get('error_description')).toMatch(/Say which server/);
      expect(back.searchParams.get('iss')).toBe(rig.issuer);
    });
  });

  describe('B17: the confused deputy: a new client gets the consent page before any redirect upstream, and a denial gives no code', () => {
    const ATTACKER = 'https://attacker.example/cb';
    let signedIn: UserAgent;

    beforeAll(async () => {
      // The user signed in once (Gatehouse's session and the upstream's are both open in this browser).
      signedIn = (await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A })).ua;
    });

    const crafted = async (ua: UserAgent, stranger: string) => {
      const from = ua.hops.length;
      const { url } = rig.authorizeUrl({ clientId: stranger, redirectUri: ATTACKER, resource: RS_A });
      const end = await ua.follow(url, { consent: 'stop' });
      const hops = ua.hops.slice(from);
      expect(end.page, `no consent page: ${hops.map((h) => `${h.status} ${h.location ?? h.url}`).join(' → ')}`).toBeDefined();
      const page = end.page!;
      expect(page.status).toBe(200);
      expect(page.url.origin).toBe(rig.issuer);
      expect(page.url.pathname).toMatch(/^\/oauth\/interaction\/[^/]+$/);
      expect(page.body).toContain('Allow Totally Legit Helper');
      expect(page.body).toContain('attacker.example');
      // Nothing went upstream, nothing went to the attacker, before the user decided.
      expect(hops.filter((h) => new URL(h.url).origin !== rig.issuer)).toEqual([]);
      expect(hops.filter((h) => h.location && new URL(h.location).origin !== rig.issuer)).toEqual([]);
      // The user denies: the attacker gets access_denied, no code.
      const form = consentForm(page.body)!;
      const denied = await ua.send(new URL(form.action, page.url), { method: 'POST', form: new URLSearchParams({ csrf: form.csrf, decision: 'deny' }) });
      expect(denied.status).toBe(303);
      const back = at(await ua.follow(new URL(denied.headers.get('location')!, page.url)));
      expect(target(back)).toBe(ATTACKER);
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('code')).toBeNull();
      expect(ua.hops.slice(from).filter((h) => new URL(h.url).origin === rig.upstreamOrigin)).toEqual([]);
    };

    it("B17: with Gatehouse's and the upstream's sessions open", async () => {
      const stranger = await rig.client([ATTACKER], { client_name: 'Totally Legit Helper' });
      await crafted(signedIn, stranger);
    });

    it("B17: with only the upstream's session open (its consent would be silent)", async () => {
      const ua = signedIn.withCookiesOf(rig.upstreamOrigin);
      expect(ua.cookie(rig.upstreamOrigin, '_session'), 'the upstream session of the earlier sign-in').toBeTruthy();
      expect(ua.cookie(rig.issuer, '_session')).toBeUndefined();
      const stranger = await rig.client([ATTACKER], { client_name: 'Totally Legit Helper' });
      await crafted(ua, stranger);
    });
  });

  describe('B18: the upstream callback needs the state of a sign-in under way: missing, mismatched, replayed or older than 10 min is refused', () => {
    const CALLBACK = () => rig.url(AUTH_SERVER_PATHS.callback);
    /** A sign-in up to the upstream's redirect back to /oauth/callback (not followed): the browser and that URL. */
    const upToCallback = async () => {
      const ua = rig.browser();
      const { url } = rig.authorizeUrl({ clientId: client, redirectUri: CB, resource: RS_A });
      const end = await ua.follow(url, { stopAt: (u) => u.href.startsWith(CALLBACK()) || ![rig.issuer, rig.upstreamOrigin].includes(u.origin) });
      const cb = at(end);
      expect(target(cb)).toBe(CALLBACK());
      expect(cb.searchParams.get('code')).toBeTruthy();
      expect(cb.searchParams.get('state')).toBeTruthy();
      return { ua, cb };
    };
    const refused = async (ua: UserAgent, u: URL, what: string) => {
      const res = await ua.send(u);
      const body = await res.text();
      expect(res.status, what).toBe(400);
      expect(res.headers.get('location'), what).toBeNull();
      expect(body, what).toContain('does not belong to a sign-in under way');
    };
    const finishes = async (ua: UserAgent, cb: URL) => {
      const back = at(await ua.follow(cb));
      expect(target(back)).toBe(CB);
      expect(back.searchParams.get('code')).toBeTruthy();
    };

    it('B18: without state, or with a state nobody issued: refused (and the real answer still works after)', async () => {
      const { ua, cb } = await upToCallback();
      const noState = new URL(cb);
      noState.searchParams.delete('state');
      await refused(ua, noState, 'no state');
      const emptyState = new URL(cb);
      emptyState.searchParams.set('state', '');
      await refused(ua, emptyState, 'empty state');
      const wrong = new URL(cb);
      wrong.searchParams.set('state', `${cb.searchParams.get('state')!.slice(0, -2)}xx`);
      await refused(ua, wrong, 'a mismatched state');
      await finishes(ua, cb);
    });

    it("B18: another sign-in's state, answered in a browser that is not in that sign-in, gives it no code", async () => {
      const a = await upToCallback();
      const b = await upToCallback();
      const end = await a.ua.follow(b.cb);
      expect(end.redirect?.searchParams.get('code') ?? null, 'no code for a browser that is not in that sign-in').toBeNull();
      await a.ua.follow(a.cb).then((e) => expect(at(e).searchParams.get('code')).toBeTruthy());
    });

    it('B18: a state is single use: the same answer replayed is refused and gives no second code', async () => {
      const { ua, cb } = await upToCallback();
      await finishes(ua, cb);
      await refused(ua, cb, 'a replayed state');
      await refused(rig.browser(), cb, 'a replayed state in another browser');
    });

    it('B18: a state older than 10 minutes is refused; one 9 minutes old still works', async () => {
      try {
        const young = await upToCallback();
        rig.skewMs = 9 * 60_000;
        await finishes(young.ua, young.cb);
        rig.skewMs = 0;
        const old = await upToCallback();
        rig.skewMs = 10 * 60_000 + 1_000;
        await refused(old.ua, old.cb, 'a state older than 10 minutes');
      } finally {
        rig.skewMs = 0;
      }
    });
  });

  it("B19: the consent page (and Gatehouse's error pages) cannot be framed: frame-ancestors 'none' and X-Frame-Options DENY", async () => {
    const fresh = await rig.client(['http://127.0.0.1:53112/cb'], { client_name: 'Framed' });
    const end = await rig.browser().follow(rig.authorizeUrl({ clientId: fresh, redirectUri: 'http://127.0.0.1:53112/cb', resource: RS_A }).url, { consent: 'stop' });
    expect(end.page?.status).toBe(200);
    expect(consentForm(end.page!.body)).toBeDefined();
    const errorPage = await fetch(rig.url(`${AUTH_SERVER_PATHS.callback}?state=nobody&code=x`), { redirect: 'manual' });
    await errorPage.arrayBuffer();
    for (const [what, h] of [
      ['consent page', end.page!.headers],
      ['error page', errorPage.headers],
    ] as const) {
      expect(h.get('x-frame-options'), what).toBe('DENY');
      expect(h.get('content-security-policy'), what).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
      expect(h.get('cache-control'), what).toContain('no-store');
    }
  });

  describe('B20: the interaction and session cookies: HttpOnly, SameSite=Lax, signed, host-only, scoped to the interaction', () => {
    let hops: Hop[];
    let ua: UserAgent;
    beforeAll(async () => {
      const fresh = await rig.client(['http://127.0.0.1:53113/cb'], { client_name: 'Cookie check' });
      ua = (await rig.signIn({ clientId: fresh, redirectUri: 'http://127.0.0.1:53113/cb', resource: RS_A })).ua;
      hops = ua.hops.filter((h) => new URL(h.url).origin === rig.issuer);
    });

    it('B20: every cookie the authorization server sets has HttpOnly, SameSite=Lax, no Domain, and a signature cookie beside it', async () => {
      const seen = new Set<string>();
      const report: string[] = [];
      for (const h of hops) {
        const cookies = h.setCookies.map(parseSetCookie);
        for (const c of cookies) {
          if (c.name.endsWith('.sig') || c.value === '') continue;
          seen.add(c.name);
          report.push(`${c.name}: ${[...c.attrs].map(([k, v]) => (v ? `${k}=${v}` : k)).join('; ')}`);
          expect(c.attrs.has('httponly'), `${c.name} HttpOnly`).toBe(true);
          expect(c.attrs.get('samesite')?.toLowerCase(), `${c.name} SameSite`).toBe('lax');
          expect(c.attrs.has('domain'), `${c.name} host-only`).toBe(false);
          const sig = cookies.find((s) => s.name === `${c.name}.sig`);
          expect(sig, `${c.name}.sig beside ${c.name}`).toBeDefined();
          expect(sig!.attrs.get('path'), `${c.name}.sig path`).toBe(c.attrs.get('path'));
          expect(sig!.attrs.has('httponly'), `${c.name}.sig HttpOnly`).toBe(true);
        }
      }
      expect([...seen].sort()).toEqual(['_interaction', '_interaction_resume', '_session']);
      // The interaction cookies live on the interaction's own paths only.
      const interactionPaths = hops.flatMap((h) => h.setCookies.map(parseSetCookie)).filter((c) => c.name === '_interaction' && c.value).map((c) => c.attrs.get('path'));
      expect(interactionPaths.length).toBeGreaterThan(0);
      for (const p of interactionPaths) expect(p).toMatch(/^\/oauth\/interaction\/[^/]+$/);
      const resumePaths = hops.flatMap((h) => h.setCookies.map(parseSetCookie)).filter((c) => c.name === '_interaction_resume' && c.value).map((c) => c.attrs.get('path'));
      for (const p of resumePaths) expect(p).toMatch(/^\/oauth\/authorize\/[^/]+$/);
      // For the record (printed): a plain-http loopback issuer sets neither Secure nor a __Host- prefix.
      console.info(`B20 cookies at ${rig.issuer}:\n  ${report.join('\n  ')}`);
    });

    it('B20: the consent form is bound to its interaction (its cookie and its own CSRF token): a forged or crossed submission is refused', async () => {
      const c1 = await rig.client(['http://127.0.0.1:53114/cb'], { client_name: 'First' });
      const c2 = await rig.client(['http://127.0.0.1:53115/cb'], { client_name: 'Second' });
      const b = rig.browser();
      const p1 = (await b.follow(rig.authorizeUrl({ clientId: c1, redirectUri: 'http://127.0.0.1:53114/cb', resource: RS_A }).url, { consent: 'stop' })).page!;
      const p2 = (await b.follow(rig.authorizeUrl({ clientId: c2, redirectUri: 'http://127.0.0.1:53115/cb', resource: RS_A }).url, { consent: 'stop' })).page!;
      const f1 = consentForm(p1.body)!;
      const f2 = consentForm(p2.body)!;
      const post = (ua: UserAgent, action: string, csrf: string) => ua.send(new URL(action, rig.issuer), { method: 'POST', form: new URLSearchParams({ csrf, decision: 'allow' }) });
      // Another interaction's CSRF token.
      const crossed = await post(b, f2.action, f1.csrf);
      expect(crossed.status).toBe(400);
      expect(crossed.headers.get('location')).toBeNull();
      // The right token from a browser without the interaction cookie (a cross-site form post).
      const cookieless = await post(rig.browser(), f1.action, f1.csrf);
      expect(cookieless.status).toBe(400);
      expect(cookieless.headers.get('location')).toBeNull();
      // The second interaction's own cookie with a signature that is not the authorization server's: refused;
      // with its real signature (the control), the same request shows that consent page.
      const path2 = new URL(f2.action, rig.issuer).pathname.replace(/\/consent$/, '');
      const value = b.cookie(rig.issuer, '_interaction', path2);
      const sig = b.cookie(rig.issuer, '_interaction.sig', path2);
      expect(value && sig).toBeTruthy();
      const tampered = rig.browser();
      tampered.setCookie(rig.issuer, '_interaction', value!, path2);
      tampered.setCookie(rig.issuer, '_interaction.sig', `${sig!.slice(0, -4)}AAAA`, path2);
      const forged = await tampered.send(new URL(path2, rig.issuer));
      expect(forged.status).toBe(400);
      expect(await forged.text()).toContain('Sign-in expired');
      const copied = rig.browser();
      copied.setCookie(rig.issuer, '_interaction', value!, path2);
      copied.setCookie(rig.issuer, '_interaction.sig', sig!, path2);
      const control = await copied.send(new URL(path2, rig.issuer));
      expect(control.status).toBe(200);
      expect(consentForm(await control.text())).toBeDefined();
      // The first one, submitted properly, goes on: the forgeries did not spend its CSRF token.
      const allowed = await post(b, f1.action, f1.csrf);
      expect(allowed.status).toBe(303);
      expect(new URL(allowed.headers.get('location')!).origin).toBe(rig.upstreamOrigin);
    });
  });

  it('B21: the answer to a consent POST (allow or deny) is a 303, and no redirect of the authorization server is a 307/308', async () => {
    const fresh = await rig.client(['http://127.0.0.1:53116/cb'], { client_name: 'Redirect check' });
    const allowed = rig.browser();
    await rig.signIn({ clientId: fresh, redirectUri: 'http://127.0.0.1:53116/cb', resource: RS_A, ua: allowed });
    const fresh2 = await rig.client(['http://127.0.0.1:53117/cb'], { client_name: 'Redirect check 2' });
    const denied = rig.browser();
    at(await denied.follow(rig.authorizeUrl({ clientId: fresh2, redirectUri: 'http://127.0.0.1:53117/cb', resource: RS_A }).url, { consent: 'deny' }));
    for (const ua of [allowed, denied]) {
      const ours = ua.hops.filter((h) => new URL(h.url).origin === rig.issuer);
      const posts = ours.filter((h) => h.method === 'POST');
      expect(posts.length).toBe(1);
      for (const p of posts) expect(p.status, p.url).toBe(303);
      for (const h of ours) expect([307, 308], `${h.method} ${h.url}`).not.toContain(h.status);
    }
  });

  describe('B22: dynamic registration accepts loopback http and https redirect URIs only', () => {
    const refused: [string, Record<string, unknown>][] = [
      ['javascript:', { redirect_uris: ['javascript:alert(document.domain)'] }],
      ['data:', { redirect_uris: ['data:text/html,<script>alert(1)</script>'] }],
      ['non-loopback http (http://evil.example/cb)', { redirect_uris: ['http://evil.example/cb'] }],
      ['a wildcard host (https://*.example.com/cb)', { redirect_uris: ['https://*.example.com/cb'] }],
      ['a wildcard path (https://app.example.com/*)', { redirect_uris: ['https://app.example.com/*'] }],
      ['native with non-loopback http', { application_type: 'native', redirect_uris: ['http://evil.example/cb'] }],
      ['a fragment', { redirect_uris: ['https://app.example.com/cb#x'] }],
      ['a file: URI', { redirect_uris: ['file:///etc/passwd'] }],
      ['userinfo (http://127.0.0.1@evil.example/cb)', { redirect_uris: ['http://127.0.0.1@evil.example/cb'] }],
      ['one bad URI among good ones', { redirect_uris: ['http://127.0.0.1/cb', 'http://evil.example/cb'] }],
    ];
    it.each(refused)('B22: %s is refused', async (_what, metadata) => {
      const r = await rig.register({ client_name: 'Suspicious', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', ...metadata });
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json['error']).toMatch(/^invalid_(redirect_uri|client_metadata)$/);
      expect(r.json['client_id']).toBeUndefined();
    });

    const accepted: [string, Record<string, unknown>, string][] = [
      ['http://127.0.0.1/cb', { redirect_uris: ['http://127.0.0.1/cb'] }, 'native'],
      ['http://localhost:3000/cb', { redirect_uris: ['http://localhost:3000/cb'] }, 'native'],
      ['http://[::1]/cb', { redirect_uris: ['http://[::1]/cb'] }, 'native'],
      ['https://app.example.com/cb', { redirect_uris: ['https://app.example.com/cb'] }, 'web'],
      ['native with a loopback http URI', { application_type: 'native', redirect_uris: ['http://127.0.0.1:8080/cb'] }, 'native'],
      // A native app's own scheme (RFC 8252 §7.1), as Cursor registers.
      ["a native app's own scheme (cursor://)", { redirect_uris: ['cursor://anysphere.cursor-retrieval/oauth/user-gatehouse/callback'] }, 'native'],
      ['a reverse-domain scheme', { redirect_uris: ['com.example.app:/oauth2redirect'] }, 'native'],
    ];
    it.each(accepted)('B22: %s is accepted', async (_what, metadata, applicationType) => {
      const r = await rig.register({ client_name: 'Fine', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', ...metadata });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      expect(r.json['client_id']).toEqual(expect.any(String));
      // Loopback-only clients are native apps (RFC 8252, OIDC rules), whatever they said.
      expect(r.json['application_type']).toBe(applicationType);
    });
  });

  it('B24: token responses are JSON, Cache-Control: no-store, token_type Bearer (code and refresh grants)', async () => {
    const s = await rig.signIn({ clientId: client, redirectUri: CB, resource: RS_A });
    const code = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: RS_A });
    const refreshed = await rig.refresh({ clientId: client, refreshToken: String(code.json['refresh_token']), resource: RS_A });
    for (const [what, t] of [
      ['authorization_code', code],
      ['refresh_token', refreshed],
    ] as const) {
      expect(t.status, what).toBe(200);
      expect(t.headers.get('content-type'), what).toMatch(/^application\/json(;|$)/);
      expect(t.headers.get('cache-control')?.split(',').map((s) => s.trim()), what).toContain('no-store');
      expect(t.json['token_type'], what).toBe('Bearer');
      expect(t.json['access_token'], what).toEqual(expect.any(String));
      expect(t.json['expires_in'], what).toEqual(expect.any(Number));
    }
    const failed = await rig.redeem({ clientId: client, code: s.code, verifier: s.verifier, redirectUri: CB, resource: RS_A });
    expect(failed.status).toBe(400);
    expect(failed.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
    expect(failed.headers.get('cache-control')?.split(',').map((s) => s.trim())).toContain('no-store');
  });

  it('B25: RFC 8414 metadata at /.well-known/oauth-authorization-server: the issuer exactly, S256 only, iss in responses', async () => {
    for (const p of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await fetch(rig.url(p));
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type'), p).toMatch(/^application\/json(;|$)/);
      const m = (await res.json()) as Record<string, unknown>;
      expect(m['issuer'], p).toBe(rig.issuer);
      expect(m['issuer'], p).not.toMatch(/\/$/);
      expect(m['code_challenge_methods_supported'], p).toEqual(['S256']);
      expect(m['authorization_response_iss_parameter_supported'], p).toBe(true);
      expect(m['response_types_supported'], p).toEqual(['code']);
      expect(m['authorization_endpoint'], p).toBe(rig.url(AUTH_SERVER_PATHS.authorization));
      expect(m['token_endpoint'], p).toBe(rig.url(AUTH_SERVER_PATHS.token));
    }
  });
});

describe('B26: an upstream ID token that is not valid signs nobody in', () => {
  const RS = 'http://127.0.0.1:47201/mcp';
  const CB2 = 'http://127.0.0.1:53200/cb';
  let broken: BrokenIdp;
  let rig: AuthServerRig;
  let client: string;

  beforeAll(async () => {
    broken = await startBrokenIdp();
    rig = await AuthServerRig.start({ keyring, audiences: [RS], upstream: async () => ({ issuerUrl: broken.issuer, clientId: broken.clientId }) });
    client = await rig.client([CB2], { client_name: 'Checklist MCP client' });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
    await broken?.close();
  });

  const attempt = async (flaw: IdTokenFlaw) => {
    broken.flaw = flaw;
    broken.subject = `user-${flaw}`;
    const before = broken.issued.length;
    const { url, verifier } = rig.authorizeUrl({ clientId: client, redirectUri: CB2, resource: RS });
    const back = at(await rig.browser().follow(url));
    // The upstream was reached and answered with the (broken) ID token: whatever failed, failed after that.
    expect(broken.issued.slice(before)).toEqual([flaw]);
    return { back, verifier };
  };

  it('B26: a valid ID token signs the user in (the control)', async () => {
    const { back, verifier } = await attempt('valid');
    expect(target(back)).toBe(CB2);
    const code = back.searchParams.get('code');
    expect(code, back.href).toBeTruthy();
    const t = await rig.redeem({ clientId: client, code: code!, verifier, redirectUri: CB2, resource: RS });
    expect(t.status).toBe(200);
    expect(decodeJwt(String(t.json['access_token']))['sub']).toBe('user-valid');
    expect(await rig.interactions.account('user-valid')).toBeDefined();
  });

  const flaws: [IdTokenFlaw, string][] = [
    ['iss', 'another issuer'],
    ['iss-trailing-slash', 'the issuer with a trailing slash'],
    ['aud', 'another audience'],
    ['nonce', 'another nonce'],
    ['no-nonce', 'no nonce'],
    ['signature', 'an RS256 signature with a flipped byte'],
    ['foreign-key', 'RS256 by a key that is not the published one'],
    ['alg-none', 'alg none'],
    ['hs256', 'HS256 keyed with the RSA public key'],
    ['expired', 'expired'],
  ];
  it.each(flaws)('B26: %s (%s): access_denied at the client, no code, no account', async (flaw) => {
    const { back } = await attempt(flaw);
    expect(target(back)).toBe(CB2);
    expect(back.searchParams.get('code')).toBeNull();
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('iss')).toBe(rig.issuer);
    // Refused for the ID token, not for anything else.
    expect(back.searchParams.get('error_description')).toMatch(/ID token/);
    expect(await rig.interactions.account(`user-${flaw}`)).toBeUndefined();
  });
});
