import { InvalidSecretNameError } from './errors.js';

/** Names end up as keychain account names, env var suffixes and CLI arguments: keep them plain. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export function assertValidSecretName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new InvalidSecretNameError(
      `Invalid secret name "${name.slice(0, 64)}": use letters, digits, "_", "." or "-" (up to 128), starting with a letter or "_".`,
    );
  }
}
