import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, compactVerify, importJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthServerSettingsError, KeyRing, signingKeyFromPem } from '../../src/authserver/index.js';
import { KeychainSecrets, MemoryKeychain } from '../../src/secrets/index.js';

const none = { signingKeys: [], hmacKeys: [] };
const DAY = 86_400_000;

function ring(kc = new MemoryKeychain(), clock = { t: 1_000_000 }, env: NodeJS.ProcessEnv = {}) {
  return { kc, clock, ring: new KeyRing('test', { keychain: kc, secrets: () => new KeychainSecrets(kc), env, now: () => clock.t }) };
}

const pem = (type: 'rsa' | 'ec' | 'ed25519', opts: Record<string, unknown> = {}) =>
  generateKeyPairSync(type as 'rsa', { ...(type === 'rsa' ? { modulusLength: 2048 } : {}), ...opts, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as never).privateKey as unknown as string;

describe("the authorization server's keys", () => {
  it('makes its own on first use (ES256, 32-byte HMAC), keeps them, and gives the same ones back later', async () => {
    const { kc, ring: r } = ring();
    const first = await r.load(none, DAY);
    expect(first.signing).toHaveLength(1);
    expect(first.signing[0]).toMatchObject({ alg: 'ES256', origin: 'own' });
    expect(first.signing[0]!.kid).toBe(await calculateJwkThumbprint(first.signing[0]!.publicJwk, 'sha256'));
    expect(first.signing[0]!.publicJwk).not.toHaveProperty('d');
    expect(first.hmac[0]!.length).toBeGreaterThanOrEqual(32);
    const again = await new KeyRing('test', { keychain: kc, secrets: () => new KeychainSecrets(kc) }).load(none, DAY);
    expect(again.signing[0]!.kid).toBe(first.signing[0]!.kid);
    expect(again.hmac[0]!.equals(first.hmac[0]!)).toBe(true);
    // A token it signs verifies with the published key.
    const key = first.signing[0]!;
    const jwt = await new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(await importJWK(key.privateJwk, key.alg));
    await expect(compactVerify(jwt, await importJWK(key.publicJwk, key.alg))).resolves.toBeTruthy();
  });

  it('rotates: an imported PEM signs from now on, the old key stays published until its tokens expire', async () => {
    const { ring: r, clock } = ring();
    const before = (await r.load(none, DAY)).signing[0]!;
    const rsa = pem('rsa');
    const imported = await r.rotate(none, rsa);
    expect(imported.alg).toBe('RS256');
    let now = await r.load(none, DAY);
    expect(now.signing.map((k) => k.kid)).toEqual([imported.kid, before.kid]);
    expect(now.signing[1]!.retiredAt).toBe(clock.t);
    await expect(r.rotate(none, rsa)).rejects.toThrow(/already signs/);
    clock.t += DAY + 1;
    now = await r.load(none, DAY);
    expect(now.signing.map((k) => k.kid)).toEqual([imported.kid]);
    // A new key made here rotates the same way.
    const made = await r.rotate(none);
    expect((await r.load(none, DAY)).signing.map((k) => k.kid)).toEqual([made.kid, imported.kid]);
  });

  it('reads keys the settings name from files, the environment and keychain secrets, and never writes its own then', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-keys-'));
    fs.writeFileSync(path.join(dir, 'signing.pem'), pem('ec', { namedCurve: 'P-384' }));
    fs.writeFileSync(path.join(dir, 'old.pem'), pem('ed25519'));
    const { kc, ring: r } = ring(new MemoryKeychain(), { t: 1 }, { HMAC: 'x'.repeat(40) });
    await new KeychainSecrets(kc).set('hmac-secret.hmac-key', 'y'.repeat(32));
    const keys = await r.load({ signingKeys: [{ file: path.join(dir, 'signing.pem') }, { file: path.join(dir, 'old.pem') }], hmacKeys: [{ keychain: ['hmac-secret.hmac-key', 'hmac-secret'] }, { env: 'HMAC' }] }, DAY);
    expect(keys.signing.map((k) => [k.alg, k.origin])).toEqual([['ES384', 'settings'], ['EdDSA', 'settings']]);
    expect(keys.hmac.map((b) => b.toString())).toEqual(['y'.repeat(32), 'x'.repeat(40)]);
    expect([...kc.items.keys()].some((k) => k.startsWith('gatehouse:authserver:'))).toBe(false);
    await expect(r.rotate({ signingKeys: [{ file: 'x' }] })).rejects.toThrow(/rotate them there/);
  });

  it('says what is wrong with a key, and never replaces keys it cannot read', async () => {
    await expect(signingKeyFromPem('not a key', 'own', 0)).rejects.toThrow(AuthServerSettingsError);
    await expect(signingKeyFromPem(pem('rsa', { modulusLength: 1024 }), 'own', 0)).rejects.toThrow(/2048 bits/);
    await expect(signingKeyFromPem(pem('ec', { namedCurve: 'secp256k1' }), 'own', 0)).rejects.toThrow(/P-256, P-384 or P-521/);
    const { kc, ring: r } = ring(new MemoryKeychain(), { t: 1 }, { SHORT: 'too short' });
    await expect(r.load({ signingKeys: [], hmacKeys: [{ env: 'SHORT' }] }, DAY)).rejects.toThrow(/at least 32 bytes/);
    await expect(r.load({ signingKeys: [], hmacKeys: [{ env: 'MISSING' }] }, DAY)).rejects.toThrow(/MISSING is not set/);
    await expect(r.load({ signingKeys: [{ keychain: ['sk.signing-key', 'sk'] }], hmacKeys: [] }, DAY)).rejects.toThrow(/gatehouse secret set sk\.signing-key/);
    await expect(r.load({ signingKeys: [{ file: '/nonexistent/key.pem' }], hmacKeys: [] }, DAY)).rejects.toThrow(/ENOENT/);
    kc.items.set('gatehouse:authserver:test', '{"signing":"garbled"}');
    await expect(r.load(none, DAY)).rejects.toThrow(/unreadable/);
    expect(kc.items.get('gatehouse:authserver:test')).toBe('{"signing":"garbled"}');
    // An imported key that is no key changes nothing.
    const fresh = ring();
    const kid = (await fresh.ring.load(none, DAY)).signing[0]!.kid;
    await expect(fresh.ring.rotate(none, 'not a key')).rejects.toThrow(AuthServerSettingsError);
    expect((await fresh.ring.load(none, DAY)).signing.map((k) => k.kid)).toEqual([kid]);
  });
});
