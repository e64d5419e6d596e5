import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveCapacity } from "../../workshops/derive.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { createHousekeeping } from "../data/housekeeping.js";
import type { ClaimItem, CreditCheck } from "../data/store.js";
import { checkAccountCredits, remainingWorstCaseUsd } from "./credits.js";
import { runJob, type JobDeps } from "./run.js";

/**
 * The account's credit against what the workshops can still spend: the rule as a pure function, then
 * the jobs against the OpenRouter emulator with its credit set low, and the organizers' view of it.
 */

const HOUR = 3_600_000;
const ledger = (claimed: number) => ({ claimed, committed_usd: claimed * 2, paused: false });
const claim = (status: ClaimItem["status"], usage: number) => ({ status, limit_usd: 2, usage_usd: usage }) as ClaimItem;

describe("what a workshop can still spend", () => {
  const now = Date.parse("2026-04-14T10:00:00Z");
  const w = testWorkshop("rule", now); // open, 300 keys × $2, keys expire 3.5 h from now

  it("is every key still to claim plus what live keys have not spent", () => {
    expect(remainingWorstCaseUsd(w, ledger(0), [], now)).toBe(600);
    const claims = [claim("ACTIVE", 0.5), claim("UNBOUND", 0), claim("RESERVED", 0), claim("REVOKED", 0.1), claim("EXPIRED", 1), claim("RELEASED", 0)];
    // 297 keys still to claim ($594) + 1.5 + 2 + 2 unspent on the live ones.
    expect(remainingWorstCaseUsd(w, ledger(3), claims, now)).toBe(599.5);
    // A key spent past its limit never counts as negative.
    expect(remainingWorstCaseUsd(w, ledger(1), [claim("ACTIVE", 2.5)], now)).toBe(598);
  });

  it("counts no new keys once claims closed, and nothing once the keys expired", () => {
    const closedAt = Date.parse(w.claims_close_at) + 1;
    expect(remainingWorstCaseUsd(w, ledger(2), [claim("ACTIVE", 1), claim("ACTIVE", 0)], closedAt)).toBe(3);
    expect(remainingWorstCaseUsd(w, ledger(2), [claim("ACTIVE", 1)], Date.parse(w.ends_at) + 31 * 60_000)).toBe(0);
    const upcoming = testWorkshop("ahead", now, { claims_open_at: new Date(now + HOUR).toISOString(), claims_close_at: new Date(now + 2 * HOUR).toISOString() });
    expect(remainingWorstCaseUsd(upcoming, ledger(0), [], now)).toBe(effectiveCapacity(upcoming) * 2);
    expect(remainingWorstCaseUsd({ ...w, is_active: false }, ledger(1), [claim("ACTIVE", 0.5)], now)).toBe(1.5);
  });
});

