/** A refused request, with what RFC 6750 says to put in the challenge. Never carries the token. */
export class AuthFailure extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_token' | undefined,
    readonly description: string,
    readonly status: 400 | 401 | 503 = 401,
  ) {
    super(description);
  }
}
