/**
 * The one error family of sign-in verification. Every failure is a 401 to the caller; the cause
 * (aws-jwt-verify's own error) is kept for logs and never echoed in detail to the client.
 */
export class AuthError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AuthError";
  }
}

export class TokenMissingError extends AuthError {
  constructor() {
    super("Sign in first: this request needs an Authorization: Bearer <ID token> header.");
    this.name = "TokenMissingError";
  }
}

export class TokenInvalidError extends AuthError {
  constructor(cause?: unknown) {
    super("Your sign-in is not valid (expired, or not issued for this site). Please sign in again.", { cause });
    this.name = "TokenInvalidError";
  }
}
