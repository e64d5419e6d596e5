import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { startApiParts, type ApiParts, type TestIssuer } from "../test-stack.js";
import { createHousekeeping } from "../../functions/data/housekeeping.js";
import type { Store } from "../../functions/data/store.js";
import { runJob, runTick, type JobSummary, type TickSummary } from "../../functions/jobs/run.js";
import type { OpenRouterClientOptions } from "../../functions/openrouter/client.js";
import type { JobName } from "../../functions/domain/timetable.js";
import { guardrailSpec, type GovernanceMode } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import type { FaultMap } from "../emulator/index.js";

/**
 * The product's real parts on loopback, wired as the API Lambda wires them (functions/api/handler.ts):
 * dynalite, the OpenRouter emulator, a local JWKS issuer, the store, the claim engine with the
 * Lambda's retry settings, the Hono app served over a loopback HTTP server, and the jobs runner.
 *
 * Two counters are instrumentation, not mocks: every upstream HTTP attempt (the client's `onCall`)
 * and every DynamoDB write command (a middleware on the DynamoDB client's own middleware stack,
 * which the store's DocumentClient shares).
 */

/** The API Lambda's OpenRouter client settings (functions/api/handler.ts). */
export const API_CLIENT_SETTINGS = { timeoutMs: 5_000, maxAttempts: 3, totalBudgetMs: 12_000 } as const;

const WRITE_TARGETS = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);

export { MANAGEMENT_OPERATIONS } from "../emulator/index.js";

export interface Counters {
  /** DynamoDB write commands by operation (PutItem, UpdateItem, DeleteItem, ...), conditional failures included. */
  writes: Map<string, number>;
  reads: number;
  /** Items those reads answered (GetItem's item, Query's and Scan's items, BatchGetItem's responses). */
  itemsRead: number;
  /** Upstream HTTP attempts by operation (keys.create, guardrails.assign, ...), retries included. */
  upstream: Map<string, number>;
  /** DynamoDB round-trip times (ms) by "Operation ITEM" (e.g. "UpdateItem LEDGER", "PutItem CLAIM"). */
  dynamoMs: Map<string, number[]>;
}

/** A confirmed attendee with a signed ID token. */
export interface BenchUser {
  sub: string;
  email: string;
  token: string;
}

/**
 * What the claim scenarios need from a set-up, whether every part shares this process
 * (`startBenchRig`) or the API, the local DynamoDB and the emulator each have their own (`split.ts`).
 */
export interface ClaimTarget {
  /** Writes the workshop item and the index as the deploy does, then runs its open job (guardrail + ledger). */
  openWorkshop(w: Workshop): Promise<void>;
  /** Confirmed attendees with signed ID tokens (the confirm step written directly). */
  attendees(prefix: string, n: number): Promise<BenchUser[]>;
  /** One HTTP request to the API over loopback, as a browser sends it. */
  request(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; text: string }>;
  setFaults(faults: FaultMap): Promise<void>;
  /** CPU time (ms) of the process the API runs in, so far. */
  apiCpuMs(): Promise<number>;
  /** Names of every key upstream (disabled ones included). */
  upstreamKeyNames(): Promise<string[]>;
  store: Store;
}

export interface BenchRig extends ClaimTarget, ApiParts {
  /** The app on a loopback HTTP server, e.g. http://127.0.0.1:PORT */
  apiOrigin: string;
  counters: Counters;
  resetCounters(): void;
  totalWrites(): number;
  totalUpstream(): number;
  job(job: JobName, slug: string): Promise<JobSummary>;
  /** The deployment-wide sync tick (functions/jobs/tick.ts). */
  tick(): Promise<TickSummary>;
  close(): Promise<void>;
}

export interface BenchRigOptions {
  /** Seed for the emulator's fault dice. */
  seed?: number;
  client?: Partial<OpenRouterClientOptions>;
  now?: () => number;
  leaseMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** How the engine and the jobs govern keys (default "assignment"); "workspace" runs the emulator as an organization's account. */
  governance?: GovernanceMode;
}

