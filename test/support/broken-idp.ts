import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWK, type JWTPayload } from 'jose';

/**
 * What is wrong with the ID token the next token request gets ('valid': nothing, the control case).
 * Checklist row B26 (oidcc-client-test-invalid-iss, -invalid-aud, -nonce-invalid, -invalid-sig-rs256,
 * -idtoken-sig-none, -invalid-sig-hs256).
 */
export type IdTokenFlaw =
  | 'valid'
  /** `iss` is another issuer. */
  | 'iss'
  /** `iss` is the issuer with a trailing slash (exact match is required). */
  | 'iss-trailing-slash'
  /** `aud` is another client. */
  | 'aud'
  /** `nonce` is not the one of the authorization request. */
  | 'nonce'
  /** no `nonce` although the request sent one. */
  | 'no-nonce'
  /** RS256, a byte of the signature flipped. */
  | 'signature'
  /** RS256 with the published kid, signed by a key that is not the published one. */
  | 'foreign-key'
  /** `alg: none`, no signature. */
  | 'alg-none'
  /** HS256 with the provider's RSA public key (PEM) as the HMAC secret, kid of the published key. */
  | 'hs256'
  /** expired an hour ago. */
  | 'expired';

export interface BrokenIdp {
  /** http://127.0.0.1:PORT (no trailing slash). */
  issuer: string;
  clientId: string;
  /** The flaw of the ID token in the next token responses. */
  flaw: IdTokenFlaw;
  /** The subject the next ID token names (default 'broken-user'). */
  subject: string;
  /** Token requests that were answered with an ID token, by flaw. */
  issued: IdTokenFlaw[];
  close(): Promise<void>;
}

/**
 * A small OpenID provider on 127.0.0.1 that issues deliberately broken ID tokens, one flaw at a time:
 * discovery (both well-known documents), a JWKS with one RS256 key, an authorization endpoint that
 * redirects straight back with a code (no login page: the user is taken as signed in), and a token
 * endpoint that checks the code, the redirect URI and PKCE (S256) and then answers with an access token
 * and an ID token broken as `flaw` says. Public client (no secret).
 */
export async function startBrokenIdp(opts: { clientId?: string } = {}): Promise<BrokenIdp> {
  const clientId = opts.clientId ?? `broken-${randomBytes(6).toString('hex')}`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const kid = `broken-${randomBytes(4).toString('hex')}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const publicPem = await exportSPKI(publicKey);
  const codes = new Map<string, { redirectUri: string; challenge: string; nonce: string | null }>();

  let issuer = '';
  const state: BrokenIdp = {
    issuer: '',
    clientId,
    flaw: 'valid',
    subject: 'broken-user',
    issued: [],
    close: async () => {},
  };

  const idToken = async (nonce: string | null): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const flaw = state.flaw;
    const claims: JWTPayload = {
      iss: flaw === 'iss' ? 'http://127.0.0.1:1/elsewhere' : flaw === 'iss-trailing-slash' ? `${issuer}/` : issuer,
      sub: state.subject,
      aud: flaw === 'aud' ? 'another-client' : clientId,
      iat: flaw === 'expired' ? now - 7200 : now,
      exp: flaw === 'expired' ? now - 3600 : now + 300,
      name: 'Broken User',
      ...(flaw === 'no-nonce' ? {} : { nonce: flaw === 'nonce' ? 'not-the-nonce-of-this-sign-in' : (nonce ?? undefined) }),
    };
    if (flaw === 'alg-none') return new UnsecuredJWT(claims).encode();
    if (flaw === 'hs256') return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' }).sign(new TextEncoder().encode(publicPem));
    const signed = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(flaw === 'foreign-key' ? foreign.privateKey : privateKey);
    if (flaw !== 'signature') return signed;
    const [h, p, s] = signed.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10] = sig[10]! ^ 0xff;
    return `${h}.${p}.${sig.toString('base64url')}`;
  };

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      void (async () => {
        if (req.method === 'GET' && (u.pathname === '/.well-known/openid-configuration' || u.pathname === '/.well-known/oauth-authorization-server')) {
          return json(res, 200, {
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
            grant_types_supported: ['authorization_code'],
            token_endpoint_auth_methods_supported: ['none'],
            code_challenge_methods_supported: ['S256'],
            scopes_supported: ['openid'],
          });
        }
        if (req.method === 'GET' && u.pathname === '/jwks') return json(res, 200, { keys: [publicJwk] });
        if (req.method === 'GET' && u.pathname === '/authorize') {
          const q = u.searchParams;
          const redirectUri = q.get('redirect_uri');
          if (q.get('client_id') !== clientId || !redirectUri) return json(res, 400, { error: 'invalid_request' });
          if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) return json(res, 400, { error: 'invalid_request', error_description: 'PKCE S256 required' });
          const code = randomBytes(16).toString('base64url');
          codes.set(code, { redirectUri, challenge: q.get('code_challenge')!, nonce: q.get('nonce') });
          const back = new URL(redirectUri);
          back.searchParams.set('code', code);
          if (q.has('state')) back.searchParams.set('state', q.get('state')!);
          back.searchParams.set('iss', issuer);
          res.writeHead(303, { location: back.href });
          return void res.end();
        }
        if (req.method === 'POST' && u.pathname === '/token') {
          const f = new URLSearchParams(body);
          const c = codes.get(f.get('code') ?? '');
          codes.delete(f.get('code') ?? '');
          const verifier = f.get('code_verifier') ?? '';
          if (!c || f.get('grant_type') !== 'authorization_code' || f.get('redirect_uri') !== c.redirectUri || f.get('client_id') !== clientId || createHash('sha256').update(verifier).digest('base64url') !== c.challenge) {
            return json(res, 400, { error: 'invalid_grant' });
          }
          const token = await idToken(c.nonce);
          state.issued.push(state.flaw);
          return json(res, 200, { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: token });
        }
        json(res, 404, { error: 'not_found' });
      })().catch((err: unknown) => json(res, 500, { error: 'server_error', error_description: String(err) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.issuer = issuer;
  state.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return state;
}