describe("the jobs' credit check, with the emulator's credit set low", () => {
  let stack: TestStack;
  let deps: JobDeps;
  const ORGANIZER = { sub: "credit-organizer", email: "organizer@example.com" };

  beforeAll(async () => {
    stack = await startTestStack();
    deps = { store: stack.store, housekeeping: createHousekeeping({ client: stack.dynamo.client, tableNames: stack.store.tableNames }), engine: stack.engine, openrouter: stack.openrouter, now: stack.now };
  });
  afterAll(async () => {
    await stack?.close();
  });

  const setCredit = async (totalCredits: number) => {
    const res = await fetch(`${stack.upstream.origin}/_emulator/credits`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ total_credits: totalCredits }) });
    expect(res.status).toBe(200);
  };
  const dashboardCredits = async (token: string) => {
    const res = await stack.call("GET", "/api/admin/workshops", token);
    expect(res.status).toBe(200);
    return ((await res.json()) as { credits: CreditCheck | null }).credits;
  };

  it("stores the shortfall across open and upcoming workshops, and organizers see it", async () => {
    const now = stack.now();
    const open = testWorkshop("credit-open", now, { openrouter: { guardrail: { cap_usd: 40, reset_interval: "monthly", max_keys: 20 } } });
    const upcoming = testWorkshop("credit-later", now, {
      claims_open_at: new Date(now + 24 * HOUR).toISOString(),
      claims_close_at: new Date(now + 26 * HOUR).toISOString(),
      starts_at: new Date(now + 25 * HOUR).toISOString(),
      ends_at: new Date(now + 27 * HOUR).toISOString(),
      openrouter: { guardrail: { cap_usd: 30, reset_interval: "monthly", max_keys: 15 } },
    });
    const over = testWorkshop("credit-over", now, {
      claims_open_at: new Date(now - 30 * HOUR).toISOString(),
      claims_close_at: new Date(now - 28 * HOUR).toISOString(),
      starts_at: new Date(now - 29 * HOUR).toISOString(),
      ends_at: new Date(now - 27 * HOUR).toISOString(),
    });
    for (const w of [open, upcoming, over]) await stack.addWorkshop(w);
    const organizer = stack.issuer.tokenFor(ORGANIZER);
    expect(await dashboardCredits(organizer)).toBeNull();

    // Two attendees claim in the open workshop: $2 each of their limits stays possible.
    for (const email of ["c1@example.com", "c2@example.com"]) expect((await stack.call("POST", "/api/workshops/credit-open/claim", (await stack.attendee(email)).token)).status).toBe(201);
    await setCredit(25);
    const synced = await runJob({ job: "sync", slug: "credit-open" }, deps);
    // 18 keys still to claim × $2 + 2 live keys × $2 in the open workshop; 15 × $2 in the upcoming one.
    expect(synced).toMatchObject({ credit_available_usd: 25, worst_case_spend_usd: 70, credit_shortfall_usd: 45 });
    expect(synced.warnings.join(" ")).toMatch(/add at least \$45/);

    const shown = await dashboardCredits(organizer);
    expect(shown).toMatchObject({ available_usd: 25, worst_case_usd: 70, shortfall_usd: 45 });
    expect(shown!.workshops).toEqual([
      { slug: "credit-open", worst_case_usd: 40 },
      { slug: "credit-later", worst_case_usd: 30 },
    ]);
    // Attendees are not organizers: no dashboard, no account figures.
    expect((await stack.call("GET", "/api/admin/workshops", (await stack.attendee("c3@example.com")).token)).status).toBe(403);

    // Credit added: the next run (the open job of the upcoming workshop) clears the warning.
    await setCredit(500);
    const opened = await runJob({ job: "open", slug: "credit-later" }, deps);
    expect(opened).toMatchObject({ ok: true, credit_available_usd: 500, worst_case_spend_usd: 70, credit_shortfall_usd: 0, warnings: [] });
    expect(await dashboardCredits(organizer)).toMatchObject({ available_usd: 500, shortfall_usd: 0 });
  });

  it("reads every workshop's figure from its ledger, never its claims, and counts keys claimed or topped up since its last sync", async () => {
    // Instrumentation, not a mock: the real store, with its claim listings counted.
    let claimListings = 0;
    const store = new Proxy(stack.store, {
      get: (target, prop, receiver) => (prop === "listClaims" ? (...args: Parameters<typeof target.listClaims>) => (claimListings++, target.listClaims(...args)) : Reflect.get(target, prop, receiver)),
    });
    const check = () => checkAccountCredits({ store, openrouter: stack.openrouter, now: stack.now });
    // As the last test left it: credit-open synced with 2 live keys ($4 unspent) and 18 to claim; credit-later's 15.
    expect((await check()).workshops).toEqual([
      { slug: "credit-open", worst_case_usd: 40 },
      { slug: "credit-later", worst_case_usd: 30 },
    ]);

    // A third key, then a $3 top-up, both after the sync: 15 keys left ($30) + 2 + 2 + 5 unspent.
    const third = await stack.attendee("c3@example.com");
    expect((await stack.call("POST", "/api/workshops/credit-open/claim", third.token)).status).toBe(201);
    await stack.engine.topUp("credit-open", third.sub, 3);
    expect((await check()).workshops).toContainEqual({ slug: "credit-open", worst_case_usd: 39 });
    expect(claimListings).toBe(0);

    // The next sync stores the figure again: the same answer, from the claims it read itself.
    await runJob({ job: "sync", slug: "credit-open" }, { ...deps, store });
    expect(claimListings).toBe(1);
    expect((await check()).workshops).toContainEqual({ slug: "credit-open", worst_case_usd: 39 });
    expect(claimListings).toBe(1);
  });

  it("counts a key re-allowed after a revoke and claimed since the last sync", async () => {
    const now = stack.now();
    const w = testWorkshop("credit-again", now, { openrouter: { guardrail: { cap_usd: 20, reset_interval: "monthly", max_keys: 10 } } });
    await stack.addWorkshop(w);
    const ann = await stack.attendee("again@example.com");
    expect((await stack.call("POST", "/api/workshops/credit-again/claim", ann.token)).status).toBe(201);
    await stack.engine.revoke("credit-again", ann.sub);
    await runJob({ job: "sync", slug: "credit-again" }, deps);
    // Synced with no live key: 10 keys to claim, nothing unspent.
    expect((await checkAccountCredits(deps)).workshops).toContainEqual({ slug: "credit-again", worst_case_usd: 20 });
    await stack.engine.allowAgain("credit-again", ann.sub);
    expect((await stack.call("POST", "/api/workshops/credit-again/claim", ann.token)).status).toBe(201);
    // 9 keys still to claim ($18) + the new key's whole $2, though no sync has read its claim.
    expect((await checkAccountCredits(deps)).workshops).toContainEqual({ slug: "credit-again", worst_case_usd: 20 });
  });

  it("counts a workshop no sync has stored a figure for at its ledger's committed USD", async () => {
    const now = stack.now();
    const fresh = testWorkshop("credit-fresh", now, { openrouter: { guardrail: { cap_usd: 20, reset_interval: "monthly", max_keys: 10 } } });
    await stack.addWorkshop(fresh);
    expect((await stack.call("POST", "/api/workshops/credit-fresh/claim", (await stack.attendee("f1@example.com")).token)).status).toBe(201);
    // 9 keys still to claim ($18) + the claimed key's whole $2.
    expect((await checkAccountCredits(deps)).workshops).toContainEqual({ slug: "credit-fresh", worst_case_usd: 20 });
  });
});
