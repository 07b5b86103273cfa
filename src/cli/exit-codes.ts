import { ApiError } from '../api/browser.js';

/** Exit codes scripts can rely on (documented in the README). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  engineUnavailable: 5,
  coreUnavailable: 6,
  keychainUnavailable: 7,
  clientConfig: 8,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'bad_request':
        return ExitCode.usage;
      case 'not_found':
        return ExitCode.notFound;
      case 'conflict':
        return ExitCode.conflict;
      case 'engine_unavailable':
      case 'image_unavailable':
        return ExitCode.engineUnavailable;
      case 'keychain_unavailable':
        return ExitCode.keychainUnavailable;
      case 'client_config':
        return ExitCode.clientConfig;
      default:
        return ExitCode.failure;
    }
  }
  return ExitCode.failure;
}
