import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTables, startLocalDynamo, type LocalDynamo } from "../../local/dynamo.js";
import { startEmulator, type RunningEmulator } from "../../local/emulator/index.js";
import { testWorkshop } from "../../local/test-stack.js";
import { createStore, type Store } from "../data/store.js";
import { tableNames } from "../data/tables.js";
import { createClaimEngine } from "../domain/claims.js";
import { createWorkshopCatalog } from "../domain/workshops.js";
import { createOpenRouterClient } from "../openrouter/client.js";
import { METRICS_NAMESPACE, METRICS_SERVICE } from "../observability/metrics.js";
import { captureStdout, emfFor, type EmfRecord } from "../../local/stdout-records.js";

/**
 * The Lambda entry point as EventBridge Scheduler calls it: configured only through the environment
 * (the AWS SDK's standard AWS_ENDPOINT_URL_DYNAMODB points it at dynalite), one JSON log line per
 * run, never a key in it. Keys are real: minted by the claim engine in the emulator.
 */

let dynamo: LocalDynamo;
let emu: RunningEmulator;
let store: Store;
let handler: (event: unknown, context?: { awsRequestId?: string; getRemainingTimeInMillis?: () => number }) => Promise<Record<string, unknown>>;
const names = tableNames(`jobs-handler-${process.pid}`);
const slug = "jobs-handler";
const realNow = Date.now();

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await ensureTables(dynamo.client, names);
  emu = await startEmulator({ port: 0, seed: 1 });
  Object.assign(process.env, {
    ATTENDEES_TABLE: names.attendees,
    WORKSHOPS_TABLE: names.workshops,
    OPENROUTER_BASE_URL: emu.url,
    OPENROUTER_MANAGEMENT_KEY: emu.managementKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
  });
  store = createStore({ client: dynamo.client, tableNames: names });
  await store.putWorkshop(slug, { config: testWorkshop(slug, realNow) }, realNow);
  ({ handler } = (await import("./handler.js")) as unknown as { handler: typeof handler });
});

afterAll(async () => {
  await emu?.close();
  await dynamo?.close();
});

/** Runs the handler and answers what it printed: every stdout line, its log records, its EMF records. */
async function invoke(event: unknown): Promise<{ result?: Record<string, unknown>; error?: Error; lines: string[]; logs: Record<string, unknown>[]; emf: EmfRecord[] }> {
  const out = captureStdout();
  const printed = { lines: out.lines, logs: out.logs, emf: out.emf };
  try {
    return { result: await handler(event, { awsRequestId: "req-1", getRemainingTimeInMillis: () => 60_000 }), ...printed };
  } catch (error) {
    return { error: error as Error, ...printed };
  } finally {
    out.stop();
  }
}

