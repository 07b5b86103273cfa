/**
 * A kit of hostile and broken JWTs for the authentication tests (checklist rows A2-A16 of
 * shared/reference/mcp-auth.md §7). Every helper returns a compact JWS string, synchronously.
 *
 * Helpers that need the IdP's key take an `IdpKeys` (a TestIdp from ./oidc.ts fits, or any { issuer, signingKey }),
 * so claim-level tokens are signed with the very key the validator trusts: the only defect is the one named.
 * Start from `baseClaims(idp, resource)` (a claim set the validator should accept) and override; a claim set to
 * `undefined` is left out, e.g. `signedByIdp(idp, { ...baseClaims(idp, r), exp: undefined })` has no `exp`.
 *
 * Attacker material (`createAttackerKey`, `startAttackerServer`) lives on 127.0.0.1 only: URLs put in `jku`/`x5u`
 * headers must be http://127.0.0.1 URLs, and the attacker server counts hits so tests can assert "never fetched".
 */
import {
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import type { SigningAlg, SigningKey } from './oidc.js';

/** What forge needs from an IdP: a TestIdp, or given keys. */
export interface IdpKeys {
  issuer: string;
  signingKey(): SigningKey;
}

export type Claims = Record<string, unknown>;
export type Header = Record<string, unknown>;

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

// --- low level -----------------------------------------------------------------------------------------------

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** Drops keys whose value is undefined (how callers remove a claim or a header field). */
function defined<T extends Record<string, unknown>>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

function signingInput(header: Header, claims: Claims): string {
  return `${b64url(JSON.stringify(defined(header)))}.${b64url(JSON.stringify(defined(claims)))}`;
}

/** Signs with an asymmetric key; RS256 = RSASSA-PKCS1-v1_5 SHA-256, ES256 = ECDSA P-256 SHA-256 in JOSE (r||s) form. */
function asymmetricSignature(alg: SigningAlg, key: KeyObject, input: string): string {
  const data = Buffer.from(input);
  const sig = alg === 'ES256' ? cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : cryptoSign('sha256', data, key);
  return b64url(sig);
}

/** A compact JWS signed with `key` under `header.alg` (RS256 / ES256), header fields as given. */
export function signCompact(header: Header & { alg: SigningAlg }, claims: Claims, key: KeyObject): string {
  const input = signingInput(header, claims);
  return `${input}.${asymmetricSignature(header.alg, key, input)}`;
}

/** A compact JWS HMAC-SHA-256-signed with `secret`, header.alg forced to HS256 unless given. */
export function signHs256(header: Header, claims: Claims, secret: Buffer | string): string {
  const input = signingInput({ alg: 'HS256', ...header }, claims);
  return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`;
}

/** Decodes a compact JWS without verifying it (for assertions in tests). */
export function decodeUnverified(token: string): { header: Header; claims: Claims; signature: Buffer } {
  const [h, p, s] = token.split('.');
  if (h === undefined || p === undefined || s === undefined || token.split('.').length !== 3) throw new Error('not a compact JWS');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Header,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Claims,
    signature: Buffer.from(s, 'base64url'),
  };
}

// --- claims --------------------------------------------------------------------------------------------------

/**
 * A claim set shaped like the IdP's own JWT access tokens (see ./oidc.ts): iss, sub, aud = resource, iat, exp
 * (now + 300 s), jti, client_id, scope. Override anything; `undefined` removes a claim.
 */
export function baseClaims(idp: Pick<IdpKeys, 'issuer'>, resource: string, overrides: Claims = {}): Claims {
  const now = nowSeconds();
  return defined({
    iss: idp.issuer,
    sub: 'forged-user',
    aud: resource,
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    client_id: 'test-m2m',
    scope: 'mcp:read',
    ...overrides,
  });
}

export interface ClaimAttack {
  /** checklist row */
  row: 'A10' | 'A11' | 'A14' | 'A15' | 'A16';
  claims: Claims;
  /** what a correct validator with the given leeway does with it */
  expect: 'accept' | 'reject';
}

/**
 * Claim-level defects (rows A10, A11, A14-A16) for `signedByIdp`, keyed by a readable name. `leewaySeconds` is the
 * validator's clock leeway (default 60): `expiredWithinLeeway` must be accepted, the others rejected.
 * `otherResource` is a resource of another server on the same proxy host (A11/A12), `clientId` the IdP client id
 * that must never be accepted as an audience.
 */
export function claimAttacks(
  idp: Pick<IdpKeys, 'issuer'>,
  resource: string,
  opts: { leewaySeconds?: number; otherResource?: string; clientId?: string } = {},
): Record<string, ClaimAttack> {
  const leeway = opts.leewaySeconds ?? 60;
  const now = nowSeconds();
  const other = opts.otherResource ?? new URL('/servers/other/mcp', resource).href;
  const base = (o: Claims) => baseClaims(idp, resource, o);
  const upperIss = idp.issuer.replace(/^http:\/\/127\.0\.0\.1/, 'HTTP://127.0.0.1');
  return {
    expiredJustNow: { row: 'A14', claims: base({ iat: now - 600, exp: now - 1 }), expect: 'accept' },
    expiredWithinLeeway: { row: 'A14', claims: base({ iat: now - 600, exp: now - Math.max(leeway - 5, 1) }), expect: 'accept' },
    expiredBeyondLeeway: { row: 'A14', claims: base({ iat: now - 600, exp: now - (leeway + 1) }), expect: 'reject' },
    expiredLongAgo: { row: 'A14', claims: base({ iat: now - 7200, exp: now - 3600 }), expect: 'reject' },
    nbfFuture: { row: 'A15', claims: base({ nbf: now + leeway + 60 }), expect: 'reject' },
    iatFuture: { row: 'A15', claims: base({ iat: now + leeway + 60, exp: now + leeway + 360 }), expect: 'reject' },
    wrongIss: { row: 'A10', claims: base({ iss: 'http://127.0.0.1:1/not-the-issuer' }), expect: 'reject' },
    trailingSlashIss: { row: 'A10', claims: base({ iss: `${idp.issuer}/` }), expect: 'reject' },
    differentCaseIss: { row: 'A10', claims: base({ iss: upperIss }), expect: 'reject' },
    wrongAud: { row: 'A11', claims: base({ aud: other }), expect: 'reject' },
    audIsClientId: { row: 'A11', claims: base({ aud: opts.clientId ?? 'test-native' }), expect: 'reject' },
    audArrayWithoutOurs: { row: 'A11', claims: base({ aud: [other, opts.clientId ?? 'test-native'] }), expect: 'reject' },
    audMissing: { row: 'A11', claims: base({ aud: undefined }), expect: 'reject' },
    audTrailingSlash: { row: 'A11', claims: base({ aud: resource.endsWith('/') ? resource.slice(0, -1) : `${resource}/` }), expect: 'reject' },
    missingExp: { row: 'A16', claims: base({ exp: undefined }), expect: 'reject' },
    missingSub: { row: 'A16', claims: base({ sub: undefined }), expect: 'reject' },
    missingIss: { row: 'A16', claims: base({ iss: undefined }), expect: 'reject' },
  };
}

// --- tokens signed by the IdP's key --------------------------------------------------------------------------

/**
 * Valid signature by the IdP's current key, arbitrary claims. Header defaults to { alg, kid, typ: 'at+jwt' } like
 * oidc-provider's access tokens; `header` overrides (a field set to undefined is removed).
 */
export function signedByIdp(idp: IdpKeys, claims: Claims, header: Header = {}): string {
  const { privateKey, kid, alg } = idp.signingKey();
  const h = defined({ alg, typ: 'at+jwt', kid, ...header });
  if (h['alg'] !== alg) throw new Error(`signedByIdp signs with the IdP's ${alg} key; use another helper to lie about alg`);
  return signCompact(h as Header & { alg: SigningAlg }, claims, privateKey);
}

/** A9: valid IdP signature, no `kid` header at all. */
export function noKid(idp: IdpKeys, claims: Claims): string {
  return signedByIdp(idp, claims, { kid: undefined });
}

/** A13: an ID token shape (typ JWT, aud = the client id, auth_time, no scope) signed by the IdP's key. */
export function idTokenLike(idp: IdpKeys, clientId: string, sub: string): string {
  const now = nowSeconds();
  return signedByIdp(idp, { iss: idp.issuer, sub, aud: clientId, iat: now, exp: now + 3600, auth_time: now - 5, nonce: b64url(randomBytes(12)) }, { typ: 'JWT' });
}

// --- A4 alg none ---------------------------------------------------------------------------------------------

/**
 * A4: an unsigned JWT (`alg: none`, empty signature part, so the string ends with '.'). `alg` may be set to a
 * case variant ('None', 'NONE', 'nOnE'); `kid` can make it look like the IdP's; `signature` can append garbage.
 */
export function algNone(claims: Claims, opts: { alg?: 'none' | 'None' | 'NONE' | 'nOnE'; kid?: string; typ?: string; signature?: string } = {}): string {
  const header = defined({ alg: opts.alg ?? 'none', typ: opts.typ ?? 'at+jwt', kid: opts.kid });
  return `${signingInput(header, claims)}.${opts.signature ?? ''}`;
}

// --- A5 HS256 keyed with the public key ----------------------------------------------------------------------

export type PublicKeyEncoding = 'pem' | 'jwk-json' | 'spki-der' | 'jwk-n';

/**
 * A5 (algorithm confusion): HMAC-SHA-256 keyed with the IdP's PUBLIC key material, `kid` = the IdP's kid, so a
 * validator that lets the token pick the algorithm and feeds its stored key to HMAC would accept it.
 * Encodings of the secret: 'pem' (SPKI PEM exactly as node exports it, trailing newline included), 'jwk-json'
 * (JSON.stringify of the public JWK as served in the JWKS), 'spki-der' (raw DER bytes), 'jwk-n' (RSA modulus or EC x
 * coordinate, base64url-decoded bytes).
 */
export function hs256WithPublicKey(idp: IdpKeys, claims: Claims, encoding: PublicKeyEncoding = 'pem'): string {
  const { privateKey, publicJwk, kid } = idp.signingKey();
  const pub = createPublicKey(privateKey);
  let secret: Buffer | string;
  switch (encoding) {
    case 'pem':
      secret = pub.export({ type: 'spki', format: 'pem' }).toString();
      break;
    case 'jwk-json':
      secret = JSON.stringify(publicJwk);
      break;
    case 'spki-der':
      secret = pub.export({ type: 'spki', format: 'der' });
      break;
    case 'jwk-n': {
      const material = publicJwk.n ?? publicJwk.x;
      if (!material) throw new Error('public JWK has neither n nor x');
      secret = Buffer.from(material, 'base64url');
      break;
    }
  }
  return signHs256({ alg: 'HS256', typ: 'at+jwt', kid }, claims, secret);
}

// --- A6 bad signature ----------------------------------------------------------------------------------------

/**
 * A6: the same token with one byte of the signature flipped (XOR 0x01 on the byte at `index`, default the middle
 * one), re-encoded canonically. Works for RS256 (256-byte signature) and ES256 (64-byte r||s).
 */
export function badSignature(token: string, index?: number): string {
  const parts = token.split('.');
  const [h, p, s] = parts;
  if (parts.length !== 3 || h === undefined || p === undefined || !s) throw new Error('badSignature needs a signed compact JWS');
  const sig = Buffer.from(s, 'base64url');
  const i = index ?? Math.floor(sig.length / 2);
  const byte = sig[i];
  if (byte === undefined) throw new Error(`signature has no byte ${i}`);
  sig[i] = byte ^ 0x01;
  return `${h}.${p}.${b64url(sig)}`;
}

// --- A7 kid injection ----------------------------------------------------------------------------------------

/** A7 kid values. `huge` is 10 KiB: the token is then ~14.5 kB, under node's 16 KiB default header limit. */
export const KID_INJECTIONS = {
  pathTraversal: '../../../../../../dev/null',
  pathTraversalShort: '../../dev/null',
  sql: "x' UNION SELECT 'attacker-secret' -- ",
  sqlTautology: "' OR '1'='1",
  commandInjection: '$(touch /tmp/gatehouse-kid-pwned);|id',
  huge: 'A'.repeat(10 * 1024),
  unknown: 'unknown-kid-0000',
} as const;

export type KidSigner =
  /** the IdP's real key (valid signature; only the kid is wrong: a validator must not fall back to "any key") */
  | 'idp'
  /** HS256 with an empty secret: what '../../dev/null' would read as */
  | 'hs256-empty'
  /** HS256 with a secret of the caller's choice, e.g. the value an injected SQL query would return */
  | { hs256Secret: string };

/** A7: a token whose `kid` is `kid` (see KID_INJECTIONS), signed per `signWith` (default: the IdP's key). */
export function withKid(idp: IdpKeys, claims: Claims, kid: string, signWith: KidSigner = 'idp'): string {
  if (signWith === 'idp') return signedByIdp(idp, claims, { kid });
  const secret = signWith === 'hs256-empty' ? Buffer.alloc(0) : signWith.hs256Secret;
  return signHs256({ alg: 'HS256', typ: 'at+jwt', kid }, claims, secret);
}

// --- A8 embedded key headers ---------------------------------------------------------------------------------

export interface AttackerKey {
  alg: SigningAlg;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** public JWK with kid, alg, use */
  publicJwk: JWK;
  /** a self-signed X.509 certificate (DER) for publicKey, CN=gatehouse-test-attacker: for x5c / x5u */
  certificateDer: Buffer;
  certificatePem: string;
}

/** A fresh attacker key pair with a self-signed certificate. */
export function createAttackerKey(alg: SigningAlg = 'ES256'): AttackerKey {
  const { privateKey, publicKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `attacker-${b64url(randomBytes(6))}`;
  const publicJwk: JWK = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  const certificateDer = selfSignedCertificate(alg, privateKey, publicKey, 'gatehouse-test-attacker');
  const b64 = certificateDer.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return { alg, kid, privateKey, publicKey, publicJwk, certificateDer, certificatePem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n` };
}

export type EmbeddedKeyHeader = 'jwk' | 'jku' | 'x5u' | 'x5c';

function assertLoopbackUrl(url: string): void {
  const u = URL.canParse(url) ? new URL(url) : undefined;
  if (!u || u.protocol !== 'http:' || u.hostname !== '127.0.0.1') throw new Error(`attacker URLs must be http://127.0.0.1 URLs (got ${url})`);
}

/**
 * A8: a token signed by an ATTACKER key whose header tells the validator where to find that key:
 * - 'jwk': the attacker's public JWK embedded in the header (pass the AttackerKey, or nothing for a fresh one);
 * - 'x5c': the attacker's self-signed certificate embedded (standard base64 DER, RFC 7515 §4.1.6);
 * - 'jku' / 'x5u': an http://127.0.0.1 URL (e.g. from startAttackerServer) serving the attacker's JWKS / PEM
 *   certificate; the token is signed by `opts.key` (the key that server serves) or a fresh key.
 * `opts.kid` overrides the header kid (e.g. the IdP's own kid, to hit a kid-keyed cache); default the attacker's.
 */
export function withEmbeddedKeyHeader(
  claims: Claims,
  header: EmbeddedKeyHeader,
  attackerUrlOrKey?: string | AttackerKey,
  opts: { key?: AttackerKey; kid?: string } = {},
): string {
  let key: AttackerKey;
  const h: Header = {};
  if (header === 'jku' || header === 'x5u') {
    if (typeof attackerUrlOrKey !== 'string') throw new Error(`withEmbeddedKeyHeader('${header}') needs an http://127.0.0.1 URL`);
    assertLoopbackUrl(attackerUrlOrKey);
    key = opts.key ?? createAttackerKey();
    h[header] = attackerUrlOrKey;
  } else {
    if (typeof attackerUrlOrKey === 'string') throw new Error(`withEmbeddedKeyHeader('${header}') takes an AttackerKey, not a URL`);
    key = attackerUrlOrKey ?? opts.key ?? createAttackerKey();
    if (header === 'jwk') {
      const { kty, crv, x, y, n, e } = key.publicJwk;
      h['jwk'] = defined({ kty, crv, x, y, n, e });
    } else {
      h['x5c'] = [key.certificateDer.toString('base64')];
    }
  }
  return signCompact({ alg: key.alg, typ: 'at+jwt', kid: opts.kid ?? key.kid, ...h }, claims, key.privateKey);
}

export interface AttackerServer {
  /** base URL, http://127.0.0.1:<port> */
  url: string;
  /** serves { keys: [attacker public JWK] } */
  jwksUrl: string;
  /** serves the attacker's certificate as PEM (for x5u) */
  x5uUrl: string;
  /** every request that reached the server (method and path), in order */
  hits(): Array<{ method: string; path: string }>;
  stop(): Promise<void>;
}

/** A 127.0.0.1 server for `key` that counts every hit: a validator under test must never contact it (SSRF). */
export async function startAttackerServer(key: AttackerKey): Promise<AttackerServer> {
  const log: Array<{ method: string; path: string }> = [];
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    log.push({ method: req.method ?? '', path });
    if (path.startsWith('/jwks.json')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [key.publicJwk] }));
    } else if (path.startsWith('/cert.pem')) {
      res.writeHead(200, { 'content-type': 'application/pem-certificate-chain' }).end(key.certificatePem);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jwksUrl: `${url}/jwks.json`,
    x5uUrl: `${url}/cert.pem`,
    hits: () => [...log],
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// --- a minimal self-signed X.509 v3 certificate (DER), for x5c / x5u --------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * (arcs[0] ?? 0) + (arcs[1] ?? 0)];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

function selfSignedCertificate(alg: SigningAlg, privateKey: KeyObject, publicKey: KeyObject, cn: string): Buffer {
  const sigAlg = alg === 'ES256' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
  const serial = randomBytes(8);
  serial[0] = (serial[0] ?? 0) & 0x7f || 0x01; // positive, no leading zero byte needed
  const now = Date.now();
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version v3
    tlv(0x02, serial),
    sigAlg,
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 30 * 86400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = cryptoSign('sha256', tbs, privateKey); // ECDSA in DER form, as X.509 wants
  return seq(tbs, sigAlg, tlv(0x03, Buffer.from([0]), signature));
}
