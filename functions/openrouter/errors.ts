/**
 * The one error family of the OpenRouter adapter. Callers branch on the class (`instanceof`), never on
 * message text: rate limited and unavailable are worth retrying later, a rejected management key is
 * an operator problem, not found and invalid request are the caller's.
 *
 * Messages never contain a key: upstream text is scrubbed of anything shaped like `sk-or-...`.
 */

export interface OpenRouterErrorContext {
  /** Operation, e.g. "POST /keys". */
  endpoint: string;
  status?: number;
  upstreamMessage?: string;
  cause?: unknown;
}

const SECRET_SHAPE = /sk-or-[A-Za-z0-9-]*[A-Za-z0-9]{8,}/g;

/** Replaces anything shaped like an OpenRouter key, so upstream text can be logged safely. */
export function redactKeys(text: string): string {
  return text.replace(SECRET_SHAPE, "sk-or-…");
}

export class OpenRouterError extends Error {
  readonly endpoint: string;
  readonly status?: number;
  readonly upstreamMessage?: string;

  constructor(message: string, context: OpenRouterErrorContext) {
    super(redactKeys(message), context.cause === undefined ? undefined : { cause: context.cause });
    this.name = "OpenRouterError";
    this.endpoint = context.endpoint;
    this.status = context.status;
    this.upstreamMessage = context.upstreamMessage === undefined ? undefined : redactKeys(context.upstreamMessage);
  }
}

/** 429. `retryAfterMs` is what upstream asked for (Retry-After), when it said. */
export class RateLimitedError extends OpenRouterError {
  readonly retryAfterMs?: number;

  constructor(message: string, context: OpenRouterErrorContext & { retryAfterMs?: number }) {
    super(message, context);
    this.name = "RateLimitedError";
    this.retryAfterMs = context.retryAfterMs;
  }
}

/** 5xx, 408, network failures and timeouts: OpenRouter could not be reached or could not answer. */
export class UpstreamUnavailableError extends OpenRouterError {
  constructor(message: string, context: OpenRouterErrorContext) {
    super(message, context);
    this.name = "UpstreamUnavailableError";
  }
}

/** 401/403 on a management call: the configured management key is missing, wrong, revoked, or not a management key. */
export class ManagementKeyRejectedError extends OpenRouterError {
  constructor(message: string, context: OpenRouterErrorContext) {
    super(message, context);
    this.name = "ManagementKeyRejectedError";
  }
}

/** 404: the key or guardrail does not exist (any more). */
export class NotFoundError extends OpenRouterError {
  constructor(message: string, context: OpenRouterErrorContext) {
    super(message, context);
    this.name = "NotFoundError";
  }
}

/** 400/422, or a request the SDK refused to send: retrying the same request cannot succeed. */
export class InvalidRequestError extends OpenRouterError {
  constructor(message: string, context: OpenRouterErrorContext) {
    super(message, context);
    this.name = "InvalidRequestError";
  }
}

/**
 * Governance "workspace" is not available to this account: OpenRouter lets only an organization's
 * admins create workspaces (403 on POST /workspaces). The message names the setting and the fix.
 */
export class GovernanceUnavailableError extends OpenRouterError {
  constructor(message: string, context: OpenRouterErrorContext) {
    super(message, context);
    this.name = "GovernanceUnavailableError";
  }
}

/** Worth another attempt: rate limited or upstream unavailable. */
export function isRetryable(err: unknown): err is RateLimitedError | UpstreamUnavailableError {
  return err instanceof RateLimitedError || err instanceof UpstreamUnavailableError;
}
