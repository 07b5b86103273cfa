import { z } from 'zod';
import { AppError, BadRequestError, ClientConfigError, ConflictError, EngineUnavailableError, ForbiddenError, NotFoundError } from '../app/errors.js';
import { PolicyCheckError } from '../app/authz-manager.js';
import { InvalidNameError } from '../app/names.js';
import { AuthConfigFormatError } from '../auth/index.js';
import { ConfigFileError } from '../clients/config-file/index.js';
import { EngineNotFoundError, ImageUnavailableError } from '../runtime/index.js';
import { DataKeyError, InvalidSecretNameError, KeychainUnavailableError, ReadOnlySecretsError, SecretNotFoundError } from '../secrets/index.js';
import { ErrorHintSchema, type ApiErrorBody, type ApiErrorCode } from './contract.js';

/** A core error as the API answers it: HTTP status, stable code, message, and a hint when there is one. */
export function errorResponse(err: unknown): { status: number; body: ApiErrorBody } {
  const [status, code] = statusOf(err);
  const message = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') : (err as Error).message;
  const hint = ErrorHintSchema.safeParse((err as { hint?: unknown } | null)?.hint);
  return {
    status,
    body: {
      error: {
        code,
        message,
        ...(hint.success ? { hint: hint.data } : {}),
        // A refused policy set carries its problems (policy number, line, column) for the UI to point at.
        ...(err instanceof PolicyCheckError ? { check: err.check } : {}),
      },
    },
  };
}

function statusOf(err: unknown): [number, ApiErrorCode] {
  if (err instanceof NotFoundError || err instanceof SecretNotFoundError) return [404, 'not_found'];
  if (err instanceof ForbiddenError) return [403, 'forbidden'];
  if (err instanceof ConflictError || err instanceof ReadOnlySecretsError) return [409, 'conflict'];
  if (err instanceof BadRequestError || err instanceof InvalidNameError || err instanceof InvalidSecretNameError || err instanceof z.ZodError) return [400, 'bad_request'];
  if (err instanceof EngineNotFoundError || err instanceof EngineUnavailableError) return [503, 'engine_unavailable'];
  if (err instanceof ImageUnavailableError) return [422, 'image_unavailable'];
  if (err instanceof KeychainUnavailableError || err instanceof DataKeyError) return [503, 'keychain_unavailable'];
  if (err instanceof ClientConfigError || err instanceof ConfigFileError) return [409, 'client_config'];
  if (err instanceof PolicyCheckError || err instanceof AuthConfigFormatError) return [400, 'bad_request'];
  if (err instanceof AppError) return [400, 'bad_request'];
  return [500, 'internal'];
}
