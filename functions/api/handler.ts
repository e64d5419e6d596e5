import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { handle } from "hono/aws-lambda";
import { createTokenVerifier } from "../auth/verify.js";
import { lambdaCredentials } from "../aws-credentials.js";
import { loadManagementKey, loadOriginVerifySecret, readConfig } from "../config.js";
import { createDynamoClient } from "../data/dynamo-client.js";
import { createStore } from "../data/store.js";
import { createClaimEngine } from "../domain/claims.js";
import { createWorkshopCatalog } from "../domain/workshops.js";
import { createOpenRouterClient } from "../openrouter/client.js";
import { createEmfObserver } from "../observability/emf.js";
import { createLogger, eventLog, withLogContext } from "../observability/log.js";
import { observeClaims, observeOpenRouter } from "../observability/observe.js";
import { createApp } from "./app.js";
import { deferredOpenRouterClient } from "./deferred-openrouter.js";
import { requireOriginSecret } from "./origin-verify.js";

// Everything expensive lives at module scope, once per container: the environment, the DynamoDB
// client, the token verifier with its JWKS cache, the management key, the workshop cache, the
// logger and the metrics (observability/).
const config = readConfig();
const logger = createLogger("api");
const log = eventLog(logger);
const observe = createEmfObserver();

const store = createStore({ client: createDynamoClient({ credentials: lambdaCredentials }), tableNames: config.tables, retention: config.retention });
const secrets = new SecretsManagerClient({ credentials: lambdaCredentials });
const workshops = createWorkshopCatalog({ store, ttlMs: 30_000, onInvalid: (err) => log("workshop_item_invalid", { error: err.message }) });
const openrouter = deferredOpenRouterClient(() =>
  loadManagementKey(config, secrets).then((apiKey) =>
    observeOpenRouter(createOpenRouterClient({ apiKey, serverURL: config.openrouter.baseUrl, timeoutMs: 5_000, maxAttempts: 3, totalBudgetMs: 12_000 }), observe),
  ),
);
const now = () => Date.now();
const engine = observeClaims(createClaimEngine({ store, openrouter, workshops, now, governance: config.openrouter.governance, log }), observe);

export const app = createApp({
  store,
  engine,
  workshops,
  verifyToken: createTokenVerifier(config.auth),
  now,
  attendeeBaseUrl: config.attendeeBaseUrl,
  allowedOrigins: config.allowedOrigins,
  log,
});

// In the cloud only requests CloudFront forwarded (with its secret header) reach the app; the header's
// value comes from Secrets Manager, once per container, never from the environment.
const { originVerify } = config;
const verified = requireOriginSecret(
  originVerify && (() => loadOriginVerifySecret(originVerify, secrets)),
  handle(app),
  (err) => log("origin_verify_secret_unavailable", { error: err instanceof Error ? err.name : "error" }),
);
// Every record logged while answering carries the request's ids (the claim id once a claim knows it).
export const handler: typeof verified = (event, context) => {
  if (context?.awsRequestId) logger.addContext(context as unknown as Parameters<typeof logger.addContext>[0]);
  const requestId = (event.requestContext as { requestId?: string } | undefined)?.requestId ?? context?.awsRequestId;
  return withLogContext({ request_id: context?.awsRequestId ?? requestId, correlation_id: requestId }, () => verified(event, context));
};
