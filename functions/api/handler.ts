import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { handle } from "hono/aws-lambda";
import { createTokenVerifier } from "../auth/verify.js";
import { lambdaCredentials } from "../aws-credentials.js";
import { loadManagementKey, loadOriginVerifySecret, readConfig } from "../config.js";
import { createStore } from "../data/store.js";
import { createClaimEngine } from "../domain/claims.js";
import { createWorkshopCatalog } from "../domain/workshops.js";
import { createOpenRouterClient } from "../openrouter/client.js";
import { createApp } from "./app.js";
import { deferredOpenRouterClient } from "./deferred-openrouter.js";
import { requireOriginSecret } from "./origin-verify.js";

// Everything expensive lives at module scope, once per container: the environment, the DynamoDB
// client, the token verifier with its JWKS cache, the management key, the workshop cache.
const config = readConfig();
const log = (event: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ event, ...fields }));

const store = createStore({ client: new DynamoDBClient({ credentials: lambdaCredentials }), tableNames: config.tables, retention: config.retention });
const secrets = new SecretsManagerClient({ credentials: lambdaCredentials });
const workshops = createWorkshopCatalog({ store, ttlMs: 30_000, onInvalid: (err) => log("workshop_item_invalid", { error: err.message }) });
const openrouter = deferredOpenRouterClient(() =>
  loadManagementKey(config, secrets).then((apiKey) =>
    createOpenRouterClient({ apiKey, serverURL: config.openrouter.baseUrl, timeoutMs: 5_000, maxAttempts: 3, totalBudgetMs: 12_000 }),
  ),
);
const now = () => Date.now();
const engine = createClaimEngine({ store, openrouter, workshops, now, log });

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
export const handler = requireOriginSecret(
  originVerify && (() => loadOriginVerifySecret(originVerify, secrets)),
  handle(app),
  (err) => log("origin_verify_secret_unavailable", { error: err instanceof Error ? err.name : "error" }),
);
