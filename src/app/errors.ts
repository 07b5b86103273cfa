import type { ErrorHint } from '../api/contract.js';

/**
 * Errors the control API maps to stable codes and HTTP statuses (and the CLI to exit codes). The
 * message says what went wrong; the hint, what the user can do, for the CLI and the app to word.
 */
export class AppError extends Error {
  constructor(
    message: string,
    readonly hint?: ErrorHint,
  ) {
    super(message);
  }
}
export class NotFoundError extends AppError {}
export class ConflictError extends AppError {}
export class BadRequestError extends AppError {}
/** The caller may not have this, whatever it asks (a token for the app's window, say). */
export class ForbiddenError extends AppError {}
export class EngineUnavailableError extends AppError {}
/** A client's configuration file cannot be changed as asked (client not installed, file malformed, locked, read-only). */
export class ClientConfigError extends AppError {}
