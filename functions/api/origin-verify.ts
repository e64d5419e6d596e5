import { createHash, timingSafeEqual } from "node:crypto";
import type { APIGatewayProxyResult, LambdaContext, LambdaEvent } from "hono/aws-lambda";

/**
 * Only requests that came through the site's CloudFront distribution reach the API. The HTTP API's
 * own execute-api URL is public; CloudFront adds a secret header to every request it sends to the
 * API origin (infra/site.ts), and this check refuses a request without it before the app runs. So
 * nobody can skip CloudFront (its caching, its optional WAF rule) by calling the API directly.
 *
 * In the cloud the expected value lives in Secrets Manager (ORIGIN_VERIFY_SECRET_ARN), read once per
 * container: a Lambda environment is readable by anyone who may describe the function. Without
 * either variable (the local stack, where the app is served on loopback) there is no check.
 */

/** The header CloudFront sets on requests to the API origin (it overwrites one a viewer sent). */
export const ORIGIN_VERIFY_HEADER = "x-origin-verify";
/** The Lambda environment variable naming the Secrets Manager secret that holds the expected value. */
export const ORIGIN_VERIFY_SECRET_ARN_ENV = "ORIGIN_VERIFY_SECRET_ARN";

/** The part of an API Gateway event this check reads (payload 2.0 lowercases header names). */
interface EventWithHeaders {
  headers?: Record<string, string | undefined> | null;
}

// Digests have one length, so comparing them in constant time tells nothing about the secret.
const digest = (value: string) => createHash("sha256").update(value).digest();

export function comesFromOrigin(event: EventWithHeaders, secret: string): boolean {
  const sent = event.headers?.[ORIGIN_VERIFY_HEADER];
  return typeof sent === "string" && timingSafeEqual(digest(sent), digest(secret));
}

const refusal = (statusCode: number, code: string, message: string): APIGatewayProxyResult => ({
  statusCode,
  headers: { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff" },
  body: JSON.stringify({ error: { code, message } }),
  isBase64Encoded: false,
});

/**
 * Wraps the API Lambda's handler: with a secret, a request without the right header gets a 403 JSON
 * error and never reaches the app; without one, the handler is returned as it is. The secret may be
 * a loader (Secrets Manager): it runs once, on the container's first request, and its answer is
 * kept; a failed load answers 503 and is tried again by the next request.
 */
export function requireOriginSecret(
  secret: string | (() => Promise<string>) | undefined,
  handler: (event: LambdaEvent, context?: LambdaContext) => Promise<APIGatewayProxyResult>,
  onLoadError: (err: unknown) => void = () => undefined,
): (event: LambdaEvent, context?: LambdaContext) => Promise<APIGatewayProxyResult> {
  if (!secret) return handler;
  const load = typeof secret === "string" ? () => Promise.resolve(secret) : secret;
  let loaded: Promise<string> | undefined;
  return async (event, context) => {
    let expected: string;
    try {
      expected = await (loaded ??= load());
    } catch (err) {
      loaded = undefined;
      onLoadError(err);
      return refusal(503, "unavailable", "The API is starting up; try again in a moment.");
    }
    if (comesFromOrigin(event as EventWithHeaders, expected)) return handler(event, context);
    return refusal(403, "forbidden", "Call the API through the site's own address, not the API's.");
  };
}
