import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { deferredOpenRouterClient } from "../api/deferred-openrouter.js";
import { lambdaCredentials } from "../aws-credentials.js";
import { loadManagementKey } from "../config.js";
import { createDynamoClient } from "../data/dynamo-client.js";
import { createHousekeeping } from "../data/housekeeping.js";
import { createStore } from "../data/store.js";
import { createClaimEngine } from "../domain/claims.js";
import { createWorkshopCatalog } from "../domain/workshops.js";
import { createOpenRouterClient } from "../openrouter/client.js";
import { redactKeys } from "../openrouter/errors.js";
import { createEmfObserver } from "../observability/emf.js";
import { createLogger, eventLog, withLogContext } from "../observability/log.js";
import { observeJobs, observeOpenRouter, observeTick } from "../observability/observe.js";
import { readJobsConfig } from "./config.js";
import type { JobInput } from "../domain/timetable.js";
import { JobIncompleteError, createJobRunner, createTickRunner, isTickInput, type JobSummary, type TickSummary } from "./run.js";

/**
 * The jobs Lambda: EventBridge Scheduler invokes it with `{job, slug}` (open, close, expire; sync by
 * hand) or `{job: "tick"}` (the deployment-wide sync tick every few minutes). It runs the job, logs
 * one JSON line with the summary (counts, never a key; a tick logs one per workshop it synced, as a
 * sync job would, then its own) and returns it. A one-off job (open, close, expire) that finished
 * with errors throws, so Lambda's asynchronous retries run it again and then the dead-letter queue
 * keeps it (every job is idempotent); a sync or a tick does not throw, the next tick comes in minutes.
 */

const config = readJobsConfig();
const logger = createLogger("jobs");
const log = eventLog(logger);
const observe = createEmfObserver();

const dynamo = createDynamoClient({ credentials: lambdaCredentials });
const secrets = new SecretsManagerClient({ credentials: lambdaCredentials });
const store = createStore({ client: dynamo, tableNames: config.tables });
const housekeeping = createHousekeeping({ client: dynamo, tableNames: config.tables });
const openrouter = deferredOpenRouterClient(() =>
  loadManagementKey(config, secrets).then((apiKey) =>
    // A job has minutes, not a waiting attendee: longer per-call budgets than the API's.
    observeOpenRouter(createOpenRouterClient({ apiKey, serverURL: config.openrouter.baseUrl, timeoutMs: 15_000, maxAttempts: 5, totalBudgetMs: 45_000 }), observe),
  ),
);
const now = () => Date.now();
// Fresh workshop items for every run: a job runs every few minutes, so a cache would only go stale.
const workshops = createWorkshopCatalog({ store, ttlMs: 0 });
const governance = config.openrouter.governance;
const engine = createClaimEngine({ store, openrouter, workshops, now, governance, log });
const capUsdOf = async (slug: string) => (await workshops.get(slug)).config.openrouter.guardrail.cap_usd;
const runJob = observeJobs(createJobRunner({ store, housekeeping, engine, openrouter, now, governance }), observe, capUsdOf);
const runTick = observeTick(createTickRunner({ store, housekeeping, engine, openrouter, now, governance }), observe, capUsdOf);

/** The part of Lambda's invocation context a job uses: how long it may still run. */
interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
}

export async function handler(event: unknown, context?: InvocationContext): Promise<JobSummary | TickSummary> {
  if (context?.awsRequestId) logger.addContext(context as unknown as Parameters<typeof logger.addContext>[0]);
  // The run's correlation id names the job, so its records group in a log query.
  const what = event as Partial<JobInput> | null;
  const correlation_id = `${String(what?.job)}:${String(what?.slug ?? "")}:${context?.awsRequestId ?? Date.now()}`;
  return withLogContext({ request_id: context?.awsRequestId, correlation_id }, () => (isTickInput(event) ? tick(context) : run(event, context)));
}

async function tick(context?: InvocationContext): Promise<TickSummary> {
  const summary = await runTick({ timeLeftMs: context?.getRemainingTimeInMillis?.bind(context) });
  for (const r of summary.runs) log("job", { ...r });
  const { runs, ...rest } = summary;
  log("tick", { ...rest, synced: runs.length, failed: runs.filter((r) => !r.ok).map((r) => r.slug) });
  return summary;
}

async function run(event: unknown, context?: InvocationContext): Promise<JobSummary> {
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