describe("jobs handler", () => {
  it("runs open and sync from the scheduler's input and logs one JSON line without any key", async () => {
    const opened = await invoke({ job: "open", slug });
    expect(opened.error).toBeUndefined();
    expect(opened.result).toMatchObject({ job: "open", slug, ok: true, ledger_created: true });

    const openrouter = createOpenRouterClient({ apiKey: emu.managementKey, serverURL: emu.url });
    const engine = createClaimEngine({ store, openrouter, workshops: createWorkshopCatalog({ store }), now: Date.now });
    const { claim } = await engine.claim(slug, { userId: "ann", email: "ann@example.com" });
    const res = await fetch(`${emu.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${claim.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/gpt-5-nano", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    const synced = await invoke({ job: "sync", slug });
    expect(synced.result).toMatchObject({ job: "sync", ok: true, keys: 1, usage_written: 1 });
    // One log record per run (Powertools: level, service, the run's ids), the rest is EMF.
    expect(synced.logs).toHaveLength(1);
    expect(synced.logs[0]).toMatchObject({ level: "INFO", service: "jobs", message: "job", job: "sync", slug, ok: true, request_id: "req-1" });
    expect(synced.logs[0]!.correlation_id).toBe(`sync:${slug}:req-1`);
    expect(synced.lines).toHaveLength(synced.logs.length + synced.emf.length);
    const run = emfFor(synced.emf, "JobsRun");
    expect(run).toHaveLength(1);
    expect(run[0]).toMatchObject({ JobsRun: 1, job: "sync", service: METRICS_SERVICE });
    expect(run[0]!._aws.CloudWatchMetrics[0]!.Namespace).toBe(METRICS_NAMESPACE);
    expect(emfFor(synced.emf, "UsageSynced")[0]).toMatchObject({ UsageSynced: 1, workshop: slug });
    expect(emfFor(synced.emf, "PooledSpendShareOfCap")[0]).toMatchObject({ workshop: slug });
    expect(emfFor(synced.emf, "JobsFailed")).toHaveLength(0);

    // The deployment-wide tick (the index lists the workshop, as the deploy writes it): the same
    // "job" record for the workshop's sync, then one "tick" record; metrics for both.
    await store.putCatalog([testWorkshop(slug, realNow)], realNow);
    const ticked = await invoke({ job: "tick" });
    expect(ticked.error).toBeUndefined();
    expect(ticked.result).toMatchObject({ job: "tick", ok: true, keys_listed: 1, runs: [{ job: "sync", slug, ok: true, keys: 1 }] });
    expect(ticked.logs.map((l) => l.message)).toEqual(["job", "tick"]);
    expect(ticked.logs[0]).toMatchObject({ job: "sync", slug, ok: true });
    expect(ticked.logs[1]).toMatchObject({ job: "tick", ok: true, synced: 1, failed: [] });
    expect(ticked.logs[1]!.runs).toBeUndefined();
    expect(emfFor(ticked.emf, "JobsRun").map((r) => r.job).sort()).toEqual(["sync", "tick"]);
    expect(emfFor(ticked.emf, "CreditShortfallUsd")).toHaveLength(1);
    for (const l of [...opened.lines, ...synced.lines, ...ticked.lines]) {
      expect(l).not.toContain("sk-or-");
      expect(l).not.toContain(claim.key!);
    }
  });

  it("refuses a malformed input and an unknown workshop", async () => {
    const bad = await invoke({ job: "reboot", slug });
    expect(bad.error?.name).toBe("JobError");
    expect(bad.logs[0]).toMatchObject({ level: "ERROR", message: "job_failed" });
    expect(emfFor(bad.emf, "JobsFailed")[0]).toMatchObject({ JobsFailed: 1, job: "invalid" });
    const unknown = await invoke({ job: "sync", slug: "no-such-workshop" });
    expect(unknown.error?.name).toBe("WorkshopNotFoundError");
  });

  it("throws when expire cannot disable the keys, so the scheduler retries; the retry finishes the job", async () => {
    emu.emulator.setFaults({ "keys.update": { errorRate: 1, errorStatus: 503 } });
    const failed = await invoke({ job: "expire", slug });
    emu.emulator.setFaults({});
    expect(failed.error?.name).toBe("JobIncompleteError");
    expect(failed.logs[0]).toMatchObject({ message: "job", ok: false, keys_disabled: 0 });
    expect(emfFor(failed.emf, "JobsFailed")[0]).toMatchObject({ JobsFailed: 1, job: "expire" });
    expect(emfFor(failed.emf, "OpenRouterCallsFailed")[0]).toMatchObject({ operation: "updateKey", status_class: "5xx" });
    // The plaintext is scrubbed even so: the keys also expire upstream at their expires_at.
    expect((await store.listClaims(slug)).every((c) => c.key === undefined)).toBe(true);

    const retried = await invoke({ job: "expire", slug });
    expect(retried.result).toMatchObject({ ok: true, keys_disabled: 1, claims_expired: 0 });
    expect(emu.emulator.state.keys.every((k) => k.disabled)).toBe(true);
  });
});
