import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/authserver/index.js';
import { KeychainSecrets, OsKeychain } from '../../src/secrets/index.js';
import { startPrivateKeyring, type PrivateKeyring } from '../support/keyring.js';

/** The authorization server's own keys in a real keychain (a private GNOME keyring): made once, kept across restarts, rotated. */
describe("the authorization server's keys in the OS keychain", () => {
  let keyring: PrivateKeyring;
  const none = { signingKeys: [], hmacKeys: [] };
  const open = () => {
    const kc = new OsKeychain('Gatehouse', 10_000, keyring.env);
    return { kc, ring: new KeyRing('keychain-test', { keychain: kc, secrets: () => new KeychainSecrets(kc) }) };
  };

  beforeAll(async () => {
    keyring = await startPrivateKeyring();
  });
  afterAll(async () => {
    await keyring?.stop();
  });

  it('makes them once, gives the same ones to the next process, and keeps a rotation', async () => {
    const a = open();
    const first = await a.ring.load(none, 3_600_000);
    expect(await a.kc.accounts()).toContain('gatehouse:authserver:keychain-test');
    const b = open(); // a restart: a new keychain connection, nothing in memory
    const again = await b.ring.load(none, 3_600_000);
    expect(again.signing.map((k) => k.kid)).toEqual(first.signing.map((k) => k.kid));
    expect(again.hmac[0]!.equals(first.hmac[0]!)).toBe(true);
    const rotated = await b.ring.rotate(none);
    const c = open();
    expect((await c.ring.load(none, 3_600_000)).signing.map((k) => k.kid)).toEqual([rotated.kid, first.signing[0]!.kid]);
    // The key never sits in a secret a user could list.
    expect(await new KeychainSecrets(c.kc).list()).toEqual([]);
  });
});
