/** Errors the control API maps to stable HTTP statuses and CLI exit codes. */
export class NotFoundError extends Error {}
export class ConflictError extends Error {}
export class BadRequestError extends Error {}
export class EngineUnavailableError extends Error {}