export async function startBenchRig(opts: BenchRigOptions = {}): Promise<BenchRig> {
  const counters: Counters = { writes: new Map(), reads: 0, itemsRead: 0, upstream: new Map(), dynamoMs: new Map() };
  const parts = await startApiParts({
    tablePrefix: "bench",
    seed: opts.seed,
    client: { ...API_CLIENT_SETTINGS, ...opts.client, onCall: (op) => counters.upstream.set(op, (counters.upstream.get(op) ?? 0) + 1) },
    now: opts.now,
    leaseMs: opts.leaseMs,
    governance: opts.governance,
    log: opts.log ?? (() => {}),
  });
  const { dynamo, upstream, issuer, names, store, workshops, openrouter, engine, app, now } = parts;
  // Added after the store was made, before its first call: its document client and the claim path's
  // cached twin (functions/data/dynamo-client.ts) share this middleware stack, so their commands count too.
  dynamo.client.middlewareStack.add(
    (next) => async (args) => {
      const target = String((args.request as { headers?: Record<string, string> }).headers?.["x-amz-target"] ?? "").split(".").pop() ?? "";
      if (WRITE_TARGETS.has(target)) counters.writes.set(target, (counters.writes.get(target) ?? 0) + 1);
      else if (target) counters.reads++;
      const started = performance.now();
      try {
        const result = await next(args);
        if (target && !WRITE_TARGETS.has(target)) counters.itemsRead += itemsIn(result.output);
        return result;
      } finally {
        const label = `${target} ${itemKind(args.input)}`.trim();
        const list = counters.dynamoMs.get(label) ?? counters.dynamoMs.set(label, []).get(label)!;
        list.push(performance.now() - started);
      }
    },
    { step: "build", name: "benchWriteCounter" },
  );
  const housekeeping = createHousekeeping({ client: dynamo.client, tableNames: names });

  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, () => resolve(s));
    s.once("error", reject);
  });
  const apiOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const job = (name: JobName, slug: string) => runJob({ job: name, slug }, { store, housekeeping, engine, openrouter, now, governance: opts.governance });
  const tick = () => runTick({ store, housekeeping, engine, openrouter, now, governance: opts.governance });
  const openWorkshop = workshopOpener(store, job, now);

  const rig: BenchRig = {
    ...parts,
    apiOrigin,
    counters,
    resetCounters() {
      counters.writes.clear();
      counters.upstream.clear();
      counters.reads = 0;
      counters.itemsRead = 0;
      counters.dynamoMs.clear();
      upstream.emulator.resetStats();
    },
    totalWrites: () => sum(counters.writes),
    totalUpstream: () => sum(counters.upstream),
    setFaults: async (faults) => upstream.emulator.setFaults(faults),
    async openWorkshop(w) {
      await openWorkshop(w);
      workshops.invalidate();
    },
    attendees: (prefix, n) => confirmedAttendees(store, issuer, prefix, n, now),
    job,
    tick,
    request: (method, path, token, body) => requestOver(apiOrigin, method, path, token, body),
    apiCpuMs: async () => {
      const used = process.cpuUsage();
      return (used.user + used.system) / 1000;
    },
    upstreamKeyNames: async () => upstream.emulator.state.keys.map((k) => k.name),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await parts.close();
    },
  };
  return rig;
}

/**
 * Opens workshops as the deploy and the open job do: the CONFIG item, the workshop index listing
 * every workshop opened so far, then the open job (guardrail + ledger).
 */
export function workshopOpener(store: Store, job: (name: JobName, slug: string) => Promise<JobSummary>, now: () => number) {
  const opened = new Map<string, Workshop>();
  return async (w: Workshop) => {
    await store.putWorkshop(w.slug, { config: w }, now());
    opened.set(w.slug, w);
    await store.putCatalog([...opened.values()], now());
    const summary = await job("open", w.slug);
    if (!summary.ok) throw new Error(`open job for ${w.slug} failed: ${summary.errors.join("; ")}`);
    // The guardrail is the one the open job ensured; a claim never creates it.
    if (!(await store.getWorkshop(w.slug))?.guardrail_id) throw new Error(`no guardrail recorded for ${guardrailSpec(w).name}`);
  };
}

/** Confirmed attendees (the confirm step written directly, sixteen at a time: set-up, not measured). */
export async function confirmedAttendees(store: Store, issuer: TestIssuer, prefix: string, n: number, now: () => number): Promise<BenchUser[]> {
  const users = Array.from({ length: n }, (_, i) => ({ sub: `${prefix}-${i}`, email: `${prefix}-${i}@example.com` }));
  for (let i = 0; i < users.length; i += 16) {
    await Promise.all(users.slice(i, i + 16).map((u) => store.confirmProfile(u.sub, { displayName: u.sub }, now())));
  }
  return users.map((u) => ({ ...u, token: issuer.tokenFor(u) }));
}

/** One HTTP request to an API origin, as a browser sends it. */
export async function requestOver(origin: string, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${origin}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

/** How many items a read command's output holds. */
function itemsIn(output: unknown): number {
  const o = output as { Item?: unknown; Items?: unknown[]; Responses?: Record<string, unknown[]> } | undefined;
  if (o?.Items) return o.Items.length;
  if (o?.Responses) return Object.values(o.Responses).reduce((n, items) => n + items.length, 0);
  return o?.Item ? 1 : 0;
}

/** Which kind of item a command touches: the sort key's prefix (LEDGER, CLAIM, EMAIL, ...) or the table's hash key. */
function itemKind(input: unknown): string {
  const i = input as { Key?: Record<string, unknown>; Item?: Record<string, unknown> } | undefined;
  const key = i?.Key ?? i?.Item;
  if (!key) return "";
  const sk = key.sk as string | { S?: string } | undefined;
  const text = typeof sk === "string" ? sk : sk?.S;
  if (text) return text.split("#")[0]!;
  return key.user_id !== undefined ? "ATTENDEE" : "";
}

/** Nearest-rank percentile of an unsorted sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);
