import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DataKeyError, EnvironmentSecrets, InvalidSecretNameError, KeychainSecrets, KeychainUnavailableError, MemoryKeychain,
  ReadOnlySecretsError, SealedStore, SecretNotFoundError, keychainError, providerFromEnv,
} from '../../src/secrets/index.js';
import { openStore } from '../../src/store/index.js';

/** Unit tests over an in-memory keychain; test/integration/secrets-keychain.test.ts runs the same against the real Secret Service. */
function store() {
  return openStore(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gh-sec-')), 'gatehouse.db'));
}

describe('keychain secrets provider', () => {
  it('sets, gets, lists names (without internal items) and deletes', async () => {
    const kc = new MemoryKeychain();
    const p = new KeychainSecrets(kc);
    await p.set('GITHUB_TOKEN', 'ghp_value');
    kc.items.set('gatehouse:data-key', 'internal');
    expect(await p.get('GITHUB_TOKEN')).toBe('ghp_value');
    expect(await p.list()).toEqual(['GITHUB_TOKEN']);
    expect(await p.delete('GITHUB_TOKEN')).toBe(true);
    await expect(p.get('GITHUB_TOKEN')).rejects.toThrow(SecretNotFoundError);
  });

  it('refuses invalid names and empty values, with errors that never echo a value', async () => {
    const p = new KeychainSecrets(new MemoryKeychain());
    await expect(p.set('bad name', 'v')).rejects.toThrow(InvalidSecretNameError);
    await expect(p.set('gatehouse:data-key', 'v')).rejects.toThrow(InvalidSecretNameError);
    await expect(p.set('EMPTY', '')).rejects.toThrow(/empty/);
    const err = await p.get('MISSING').catch((e: Error) => e);
    expect((err as Error).message).toBe('Secret "MISSING" is not in the OS keychain.');
    expect((err as SecretNotFoundError).hint).toEqual({ action: 'set-secret', secret: 'MISSING' });
  });

  it('turns keychain failures into actionable errors', async () => {
    const kc = new MemoryKeychain();
    kc.failWith = new Error('The name org.freedesktop.secrets was not provided by any .service files');
    const err = await new KeychainSecrets(kc).get('X').catch((e: Error) => e);
    expect(err).toBeInstanceOf(KeychainUnavailableError);
    expect((err as Error).message).toMatch(/no Secret Service is running.*gnome-keyring.*GATEHOUSE_SECRETS_PROVIDER=environment/);
    expect(keychainError(new Error('Cannot create an item in a locked collection'), 'write', 'linux').message).toMatch(/locked/);
    expect(keychainError(new Error('Cannot autolaunch D-Bus without X11 $DISPLAY'), 'read', 'linux').message).toMatch(/D-Bus/);
    expect(keychainError(new Error('x'), 'read', 'darwin').message).toMatch(/login keychain/);
  });
});

describe('environment secrets provider', () => {
  it('reads GATEHOUSE_SECRET_<NAME>, lists names, and is read-only', async () => {
    const p = new EnvironmentSecrets({ GATEHOUSE_SECRET_API_KEY: 'k', OTHER: 'x' });
    expect(await p.get('API_KEY')).toBe('k');
    expect(await p.list()).toEqual(['API_KEY']);
    await expect(p.set()).rejects.toThrow(ReadOnlySecretsError);
    await expect(p.get('NOPE')).rejects.toThrow(/GATEHOUSE_SECRET_<NAME>/);
  });

  it('is chosen only when asked for, never as a silent fallback', () => {
    const kc = new MemoryKeychain();
    expect(providerFromEnv(kc, {}).kind).toBe('keychain');
    expect(providerFromEnv(kc, { GATEHOUSE_SECRETS_PROVIDER: 'environment' }).kind).toBe('environment');
    expect(() => providerFromEnv(kc, { GATEHOUSE_SECRETS_PROVIDER: 'file' })).toThrow(/keychain.*environment/);
  });
});

describe('sealed store (envelope encryption in SQLite)', () => {
  it('creates the data key on first use, keeps ciphertext only, and round-trips', async () => {
    const s = store();
    const kc = new MemoryKeychain();
    const sealed = new SealedStore(kc, s.encrypted);
    await sealed.put('oauth', 'github', 'refresh-token-value');
    expect(kc.items.has('gatehouse:data-key')).toBe(true);
    const row = s.db.prepare('SELECT * FROM encrypted_values').get() as { ciphertext: Buffer };
    expect(row.ciphertext.toString('utf8')).not.toContain('refresh-token-value');
    expect(await sealed.getString('oauth', 'github')).toBe('refresh-token-value');
    expect(await new SealedStore(kc, s.encrypted).getString('oauth', 'github')).toBe('refresh-token-value');
    expect(await sealed.get('oauth', 'missing')).toBeUndefined();
  });

  it('makes one data key when many first writes come at once, so every one of them reads back', async () => {
    const s = store();
    const sealed = new SealedStore(new MemoryKeychain(), s.encrypted);
    await Promise.all(Array.from({ length: 20 }, (_, i) => sealed.put('decisions', `k${i}`, `v${i}`)));
    expect(new Set((s.db.prepare('SELECT key_id FROM encrypted_values').all() as { key_id: string }[]).map((r) => r.key_id)).size).toBe(1);
    expect(await Promise.all(Array.from({ length: 20 }, (_, i) => sealed.getString('decisions', `k${i}`)))).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
  });

  it('binds each row to its name: a row copied under another name fails instead of decrypting', async () => {
    const s = store();
    const kc = new MemoryKeychain();
    const sealed = new SealedStore(kc, s.encrypted);
    await sealed.put('oauth', 'a', 'secret-a');
    s.db.prepare("INSERT INTO encrypted_values (namespace, key, key_id, nonce, ciphertext, tag, updated_at) SELECT namespace, 'b', key_id, nonce, ciphertext, tag, updated_at FROM encrypted_values WHERE key = 'a'").run();
    await expect(sealed.get('oauth', 'b')).rejects.toThrow(DataKeyError);
  });

  it('says clearly when the data key is missing or wrong, and never returns garbage', async () => {
    const s = store();
    const kc = new MemoryKeychain();
    await new SealedStore(kc, s.encrypted).put('oauth', 'a', 'secret-a');
    kc.items.delete('gatehouse:data-key');
    await expect(new SealedStore(kc, s.encrypted).get('oauth', 'a')).rejects.toThrow(/data key is missing/);
    // And it will not mint a new key over existing ciphertext.
    await expect(new SealedStore(kc, s.encrypted).put('oauth', 'c', 'x')).rejects.toThrow(/refusing to create a new key/);
    kc.items.set('gatehouse:data-key', Buffer.alloc(32, 7).toString('base64'));
    await expect(new SealedStore(kc, s.encrypted).get('oauth', 'a')).rejects.toThrow(/sealed with data key/);
  });
});
