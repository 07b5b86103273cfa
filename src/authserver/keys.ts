import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import { z } from 'zod';
import { INTERNAL_PREFIX, type Keychain, type SecretsProvider } from '../secrets/index.js';
import { AuthServerSettingsError, type SecretSource } from './settings.js';

/**
 * The authorization server's keys. Signing keys sign its JWTs (the first one; the others are still
 * published so tokens they signed verify); HMAC keys protect what it keeps (cookies, stored state; the
 * first is current). Keys the settings name come from the keychain, a file or the environment. Without
 * any, Gatehouse makes its own on first use and keeps them in the keychain, so tokens survive a restart
 * (ToolHive's default is ephemeral keys, and its tokens die with the process).
 */

export type SigningAlg = 'RS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  /** The private key as a JWK with kid, alg and use (what oidc-provider's `jwks` takes). */
  privateJwk: JWK;
  publicJwk: JWK;
  /** Where it came from: the settings, or Gatehouse's own (rotatable here). */
  origin: 'settings' | 'own';
  createdAt: number;
  /** A key rotated out: still published until the last token it signed has expired. */
  retiredAt?: number;
}

export interface KeyMaterial {
  /** The first signs. */
  signing: SigningKey[];
  /** At least 32 bytes each; the first is current. */
  hmac: Buffer[];
}

export interface KeyRingDeps {
  keychain: Keychain;
  secrets: () => SecretsProvider;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

const OwnKeysSchema = z.object({
  signing: z.array(z.object({ pem: z.string(), createdAt: z.number(), retiredAt: z.number().optional() })),
  hmac: z.array(z.string()),
});
type OwnKeys = z.infer<typeof OwnKeysSchema>;

const MIN_HMAC_BYTES = 32;

/** The JWS algorithm a private key signs with: RS256 for RSA, ES256/384/512 by curve, EdDSA for Ed25519. */
export function algorithmOf(key: KeyObject): SigningAlg {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new AuthServerSettingsError('An RSA signing key needs at least 2048 bits.');
    return 'RS256';
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return 'ES256';
    if (curve === 'secp384r1' || curve === 'P-384') return 'ES384';
    if (curve === 'secp521r1' || curve === 'P-521') return 'ES512';
    throw new AuthServerSettingsError(`EC signing keys are P-256, P-384 or P-521, not ${curve ?? 'this curve'}.`);
  }
  if (type === 'ed25519') return 'EdDSA';
  throw new AuthServerSettingsError(`A signing key is RSA, EC or Ed25519, not ${type ?? 'this kind'}.`);
}

/** A PEM private key (PKCS#1, PKCS#8 or SEC1) as a signing key: kid = its RFC 7638 thumbprint. */
export async function signingKeyFromPem(pem: string, origin: SigningKey['origin'], createdAt: number, retiredAt?: number): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new AuthServerSettingsError(`This is not a PEM private key (${(err as Error).message.replace(/^error:\S+:/, '')}).`);
  }
  const alg = algorithmOf(privateKey);
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const meta = { kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...publicJwk, ...meta },
    origin,
    createdAt,
    ...(retiredAt !== undefined ? { retiredAt } : {}),
  };
}

export class KeyRing {
  private readonly now: () => number;

  constructor(
    /** Names Gatehouse's own keys in the keychain (one authorization server each). */
    private readonly id: string,
    private readonly d: KeyRingDeps,
  ) {
    this.now = d.now ?? Date.now;
  }

  private account(): string {
    return `${INTERNAL_PREFIX}authserver:${this.id}`;
  }

