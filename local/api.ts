import { createApp } from "../functions/api/app.js";
import { createTokenVerifier, type AuthConfig } from "../functions/auth/verify.js";
import { createHousekeeping } from "../functions/data/housekeeping.js";
import type { Store } from "../functions/data/store.js";
import type { TableNames } from "../functions/data/tables.js";
import { createClaimEngine, type ClaimEngine } from "../functions/domain/claims.js";
import type { JobInput } from "../functions/domain/timetable.js";
import { createWorkshopCatalog, type WorkshopCatalog } from "../functions/domain/workshops.js";
import { createJobRunner, type JobSummary } from "../functions/jobs/run.js";
import type { OpenRouterClient } from "../functions/openrouter/types.js";
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
  auth: AuthConfig;
  attendeeBaseUrl: string;
  /** Structured events of the app and the engine (never a key). */
  onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

export interface LocalApi {
  fetch(req: Request): Response | Promise<Response>;
  runJob(input: JobInput): Promise<JobSummary>;
  engine: ClaimEngine;
  workshops: WorkshopCatalog;
}

export function createLocalApi(opts: LocalApiOptions): LocalApi {
  const now = () => opts.clock.now();
  const log = opts.onEvent ?? (() => {});
  // A short cache: the stack writes every CONFIG item before it serves, and a rehearsal may rewrite one.
  const workshops = createWorkshopCatalog({ store: opts.store, ttlMs: 5_000, onInvalid: (err) => log("workshop_item_invalid", { error: err.message }) });
  const engine = createClaimEngine({ store: opts.store, openrouter: opts.openrouter, workshops, now, log });
  const app = createApp({
    store: opts.store,
    engine,
    workshops,
    verifyToken: createTokenVerifier(opts.auth),
    now,
    attendeeBaseUrl: opts.attendeeBaseUrl,
    log,
  });
  const runJob = createJobRunner({
    store: opts.store,
    housekeeping: createHousekeeping({ client: opts.dynamo, tableNames: opts.tableNames }),
    engine,
    openrouter: opts.openrouter,
    now,
  });
  return { fetch: (req) => app.fetch(req), runJob, engine, workshops };
}
