import { createHash, timingSafeEqual } from "node:crypto";
import type { APIGatewayProxyResult, LambdaContext, LambdaEvent } from "hono/aws-lambda";

/**
 * Only requests that came through the site's CloudFront distribution reach the API. The HTTP API's
 * own execute-api URL is public; CloudFront adds a secret header to every request it sends to the
 * API origin (infra/site.ts), and this check refuses a request without it before the app runs. So
 * nobody can skip CloudFront (its caching, its optional WAF rule) by calling the API directly.
 *
 * Without ORIGIN_VERIFY_SECRET (the local stack, where the app is served on loopback) there is no
 * check.
 */

/** The header CloudFront sets on requests to the API origin (it overwrites one a viewer sent). */
export const ORIGIN_VERIFY_HEADER = "x-origin-verify";
/** The Lambda environment variable holding the expected value. */
export const ORIGIN_VERIFY_ENV = "ORIGIN_VERIFY_SECRET";

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

/**
 * Wraps the API Lambda's handler: with a secret, a request without the right header gets a 403 JSON
 * error and never reaches the app; without one, the handler is returned as it is.
 */
export function requireOriginSecret(
  secret: string | undefined,
  handler: (event: LambdaEvent, context?: LambdaContext) => Promise<APIGatewayProxyResult>,
): (event: LambdaEvent, context?: LambdaContext) => Promise<APIGatewayProxyResult> {
  if (!secret) return handler;
  return async (event, context) => {
    if (comesFromOrigin(event as EventWithHeaders, secret)) return handler(event, context);
    return {
      statusCode: 403,
      headers: { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff" },
      body: JSON.stringify({ error: { code: "forbidden", message: "Call the API through the site's own address, not the API's." } }),
      isBase64Encoded: false,
    };
  };
}
