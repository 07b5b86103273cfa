import { ReadOnlySecretsError, SecretNotFoundError } from './errors.js';
import type { Keychain } from './keychain.js';
import { assertValidSecretName } from './names.js';

/** Where server secrets come from. Values flow out only through get(); list() gives names. */
export interface SecretsProvider {
  readonly kind: 'keychain' | 'environment';
  readonly description: string;
  readonly writable: boolean;
  get(name: string): Promise<string>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<boolean>;
  list(): Promise<string[]>;
}

/** Accounts Gatehouse keeps for itself in the same service; their names can never be valid secret names. */
export const INTERNAL_PREFIX = 'gatehouse:';

export class KeychainSecrets implements SecretsProvider {
  readonly kind = 'keychain' as const;
  readonly description = 'the OS keychain';
  readonly writable = true;

  constructor(private readonly keychain: Keychain) {}

  async get(name: string): Promise<string> {
    assertValidSecretName(name);
    const v = await this.keychain.get(name);
    if (v === null) throw new SecretNotFoundError(name, this.description);
    return v;
  }

  async set(name: string, value: string): Promise<void> {
    assertValidSecretName(name);
    if (value === '') throw new Error(`Secret "${name}" would be empty: nothing was stored.`);
    await this.keychain.set(name, value);
  }

  async delete(name: string): Promise<boolean> {
    assertValidSecretName(name);
    return this.keychain.delete(name);
  }

  async list(): Promise<string[]> {
    return (await this.keychain.accounts()).filter((a) => !a.startsWith(INTERNAL_PREFIX)).sort();
  }
}

/** Read-only secrets from GATEHOUSE_SECRET_<NAME> variables, for CI and headless machines (ToolHive's environment provider). */
export class EnvironmentSecrets implements SecretsProvider {
  readonly kind = 'environment' as const;
  readonly description = 'the environment (GATEHOUSE_SECRET_<NAME>)';
  readonly writable = false;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async get(name: string): Promise<string> {
    assertValidSecretName(name);
    const v = this.env[`GATEHOUSE_SECRET_${name}`];
    if (v === undefined || v === '') throw new SecretNotFoundError(name, this.description);
    return v;
  }

  async set(): Promise<void> {
    throw new ReadOnlySecretsError('The environment secrets provider is read-only: set GATEHOUSE_SECRET_<NAME> in the environment of the Gatehouse core instead.');
  }

  async delete(): Promise<boolean> {
    throw new ReadOnlySecretsError('The environment secrets provider is read-only: unset GATEHOUSE_SECRET_<NAME> in the environment of the Gatehouse core instead.');
  }

  async list(): Promise<string[]> {
    return Object.keys(this.env)
      .filter((k) => k.startsWith('GATEHOUSE_SECRET_') && this.env[k])
      .map((k) => k.slice('GATEHOUSE_SECRET_'.length))
      .sort();
  }
}

export function providerFromEnv(keychain: Keychain, env: NodeJS.ProcessEnv = process.env): SecretsProvider {
  const kind = env['GATEHOUSE_SECRETS_PROVIDER'] ?? 'keychain';
  if (kind === 'environment') return new EnvironmentSecrets(env);
  if (kind !== 'keychain') throw new Error(`GATEHOUSE_SECRETS_PROVIDER must be "keychain" or "environment", not "${kind}".`);
  return new KeychainSecrets(keychain);
}
