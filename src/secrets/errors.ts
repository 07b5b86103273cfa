/** Errors of the secrets layer. None of them ever carries a secret value. */
export class InvalidSecretNameError extends Error {}
export class SecretNotFoundError extends Error {
  /** What the user can do (the API's ErrorHint shape; secrets does not depend on the API). */
  readonly hint: { action: 'set-secret'; secret: string };
  constructor(readonly secretName: string, provider: string) {
    super(`Secret "${secretName}" is not in ${provider}.`);
    this.hint = { action: 'set-secret', secret: secretName };
  }
}
export class KeychainUnavailableError extends Error {}
export class ReadOnlySecretsError extends Error {}
export class DataKeyError extends Error {}
