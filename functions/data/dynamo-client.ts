import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * The DynamoDB clients of the product (both Lambdas, the local stack, the tests), leaner per call
 * than the SDK's defaults, which matters on a claim path of five calls (0.62 → 0.42 ms of CPU per
 * call with table.ts `direct`, `npx tsx local/bench/per-call.ts`; docs/performance.md):
 *
 * - without three default middlewares that run on every call and do nothing here:
 *   `getUserAgentMiddleware` builds the SDK's user-agent headers (AWS's telemetry of SDK versions);
 *   `recursionDetectionMiddleware` copies a Lambda's X-Ray trace id into a header (no function has
 *   X-Ray tracing, and DynamoDB never invokes a Lambda of ours: no streams, so no loop to detect);
 *   `loggerMiddleware` hands each call to the client's logger (none is configured: the SDK's no-op).
 *   `dynamo-client.test.ts` fails if a new SDK version renames one, rather than keep them silently;
 * - with one SigV4 signer per client: by default the SDK builds a signer per request, from a copy
 *   of the client's whole configuration.
 *
 * `cachedTwin` adds a second client over the same connections whose middleware stack is resolved
 * once per command kind (the SDK's `cacheMiddleware`), for the claim path's calls made with the
 * low-level commands (table.ts `direct`): the document client refuses that option, since its
 * commands keep their own input inside the resolved handler.
 */
export const UNUSED_MIDDLEWARES = ["getUserAgentMiddleware", "recursionDetectionMiddleware", "loggerMiddleware"] as const;

export function createDynamoClient(config: DynamoDBClientConfig): DynamoDBClient {
  // The signer reads the client's resolved region and (memoized) credentials when it signs.
  const client: DynamoDBClient = new DynamoDBClient({ ...config, signer: oneSigner(() => client) });
  for (const name of UNUSED_MIDDLEWARES) client.middlewareStack.remove(name);
  return client;
}

/**
 * `client` with its middleware resolved once per command kind: the same configuration (region,
 * credentials, endpoint, retries), the same connection pool and the same middleware stack, so
 * whatever watches `client` (the bench's and the tests' call counters) sees the twin's calls too.
 * Only for the low-level commands: every call's input is read from the command it is given, never
 * from the first one. Middleware added to `client` after the twin's first call of a kind does not
 * apply to that kind: add watchers before the first call.
 */
export function cachedTwin(client: DynamoDBClient): DynamoDBClient {
  const c = client.config;
  const twin = new DynamoDBClient({
    region: c.region,
    credentials: c.credentials,
    // A custom endpoint (local); otherwise the twin finds the same one the same way (region, or the
    // AWS_ENDPOINT_URL_DYNAMODB environment variable the SDK reads).
    ...(c.isCustomEndpoint && c.endpoint ? { endpoint: c.endpoint } : {}),
    maxAttempts: c.maxAttempts,
    retryMode: c.retryMode,
    requestHandler: c.requestHandler,
    signer: c.signer,
    cacheMiddleware: true,
  });
  twin.middlewareStack = client.middlewareStack;
  return twin;
}

function oneSigner(client: () => DynamoDBClient) {
  let signer: SignatureV4 | undefined;
  return async () =>
    (signer ??= new SignatureV4({
      service: "dynamodb",
      region: () => client().config.region(),
      credentials: () => client().config.credentials(),
      sha256: Sha256,
      uriEscapePath: true,
    }));
}
