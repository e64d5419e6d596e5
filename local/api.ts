import { createApp } from "../functions/api/app.js";
import { createTokenVerifier, type AuthConfig } from "../functions/auth/verify.js";
import { createHousekeeping } from "../functions/data/housekeeping.js";
import type { Store } from "../functions/data/store.js";
import type { TableNames } from "../functions/data/tables.js";
import { createClaimEngine, type ClaimEngine } from "../functions/domain/claims.js";
import type { JobInput } from "../functions/domain/timetable.js";
import { createWorkshopCatalog, type WorkshopCatalog } from "../functions/domain/workshops.js";
import { createJobRunner, createTickRunner, type JobSummary, type TickSummary } from "../functions/jobs/run.js";
import type { OpenRouterClient } from "../functions/openrouter/types.js";
import type { GovernanceMode } from "../workshops/derive.js";
import { createEmfObserver } from "../functions/observability/emf.js";
import { createHealthCounters, type HealthCounters } from "../functions/observability/health.js";
import { createLogger, eventLog, withLogContext } from "../functions/observability/log.js";
import { observeClaims, observeJobs, observeOpenRouter, observeTick } from "../functions/observability/observe.js";
import { observers } from "../functions/observability/observer.js";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { StackClock } from "./clock.js";

/**
 * The API Lambda's and the jobs Lambda's wiring, for the local stack: the same app, claim engine and
 * job runner, built on the stack's DynamoDB, OpenRouter client, OpenID provider and clock.
 */

export interface LocalApiOptions {
  dynamo: DynamoDBClient;
  tableNames: TableNames;
  store: Store;
  openrouter: OpenRouterClient;
  clock: StackClock;
  /** One issuer per origin the stack answers as (see oidc.ts); a token must name one of them. */
  auth: Omit<AuthConfig, "issuer"> & { issuers: string[] };
  attendeeBaseUrl: string;
  /** How keys get their workshop's allow-list (default "assignment"), for the engine and the jobs alike. */
  governance?: GovernanceMode;
  /**
   * Print nothing. Otherwise the app, engine and jobs print the Lambdas' JSON log records and EMF
   * metric records on stdout. The health panel's counters are kept either way.
   */
  quiet?: boolean;
}

export interface LocalApi {
  fetch(req: Request): Response | Promise<Response>;
  runJob(input: JobInput): Promise<JobSummary>;
  /** The deployment-wide sync tick, as the jobs Lambda runs it. */
  runTick(): Promise<TickSummary>;
  engine: ClaimEngine;
  workshops: WorkshopCatalog;
  health: HealthCounters;
}

export function createLocalApi(opts: LocalApiOptions): LocalApi {
  const now = () => opts.clock.now();
  const log = eventLog(createLogger("api", { silent: opts.quiet }));
  const health = createHealthCounters();
  // The same data points the Lambdas print as EMF, also counted for the health panel.
  const observe = opts.quiet ? health.observer : observers(createEmfObserver(), health.observer);
  const openrouter = observeOpenRouter(opts.openrouter, observe);
  // A short cache: the stack writes every CONFIG item before it serves, and a rehearsal may rewrite one.
  const workshops = createWorkshopCatalog({ store: opts.store, ttlMs: 5_000, onInvalid: (err) => log("workshop_item_invalid", { error: err.message }) });
  const engine = observeClaims(createClaimEngine({ store: opts.store, openrouter, workshops, now, governance: opts.governance, log }), observe);
  const app = createApp({
    store: opts.store,
    engine,
    workshops,
    verifyToken: createTokenVerifier({ ...opts.auth, issuer: opts.auth.issuers }),
    now,
    attendeeBaseUrl: opts.attendeeBaseUrl,
    log,
    health,
  });
  const capUsdOf = async (slug: string) => (await workshops.get(slug)).config.openrouter.guardrail.cap_usd;
  const jobDeps = { store: opts.store, housekeeping: createHousekeeping({ client: opts.dynamo, tableNames: opts.tableNames }), engine, openrouter, now, governance: opts.governance };
  const runJob = observeJobs(createJobRunner(jobDeps), observe, capUsdOf);
  const runTick = observeTick(createTickRunner(jobDeps), observe, capUsdOf);
  // Each request is one log context, as one Lambda invocation is: its records share its ids.
  let coldStart = true;
  const fetch = async (req: Request) => {
    const cold_start = coldStart;
    coldStart = false;
    return withLogContext({ cold_start }, async () => {
      const delivered = await asApiGatewayDelivers(req);
      return delivered instanceof Response ? delivered : app.fetch(delivered);
    });
  };
  return {
    fetch,
    runJob: (input) => withLogContext({ correlation_id: `${input.job}:${input.slug}:${Date.now()}` }, () => runJob(input)),
    runTick: () => withLogContext({ correlation_id: `tick::${Date.now()}` }, () => runTick()),
    engine,
    workshops,
    health,
  };
}

/** API Gateway's largest request payload (HTTP APIs); it answers 413 above it, before the Lambda runs. */
export const API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/**
 * The request as the API Lambda receives it. API Gateway reads the whole body before it invokes the
 * function, and hono's Lambda adapter hands the app a body only when there is one, with its
 * `content-length`; a chunked upload or a bodiless preflight never reaches the app as a stream. So
 * the app sees the same request here as in the cloud, and answers the same (its body limit included).
 * A Response is API Gateway's own answer (a body above its payload limit), the function never runs.
 */
export async function asApiGatewayDelivers(req: Request): Promise<Request | Response> {
  const headers = new Headers(req.headers);
  headers.delete("transfer-encoding");
  headers.delete("content-length");
  const init: RequestInit = { method: req.method, headers };
  if (req.body) {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > API_GATEWAY_MAX_PAYLOAD_BYTES) {
        return new Response(JSON.stringify({ message: "Request Entity Too Large" }), { status: 413, headers: { "content-type": "application/json" } });
      }
      chunks.push(chunk);
    }
    if (size > 0) {
      init.body = Buffer.concat(chunks);
      headers.set("content-length", String(size));
    }
  }
  return new Request(req.url, init);
}
