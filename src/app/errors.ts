/** Errors the control API maps to stable HTTP statuses and CLI exit codes. */
export class NotFoundError extends Error {}
export class ConflictError extends Error {}
export class BadRequestError extends Error {}
export class EngineUnavailableError extends Error {}
/** A client's configuration file cannot be changed as asked (client not installed, file malformed, locked, read-only). */
export class ClientConfigError extends Error {}
