import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { createHousekeeping } from "../data/housekeeping.js";
import type { Store } from "../data/store.js";
import type { JobDeps } from "./run.js";
import { runTick } from "./tick.js";

/**
 * The deployment-wide sync tick against the real parts (dynalite, the OpenRouter emulator, claims
 * made through the API): which workshops it syncs, one listing for all of them, one credit check,
 * and one workshop's failure or the invocation's time limit never costing the others their sync.
 */

const HOUR = 3_600_000;

describe("the sync tick", () => {
  let stack: TestStack;
  let deps: JobDeps;

  beforeAll(async () => {
    stack = await startTestStack();
    deps = { store: stack.store, housekeeping: createHousekeeping({ client: stack.dynamo.client, tableNames: stack.store.tableNames }), engine: stack.engine, openrouter: stack.openrouter, now: stack.now };
    const now = stack.now();
    const later = (h: number) => new Date(now + h * HOUR).toISOString();
    // Two open workshops, one upcoming (its sync window not begun), one long over (its window ended).
    for (const slug of ["tick-a", "tick-b"]) await stack.addWorkshop(testWorkshop(slug, now));
    await stack.addWorkshop(testWorkshop("tick-later", now, { claims_open_at: later(24), claims_close_at: later(26), starts_at: later(25), ends_at: later(27) }));
    await stack.addWorkshop(testWorkshop("tick-over", now, { claims_open_at: later(-30), claims_close_at: later(-28), starts_at: later(-29), ends_at: later(-27) }));
    for (const [slug, email] of [["tick-a", "a1@example.com"], ["tick-a", "a2@example.com"], ["tick-b", "b1@example.com"]] as const) {
      expect((await stack.call("POST", `/api/workshops/${slug}/claim`, (await stack.attendee(email)).token)).status).toBe(201);
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("syncs every workshop in its sync window from one listing of the keys, then checks the credit once", async () => {
    stack.upstream.emulator.resetStats();
    const tick = await runTick(deps);
    expect(tick).toMatchObject({ job: "tick", ok: true, keys_listed: 3, deferred: [], errors: [] });
    expect(tick.runs.map((r) => [r.slug, r.job, r.ok, r.keys]).sort()).toEqual([
      ["tick-a", "sync", true, 2],
      ["tick-b", "sync", true, 1],
    ]);
    const calls = stack.upstream.emulator.stats().calls;
    expect(calls["keys.list"]).toBe(1);
    expect(calls["credits"]).toBe(1);
    // The credit check still counts the upcoming workshop (300 keys × $2) beside the open ones.
    expect(tick.worst_case_spend_usd).toBe(600 + 600 + 600);
    // Each synced workshop's figure is on its ledger now.
    const figures = await stack.store.getLedgerSpendFigures(["tick-a", "tick-b"]);
    expect(figures.get("tick-a")!.live_unspent).toMatchObject({ usd: 4, committed_ever_usd: 4 });
    expect(figures.get("tick-b")!.live_unspent).toMatchObject({ usd: 2, committed_ever_usd: 2 });
  });

  it("reports one workshop's failure in its own summary and still syncs the others and checks the credit", async () => {
    // A fault the local DynamoDB cannot produce for one workshop only: its claims cannot be read.
    const store = new Proxy(stack.store, {
      get: (target, prop, receiver) =>
        prop === "listClaims"
          ? (...args: Parameters<Store["listClaims"]>) => (args[0] === "tick-b" ? Promise.reject(new Error("ProvisionedThroughputExceededException")) : target.listClaims(...args))
          : Reflect.get(target, prop, receiver),
    });
    const tick = await runTick({ ...deps, store });
    expect(tick.ok).toBe(false);
    const bySlug = Object.fromEntries(tick.runs.map((r) => [r.slug, r]));
    expect(bySlug["tick-a"]).toMatchObject({ ok: true, keys: 2 });
    expect(bySlug["tick-b"]).toMatchObject({ ok: false });
    expect(bySlug["tick-b"]!.errors.join(" ")).toMatch(/sync: .*ProvisionedThroughputExceededException/);
    expect(tick.credit_available_usd).toBeGreaterThan(0);
    expect(tick.errors).toEqual([]);
  });

  it("starts no workshop once the invocation is nearly out of time, and says which are left for the next tick", async () => {
    stack.upstream.emulator.resetStats();
    const tick = await runTick(deps, { timeLeftMs: () => 10_000 });
    expect(tick.runs).toEqual([]);
    expect(tick.deferred.sort()).toEqual(["tick-a", "tick-b"]);
    expect(tick.ok).toBe(false);
    expect(tick.errors.join(" ")).toMatch(/next tick/);
    expect(stack.upstream.emulator.stats().calls["keys.list"] ?? 0).toBe(0);
  });
});
