/** Errors of the secrets layer. None of them ever carries a secret value. */
export class InvalidSecretNameError extends Error {}
export class SecretNotFoundError extends Error {
  constructor(readonly secretName: string, provider: string) {
    super(`Secret "${secretName}" is not in ${provider}. Set it with: gatehouse secret set ${secretName}`);
  }
}
export class KeychainUnavailableError extends Error {}
export class ReadOnlySecretsError extends Error {}
export class DataKeyError extends Error {}
