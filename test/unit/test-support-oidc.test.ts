/**
 * Tests of the authentication test support: the real identity provider (test/support/oidc.ts) and the kit of
 * forged tokens (test/support/forge.ts). All traffic goes to 127.0.0.1; every server is stopped in afterAll.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import {
  EmbeddedJWK,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  importX509,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  KID_INJECTIONS,
  algNone,
  badSignature,
  baseClaims,
  claimAttacks,
  createAttackerKey,
  decodeUnverified,
  hs256WithPublicKey,
  idTokenLike,
  noKid,
  signedByIdp,
  startAttackerServer,
  withEmbeddedKeyHeader,
  withKid,
  type AttackerServer,
} from '../support/forge.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';

const RESOURCE = 'http://127.0.0.1:4711/servers/fetch/mcp';
const SA_SUB = 'system:serviceaccount:client-apps:mcp-client';

const cleanups: Array<() => Promise<void>> = [];
async function idpFor(opts?: Parameters<typeof startTestIdp>[0]): Promise<TestIdp> {
  const idp = await startTestIdp(opts);
  cleanups.push(() => idp.stop());
  return idp;
}

let rs: TestIdp; // shared RS256 IdP: never rotated nor taken down
let es: TestIdp; // shared ES256 IdP
beforeAll(async () => {
  [rs, es] = await Promise.all([idpFor({ alg: 'RS256' }), idpFor({ alg: 'ES256' })]);
});
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

async function jwks(idp: TestIdp): Promise<JSONWebKeySet> {
  const res = await fetch(idp.jwksUri);
  expect(res.status).toBe(200);
  return (await res.json()) as JSONWebKeySet;
}

async function verifyWithIdp(idp: TestIdp, token: string, audience: string) {
  return jwtVerify(token, createLocalJWKSet(await jwks(idp)), { issuer: idp.issuer, audience, algorithms: ['RS256', 'ES256'] });
}

async function introspect(idp: TestIdp, token: string): Promise<Record<string, unknown>> {
  const { url, clientId, clientSecret } = idp.introspection;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('test IdP', () => {
  test('serves discovery on loopback with the advertised issuer and jwks_uri', async () => {
    expect(rs.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const meta = (await (await fetch(`${rs.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta['issuer']).toBe(rs.issuer);
    expect(meta['jwks_uri']).toBe(rs.jwksUri);
    expect(meta['introspection_endpoint']).toBe(rs.introspection.url);
    expect(meta['code_challenge_methods_supported']).toEqual(['S256']);
    expect(meta['grant_types_supported']).toContain('client_credentials');
  });

  test('client_credentials: an RFC 9068 JWT bound to the resource, verifiable with the JWKS; sub = client_id', async () => {
    const token = await rs.clientCredentialsToken({ resource: RESOURCE, scope: 'mcp:read tools:call' });
    const { payload, protectedHeader } = await verifyWithIdp(rs, token, RESOURCE);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: rs.signingKey().kid });
    expect(payload).toMatchObject({
      iss: rs.issuer,
      aud: RESOURCE,
      sub: rs.clients.m2m.clientId,
      client_id: rs.clients.m2m.clientId,
      scope: 'mcp:read tools:call',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(typeof payload.jti).toBe('string');
  });

  test('accepts localhost resources, refuses non-loopback ones', async () => {
    const local = await rs.clientCredentialsToken({ resource: 'http://localhost:9/mcp' });
    expect(decodeJwt(local).aud).toBe('http://localhost:9/mcp');
    await expect(rs.clientCredentialsToken({ resource: 'https://mcp.example.com/mcp' })).rejects.toThrow(/invalid_target/);
  });

  test('ES256 IdP and a custom access token TTL', async () => {
    const short = await idpFor({ alg: 'ES256', accessTokenTTL: 120 });
    const token = await short.clientCredentialsToken({ resource: RESOURCE });
    const { payload, protectedHeader } = await verifyWithIdp(short, token, RESOURCE);
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.exp! - payload.iat!).toBe(120);
    expect((await jwks(short)).keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: short.signingKey().kid });
  });

  test('userToken: the real code + PKCE flow gives the login as sub, aud = resource, an ID token and a refresh token', async () => {
    const tokens = await rs.userToken({ sub: 'alice', resource: RESOURCE, scope: 'mcp:write' });
    const { payload, protectedHeader } = await verifyWithIdp(rs, tokens.accessToken, RESOURCE);
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: 'alice', aud: RESOURCE, iss: rs.issuer, client_id: rs.clients.native.clientId, scope: 'mcp:write' });
    expect(tokens.idToken).toBeDefined();
    const id = await verifyWithIdp(rs, tokens.idToken!, rs.clients.native.clientId);
    expect(id.protectedHeader.typ).toBeUndefined(); // oidc-provider's ID tokens carry no typ
    expect(id.payload.sub).toBe('alice');
    expect(tokens.refreshToken).toMatch(/^[\w-]{20,}$/);
    // the refresh token is real: it buys a new access token for the same resource (the public client's RT rotates)
    const res = await fetch(`${rs.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken!, client_id: rs.clients.native.clientId, resource: RESOURCE }),
    });
    const refreshed = (await res.json()) as { access_token: string; refresh_token: string };
    expect(res.status).toBe(200);
    expect(refreshed.refresh_token).not.toBe(tokens.refreshToken);
    expect((await verifyWithIdp(rs, refreshed.access_token, RESOURCE)).payload.sub).toBe('alice');
  });

  test('userToken: a Kubernetes service-account subject (colons) is carried verbatim', async () => {
    const tokens = await rs.userToken({ sub: SA_SUB, resource: 'http://localhost:4711/mcp' });
    const { payload } = await verifyWithIdp(rs, tokens.accessToken, 'http://localhost:4711/mcp');
    expect(payload.sub).toBe(SA_SUB);
    expect(payload.scope).toBeUndefined();
  });

  test('userToken on an ES256 IdP', async () => {
    const tokens = await es.userToken({ sub: 'bob', resource: RESOURCE, scope: 'mcp:read' });
    const { payload, protectedHeader } = await verifyWithIdp(es, tokens.accessToken, RESOURCE);
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.sub).toBe('bob');
    expect(decodeProtectedHeader(tokens.idToken!).alg).toBe('ES256');
  });

  test('opaqueToken: not a JWT; introspection says active with the client id, no sub, no aud', async () => {
    const token = await rs.opaqueToken();
    expect(() => decodeProtectedHeader(token)).toThrow();
    const answer = await introspect(rs, token);
    expect(answer).toMatchObject({ active: true, client_id: rs.clients.m2m.clientId, iss: rs.issuer, token_type: 'Bearer' });
    expect(answer['sub']).toBeUndefined();
    expect(answer['aud']).toBeUndefined();
    expect(await introspect(rs, `${token}x`)).toEqual({ active: false });
  });

  test('rotateKeys: new kid served first and used for signing, old kept second or dropped; same issuer; state kept', async () => {
    const idp = await idpFor();
    const first = idp.signingKey().kid;
    const opaque = await idp.opaqueToken();
    const before = await idp.clientCredentialsToken({ resource: RESOURCE });

    await idp.rotateKeys();
    const second = idp.signingKey().kid;
    expect(second).not.toBe(first);
    expect((await jwks(idp)).keys.map((k) => k.kid)).toEqual([second, first]);
    const after = await idp.clientCredentialsToken({ resource: RESOURCE });
    expect(decodeProtectedHeader(after).kid).toBe(second);
    await verifyWithIdp(idp, after, RESOURCE);
    await verifyWithIdp(idp, before, RESOURCE); // old key still served
    expect((await introspect(idp, opaque))['active']).toBe(true); // same store across the restart

    await idp.rotateKeys({ dropOld: true });
    const third = idp.signingKey().kid;
    expect((await jwks(idp)).keys.map((k) => k.kid)).toEqual([third]);
    await expect(verifyWithIdp(idp, before, RESOURCE)).rejects.toThrow();
    expect(idp.servedJwks().map((k) => k.kid)).toEqual([third]);
    const meta = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta['issuer']).toBe(idp.issuer);
  });

  test('takeDown / bringUp and jwksFetchCount (503, refuse, hang)', async () => {
    const idp = await idpFor();
    expect(idp.jwksFetchCount()).toBe(0);
    await jwks(idp);
    expect(idp.jwksFetchCount()).toBe(1);

    await idp.takeDown();
    const down = await fetch(idp.jwksUri);
    expect(down.status).toBe(503);
    await down.arrayBuffer();
    expect(idp.jwksFetchCount()).toBe(2); // a failed fetch is still a fetch
    // the rest of the IdP still works during a '503' outage: tokens can be minted
    expect(decodeJwt(await idp.clientCredentialsToken({ resource: RESOURCE })).aud).toBe(RESOURCE);
    await idp.bringUp();
    await jwks(idp);
    expect(idp.jwksFetchCount()).toBe(3);

    await idp.takeDown({ mode: 'refuse' });
    await expect(fetch(idp.jwksUri)).rejects.toThrow();
    expect(idp.jwksFetchCount()).toBe(3);
    await idp.bringUp();
    await jwks(idp);
    expect(idp.jwksFetchCount()).toBe(4);

    await idp.takeDown({ mode: 'hang' });
    await expect(fetch(idp.jwksUri, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(idp.jwksFetchCount()).toBe(5);
    await idp.bringUp();
    await jwks(idp);
    expect(idp.jwksFetchCount()).toBe(6);
  });

  test('stop closes the port', async () => {
    const idp = await startTestIdp();
    await idp.stop();
    await expect(fetch(idp.jwksUri)).rejects.toThrow();
    await idp.stop(); // idempotent
  });
});

describe('forge kit', () => {
  let attacker: AttackerServer;
  const attackerKey = createAttackerKey('ES256');
  beforeAll(async () => {
    attacker = await startAttackerServer(attackerKey);
    cleanups.push(() => attacker.stop());
  });

  test('baseClaims + signedByIdp: a token the IdP could have issued (RS256 and ES256)', async () => {
    for (const idp of [rs, es]) {
      const token = signedByIdp(idp, baseClaims(idp, RESOURCE, { sub: 'carol' }));
      const { payload, protectedHeader } = await verifyWithIdp(idp, token, RESOURCE);
      expect(protectedHeader).toEqual({ alg: idp.signingKey().alg, typ: 'at+jwt', kid: idp.signingKey().kid });
      expect(payload).toMatchObject({ iss: idp.issuer, aud: RESOURCE, sub: 'carol' });
    }
    const custom = decodeUnverified(signedByIdp(rs, { sub: 'x' }, { typ: 'JWT', cty: 'foo', kid: undefined }));
    expect(custom.header).toEqual({ alg: 'RS256', typ: 'JWT', cty: 'foo' });
  });

  test('claimAttacks: each set has exactly its defect and a valid IdP signature', async () => {
    const attacks = claimAttacks(rs, RESOURCE, { leewaySeconds: 60 });
    const now = Math.floor(Date.now() / 1000);
    const c = (name: string) => attacks[name]!.claims;
    expect(c('expiredJustNow')['exp']).toBeLessThan(now);
    expect(c('expiredBeyondLeeway')['exp']).toBeLessThanOrEqual(now - 61);
    expect(c('nbfFuture')['nbf']).toBeGreaterThan(now + 60);
    expect(c('iatFuture')['iat']).toBeGreaterThan(now + 60);
    expect(c('trailingSlashIss')['iss']).toBe(`${rs.issuer}/`);
    expect(c('differentCaseIss')['iss']).toBe(rs.issuer.replace('http:', 'HTTP:'));
    expect(c('audArrayWithoutOurs')['aud']).toEqual(['http://127.0.0.1:4711/servers/other/mcp', 'test-native']);
    for (const [name, missing] of [['missingExp', 'exp'], ['missingSub', 'sub'], ['missingIss', 'iss'], ['audMissing', 'aud']] as const) {
      const token = signedByIdp(rs, c(name));
      expect(decodeJwt(token)).not.toHaveProperty(missing);
    }
    expect(Object.values(attacks).filter((a) => a.expect === 'accept').length).toBe(2);
    // the signature is genuine: only the claims are wrong
    const token = signedByIdp(rs, c('wrongAud'));
    await expect(verifyWithIdp(rs, token, RESOURCE)).rejects.toThrow(/aud/);
    await verifyWithIdp(rs, token, 'http://127.0.0.1:4711/servers/other/mcp');
  });

  test('algNone: unsigned, alg none (and case variants)', () => {
    const token = algNone(baseClaims(rs, RESOURCE));
    expect(token.endsWith('.')).toBe(true);
    const { header, claims, signature } = decodeUnverified(token);
    expect(header).toEqual({ alg: 'none', typ: 'at+jwt' });
    expect(claims['aud']).toBe(RESOURCE);
    expect(signature.length).toBe(0);
    expect(decodeUnverified(algNone({}, { alg: 'NONE', kid: rs.signingKey().kid })).header).toEqual({ alg: 'NONE', typ: 'at+jwt', kid: rs.signingKey().kid });
  });

  test('hs256WithPublicKey: HMAC keyed with the IdP public key in each encoding, kid = the IdP kid', async () => {
    const { privateKey, publicJwk, kid } = rs.signingKey();
    const pub = createPublicKey(privateKey);
    const secrets = {
      pem: Buffer.from(pub.export({ type: 'spki', format: 'pem' }).toString()),
      'jwk-json': Buffer.from(JSON.stringify(publicJwk)),
      'spki-der': pub.export({ type: 'spki', format: 'der' }),
      'jwk-n': Buffer.from(publicJwk.n!, 'base64url'),
    } as const;
    // the JWK-JSON variant uses exactly the served JWK
    expect((await jwks(rs)).keys[0]).toEqual(publicJwk);
    for (const [encoding, secret] of Object.entries(secrets)) {
      const token = hs256WithPublicKey(rs, baseClaims(rs, RESOURCE), encoding as keyof typeof secrets);
      expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid });
      const { payload } = await jwtVerify(token, new Uint8Array(secret), { algorithms: ['HS256'], audience: RESOURCE });
      expect(payload.iss).toBe(rs.issuer);
    }
    // ES256 IdP: 'jwk-n' falls back to the EC x coordinate
    expect(decodeProtectedHeader(hs256WithPublicKey(es, {}, 'jwk-n')).alg).toBe('HS256');
  });

  test('badSignature: one byte flipped, the rest intact, verification fails (RS256 and ES256)', async () => {
    for (const idp of [rs, es]) {
      const good = signedByIdp(idp, baseClaims(idp, RESOURCE));
      const bad = badSignature(good);
      const [gh, gp, gs] = good.split('.');
      const [bh, bp, bs] = bad.split('.');
      expect([bh, bp]).toEqual([gh, gp]);
      const diff = [...Buffer.from(gs!, 'base64url')].map((b, i) => b ^ Buffer.from(bs!, 'base64url')[i]!).filter((x) => x !== 0);
      expect(diff).toEqual([1]);
      await verifyWithIdp(idp, good, RESOURCE);
      await expect(verifyWithIdp(idp, bad, RESOURCE)).rejects.toThrow(/signature/);
    }
  });

  test('withKid: injected kid values, signed by the IdP key or HS256 with an attacker-chosen secret', async () => {
    const claims = baseClaims(rs, RESOURCE);
    expect(KID_INJECTIONS.huge.length).toBe(10 * 1024);
    for (const kid of Object.values(KID_INJECTIONS)) {
      const token = withKid(rs, claims, kid);
      expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'at+jwt', kid });
      // the signature is the IdP's: only a validator that ignores kid would accept it
      const { payload } = await jwtVerify(token, createPublicKey(rs.signingKey().privateKey), { audience: RESOURCE });
      expect(payload.sub).toBe(claims['sub']);
    }
    expect(withKid(rs, claims, KID_INJECTIONS.huge).length).toBeLessThan(16 * 1024);
    const empty = withKid(rs, claims, KID_INJECTIONS.pathTraversalShort, 'hs256-empty');
    expect(decodeProtectedHeader(empty)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: '../../dev/null' });
    const sql = withKid(rs, claims, KID_INJECTIONS.sql, { hs256Secret: 'attacker-secret' });
    await jwtVerify(sql, new TextEncoder().encode('attacker-secret'), { algorithms: ['HS256'] });
  });

  test('noKid: valid IdP signature, no kid header', async () => {
    const token = noKid(rs, baseClaims(rs, RESOURCE));
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'at+jwt' });
    await jwtVerify(token, createPublicKey(rs.signingKey().privateKey), { audience: RESOURCE });
  });

  test('idTokenLike: typ JWT, aud = the client id, signed by the IdP', async () => {
    const token = idTokenLike(rs, rs.clients.native.clientId, 'alice');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'JWT', kid: rs.signingKey().kid });
    const { payload } = await verifyWithIdp(rs, token, rs.clients.native.clientId);
    expect(payload).toMatchObject({ sub: 'alice', iss: rs.issuer });
    expect(payload.scope).toBeUndefined();
  });

  test('withEmbeddedKeyHeader jwk / x5c: signed by the attacker key that the header carries', async () => {
    const claims = baseClaims(rs, RESOURCE);
    const jwkToken = withEmbeddedKeyHeader(claims, 'jwk', attackerKey);
    const jwkHeader = decodeProtectedHeader(jwkToken);
    expect(jwkHeader).toMatchObject({ alg: 'ES256', kid: attackerKey.kid });
    expect(jwkHeader.jwk).not.toHaveProperty('d');
    await jwtVerify(jwkToken, EmbeddedJWK); // a validator trusting the header would accept it
    await expect(verifyWithIdp(rs, jwkToken, RESOURCE)).rejects.toThrow();

    const rsaAttacker = createAttackerKey('RS256');
    for (const key of [attackerKey, rsaAttacker]) {
      const x5cToken = withEmbeddedKeyHeader(claims, 'x5c', key, { kid: rs.signingKey().kid });
      const header = decodeProtectedHeader(x5cToken);
      expect(header.kid).toBe(rs.signingKey().kid);
      const cert = new X509Certificate(Buffer.from(header.x5c![0]!, 'base64'));
      expect(cert.subject).toBe('CN=gatehouse-test-attacker');
      expect(cert.verify(cert.publicKey)).toBe(true); // genuinely self-signed
      await jwtVerify(x5cToken, cert.publicKey);
      await jwtVerify(x5cToken, await importX509(key.certificatePem, key.alg));
    }
  });

  test('withEmbeddedKeyHeader jku / x5u: 127.0.0.1 URLs of an attacker server that serves the key and counts hits', async () => {
    const claims = baseClaims(rs, RESOURCE);
    const jku = withEmbeddedKeyHeader(claims, 'jku', attacker.jwksUrl, { key: attackerKey });
    const x5u = withEmbeddedKeyHeader(claims, 'x5u', attacker.x5uUrl, { key: attackerKey });
    expect(decodeProtectedHeader(jku).jku).toBe(attacker.jwksUrl);
    expect(decodeProtectedHeader(x5u).x5u).toBe(attacker.x5uUrl);
    expect(attacker.hits()).toEqual([]);
    // what a vulnerable validator would do: fetch the URL and trust what it gets
    const served = (await (await fetch(attacker.jwksUrl)).json()) as JSONWebKeySet;
    await jwtVerify(jku, await importJWK(served.keys[0]!, 'ES256'));
    const pem = await (await fetch(attacker.x5uUrl)).text();
    await jwtVerify(x5u, await importX509(pem, 'ES256'));
    expect(attacker.hits().map((h) => h.path)).toEqual(['/jwks.json', '/cert.pem']);

    expect(() => withEmbeddedKeyHeader(claims, 'jku', 'http://169.254.169.254/jwks')).toThrow(/127\.0\.0\.1/);
    expect(() => withEmbeddedKeyHeader(claims, 'x5u', 'http://localhost:1/cert.pem')).toThrow(/127\.0\.0\.1/);
    expect(() => withEmbeddedKeyHeader(claims, 'jwk', 'http://127.0.0.1:1/')).toThrow();
  });
});
