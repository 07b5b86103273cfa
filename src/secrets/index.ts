export * from './errors.js';
export * from './names.js';
export { OsKeychain, MemoryKeychain, KEYCHAIN_SERVICE, keychainError, type Keychain } from './keychain.js';
export { KeychainSecrets, EnvironmentSecrets, providerFromEnv, INTERNAL_PREFIX, type SecretsProvider } from './providers.js';
export { SealedStore } from './envelope.js';
