import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { deferredOpenRouterClient } from "../api/deferred-openrouter.js";
import { lambdaCredentials } from "../aws-credentials.js";
import { loadManagementKey } from "../config.js";
import { createHousekeeping } from "../data/housekeeping.js";
import { createStore } from "../data/store.js";
import { createClaimEngine } from "../domain/claims.js";
import { createWorkshopCatalog } from "../domain/workshops.js";
import { createOpenRouterClient } from "../openrouter/client.js";
import { redactKeys } from "../openrouter/errors.js";
import { readJobsConfig } from "./config.js";
import type { JobInput } from "../domain/timetable.js";
import { JobIncompleteError, createJobRunner, type JobSummary } from "./run.js";

/**
 * The jobs Lambda: EventBridge Scheduler invokes it with `{job, slug}` (open, close, sync, expire).
 * It runs the job, logs one JSON line with the summary (counts, never a key) and returns it. A
 * one-off job (open, close, expire) that finished with errors throws, so Lambda's asynchronous
 * retries run it again and then the dead-letter queue keeps it (every job is idempotent); a sync
 * does not throw, the next sync comes in minutes.
 */

const config = readJobsConfig();
const log = (event: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ event, ...fields }));

const dynamo = new DynamoDBClient({ credentials: lambdaCredentials });
const secrets = new SecretsManagerClient({ credentials: lambdaCredentials });
const store = createStore({ client: dynamo, tableNames: config.tables });
const housekeeping = createHousekeeping({ client: dynamo, tableNames: config.tables });
const openrouter = deferredOpenRouterClient(() =>
  loadManagementKey(config, secrets).then((apiKey) =>
    // A job has minutes, not a waiting attendee: longer per-call budgets than the API's.
    createOpenRouterClient({ apiKey, serverURL: config.openrouter.baseUrl, timeoutMs: 15_000, maxAttempts: 5, totalBudgetMs: 45_000 }),
  ),
);
const now = () => Date.now();
// Fresh workshop items for every run: a job runs every few minutes, so a cache would only go stale.
const workshops = createWorkshopCatalog({ store, ttlMs: 0 });
const engine = createClaimEngine({ store, openrouter, workshops, now, log });
const runJob = createJobRunner({ store, housekeeping, engine, openrouter, now });

/** The part of Lambda's invocation context a job uses: how long it may still run. */
interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
}

export async function handler(event: unknown, context?: InvocationContext): Promise<JobSummary> {
  // runJob checks the input's shape itself (JobError when it is not {job, slug}).
  const input = event as JobInput;
  let summary: JobSummary;
  try {
    // Near the function's timeout a run stops starting per-key work; the next run carries on.
    summary = await runJob(input, { timeLeftMs: context?.getRemainingTimeInMillis?.bind(context) });
  } catch (err) {
    const what = { job: String(input?.job), slug: String(input?.slug) };
    log("job_failed", { ...what, error: redactKeys(err instanceof Error ? `${err.name}: ${err.message}` : String(err)) });
    throw err;
  }
  log("job", { ...summary });
  if (!summary.ok && input.job !== "sync") throw new JobIncompleteError(summary);
  return summary;
}