  /** A secret the settings name, read now: the first keychain name that exists, the file, or the variable. */
  async read(source: SecretSource, what: string): Promise<string> {
    if ('file' in source) {
      try {
        return await fs.readFile(source.file, 'utf8');
      } catch (err) {
        throw new AuthServerSettingsError(`${what}: cannot read ${source.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
      }
    }
    if ('env' in source) {
      const v = (this.d.env ?? process.env)[source.env];
      if (v === undefined || v === '') throw new AuthServerSettingsError(`${what}: the environment variable ${source.env} is not set.`);
      return v;
    }
    const names = await this.d.secrets().list();
    const found = source.keychain.find((n) => names.includes(n));
    if (found === undefined) throw new AuthServerSettingsError(`${what}: no secret named ${source.keychain.join(' or ')}. Add it with: gatehouse secret set ${source.keychain[0]}`);
    return this.d.secrets().get(found);
  }

  private async own(): Promise<OwnKeys> {
    const raw = await this.d.keychain.get(this.account());
    if (raw === null) return { signing: [], hmac: [] };
    const parsed = OwnKeysSchema.safeParse(JSON.parse(raw));
    // Unreadable keys are never replaced silently: tokens signed with them would stop verifying unannounced.
    if (!parsed.success) throw new AuthServerSettingsError(`The authorization server's keys in the keychain (${this.account()}) are unreadable; remove them to start over.`);
    return parsed.data;
  }

  private async saveOwn(keys: OwnKeys): Promise<void> {
    await this.d.keychain.set(this.account(), JSON.stringify(keys));
  }

  /**
   * The keys to use now: the settings' ones when they name any, else Gatehouse's own (made on first
   * use). Retired own keys whose tokens have all expired (`keepFor` after retirement) are dropped.
   */
  async load(settings: { signingKeys: SecretSource[]; hmacKeys: SecretSource[] }, keepForMs: number): Promise<KeyMaterial> {
    let own = await this.own();
    let changed = false;
    if (settings.signingKeys.length === 0 && own.signing.length === 0) {
      own = { ...own, signing: [{ pem: await newPem(), createdAt: this.now() }] };
      changed = true;
    }
    if (settings.hmacKeys.length === 0 && own.hmac.length === 0) {
      own = { ...own, hmac: [randomBytes(MIN_HMAC_BYTES).toString('base64')] };
      changed = true;
    }
    const kept = own.signing.filter((k) => k.retiredAt === undefined || k.retiredAt + keepForMs > this.now());
    if (kept.length !== own.signing.length) {
      own = { ...own, signing: kept };
      changed = true;
    }
    if (changed) await this.saveOwn(own);

    const signing = settings.signingKeys.length
      ? await Promise.all(settings.signingKeys.map(async (src, i) => signingKeyFromPem(await this.read(src, i === 0 ? 'The signing key' : `Signing key ${i + 1}`), 'settings', 0)))
      : await Promise.all(own.signing.map((k) => signingKeyFromPem(k.pem, 'own', k.createdAt, k.retiredAt)));
    const hmac = settings.hmacKeys.length
      ? await Promise.all(settings.hmacKeys.map(async (src, i) => hmacKey(await this.read(src, i === 0 ? 'The HMAC key' : `HMAC key ${i + 1}`), i === 0 ? 'The HMAC key' : `HMAC key ${i + 1}`)))
      : own.hmac.map((b64) => Buffer.from(b64, 'base64'));
    return { signing, hmac };
  }

  /**
   * A new own signing key first (PEM-imported or made here); the one that signed until now is retired,
   * still published until `keepFor` has passed. Refused when the settings name the keys (rotate them there).
   */
  async rotate(settings: { signingKeys: SecretSource[] }, pem?: string): Promise<SigningKey> {
    if (settings.signingKeys.length) throw new AuthServerSettingsError('The settings name the signing keys: rotate them there (a new key first, the old one after it).');
    const next = pem ?? (await newPem());
    const key = await signingKeyFromPem(next, 'own', this.now()); // checks an imported PEM before anything changes
    const own = await this.own();
    if (own.signing.some((k) => k.retiredAt === undefined && k.pem.trim() === next.trim())) throw new AuthServerSettingsError('This key already signs.');
    const retiredAt = this.now();
    await this.saveOwn({ ...own, signing: [{ pem: next, createdAt: key.createdAt }, ...own.signing.map((k) => (k.retiredAt === undefined ? { ...k, retiredAt } : k))] });
    return key;
  }
}

async function newPem(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return exportPKCS8(privateKey);
}

/** HMAC key text as ToolHive takes it: the bytes as written (a base64 string is fine too), at least 32 of them. */
function hmacKey(text: string, what: string): Buffer {
  const bytes = Buffer.from(text.replace(/\r?\n$/, ''), 'utf8');
  if (bytes.length < MIN_HMAC_BYTES) throw new AuthServerSettingsError(`${what} must be at least ${MIN_HMAC_BYTES} bytes (openssl rand -base64 32 makes one).`);
  return bytes;
}
