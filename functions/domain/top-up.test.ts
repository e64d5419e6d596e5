import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roundUsd } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import { ledgerFromClaims } from "../../local/ledger-accounts.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import type { ClaimItem } from "../data/store.js";
import { createClaimEngine } from "./claims.js";

/**
 * Topping up a key takes the amount from the pool, against the real parts (dynalite, the OpenRouter
 * emulator) through the HTTP app. Every test ends on the ledger invariant of api.md, top-ups included:
 *
 *   committed = Σ limit_usd of claims holding a slot + Σ (limit_usd − returned) over revoked claims given back
 *
 * and on OpenRouter agreeing: each live key's limit upstream is its claim's limit.
 */

// The clock the API and the engine read; a test moves it past a top-up lock's lease.
const clock = { offsetMs: 0 };
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ waitMs: 20_000, leaseMs: 60_000, now: () => Date.now() + clock.offsetMs });
});

afterAll(async () => {
  await stack?.close();
});

const SONNET = { id: "anthropic/claude-sonnet-4.6", label: "Claude Sonnet", price_in_per_mtok: 3, price_out_per_mtok: 15 };

function workshop(slug: string, guardrail: { cap_usd: number; max_keys: number }): Workshop {
  return testWorkshop(slug, stack.now(), { openrouter: { budget_usd: 2, models: [SONNET], guardrail: { ...guardrail, reset_interval: "monthly" } } });
}

const admin = () => stack.issuer.tokenFor({ sub: "admin-topper", email: "admin@example.org", groups: ["admins"] });

async function claim(slug: string, who: { token: string }) {
  const res = await stack.call("POST", `/api/workshops/${slug}/claim`, who.token);
  const body = (await res.json()) as { key?: { key: string }; error?: { code: string } };
  return { status: res.status, key: body.key?.key, code: body.error?.code };
}

async function topUp(slug: string, userId: string, amount: number) {
  const res = await stack.call("POST", `/api/admin/workshops/${slug}/claims/${userId}/top-up`, admin(), { amount_usd: amount });
  return { status: res.status, ...((await res.json()) as { claim?: { limit_usd: number }; error?: { code: string; message: string; available_usd?: number } }) };
}

const upstreamKey = (hash: string | undefined) => stack.upstream.emulator.state.keys.find((k) => k.hash === hash)!;
const live = (c: ClaimItem) => ["MINTED", "ACTIVE", "UNBOUND"].includes(c.status);

async function expectLedgerExact(slug: string, capUsd: number): Promise<void> {
  const [ledger, claims] = await Promise.all([stack.store.getLedger(slug), stack.store.listClaims(slug)]);
  const expected = ledgerFromClaims(claims);
  expect(ledger.claimed).toBe(expected.claimed);
  expect(ledger.committed_usd).toBeCloseTo(expected.committed_usd, 6);
  expect(ledger.committed_usd).toBeLessThanOrEqual(capUsd + 1e-9);
  for (const c of claims.filter(live)) {
    expect(upstreamKey(c.key_hash).limit).toBeCloseTo(c.limit_usd, 6);
    expect(c.topup).toBeUndefined();
  }
}

describe("topping up a key", () => {
  it("raises the key's limit upstream, takes it from the pool, and the key page shows the new budget", async () => {
    const w = workshop("topup-one", { cap_usd: 10, max_keys: 10 });
    await stack.addWorkshop(w);
    const ada = await stack.attendee("ada@example.com");
    expect((await claim(w.slug, ada)).status).toBe(201);

    const res = await topUp(w.slug, ada.sub, 1.5);
    expect(res.status).toBe(200);
    expect(res.claim).toMatchObject({ limit_usd: 3.5 });
    const stored = (await stack.store.getClaim(w.slug, ada.sub))!;
    expect(upstreamKey(stored.key_hash)).toMatchObject({ limit: 3.5 });
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 1, committed_usd: 3.5 });
    const page = (await (await stack.call("GET", `/api/workshops/${w.slug}/key`, ada.token)).json()) as { budget_usd: number; limit_remaining: number };
    expect(page).toMatchObject({ budget_usd: 3.5, limit_remaining: 3.5 });
    await expectLedgerExact(w.slug, 10);
  });

  it("is refused with the figure when the pool cannot cover it, and changes nothing", async () => {
    const w = workshop("topup-refused", { cap_usd: 5, max_keys: 10 });
    await stack.addWorkshop(w);
    const people = await Promise.all([0, 1].map((i) => stack.attendee(`refused${i}@example.com`)));
    for (const p of people) expect((await claim(w.slug, p)).status).toBe(201);

    const res = await topUp(w.slug, people[0]!.sub, 1.25);
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "pool_too_small", available_usd: 1 });
    expect(res.error!.message).toContain("$1.00");
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ committed_usd: 4 });
    await expectLedgerExact(w.slug, 5);
  });

  it("refuses a revoked key without taking anything from the pool", async () => {
    const w = workshop("topup-revoked", { cap_usd: 10, max_keys: 10 });
    await stack.addWorkshop(w);
    const bo = await stack.attendee("bo@example.com");
    expect((await claim(w.slug, bo)).status).toBe(201);
    expect((await stack.call("POST", `/api/admin/workshops/${w.slug}/claims/${bo.sub}/revoke`, admin())).status).toBe(200);
    expect(await topUp(w.slug, bo.sub, 1)).toMatchObject({ status: 409, error: { code: "claim_state" } });
    await expectLedgerExact(w.slug, 10);
  });

  it("gives the amount back when the key is gone upstream (PATCH 404)", async () => {
    const w = workshop("topup-gone", { cap_usd: 10, max_keys: 10 });
    await stack.addWorkshop(w);
    const cy = await stack.attendee("cy@example.com");
    expect((await claim(w.slug, cy)).status).toBe(201);
    const hash = (await stack.store.getClaim(w.slug, cy.sub))!.key_hash!;
    expect(await stack.openrouter.deleteKey(hash)).toBe(true);

    expect((await topUp(w.slug, cy.sub, 1)).status).toBe(503);
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ committed_usd: 2 });
    const stored = (await stack.store.getClaim(w.slug, cy.sub))!;
    expect(stored).toMatchObject({ limit_usd: 2 });
    expect(stored.topup).toBeUndefined();
  });

  it("gives the amount back when the raise fails and the old limit is confirmed upstream", async () => {
    const w = workshop("topup-raise-fails", { cap_usd: 10, max_keys: 10 });
    await stack.addWorkshop(w);
    const di = await stack.attendee("di@example.com");
    expect((await claim(w.slug, di)).status).toBe(201);
    // A fake for one fault the emulator cannot produce: its faults are dice per call, and this needs
    // exactly the first PATCH (the raise) to fail and the second (putting the old limit back) to answer.
    let patches = 0;
    const engine = createClaimEngine({
      store: stack.store,
      workshops: stack.workshops,
      now: stack.now,
      openrouter: { ...stack.openrouter, updateKey: (hash, patch) => (patches++ === 0 ? Promise.reject(new Error("connection reset")) : stack.openrouter.updateKey(hash, patch)) },
    });
    await expect(engine.topUp(w.slug, di.sub, 1)).rejects.toMatchObject({ code: "upstream_unavailable" });
    expect(patches).toBe(2);
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ committed_usd: 2 });
    await expectLedgerExact(w.slug, 10);
  });

  it("keeps the amount held when OpenRouter answers neither the raise nor the put-back, and the next top-up sets OpenRouter's limit", async () => {
    const w = workshop("topup-upstream-down", { cap_usd: 10, max_keys: 10 });
    await stack.addWorkshop(w);
    const ed = await stack.attendee("ed@example.com");
    expect((await claim(w.slug, ed)).status).toBe(201);
    stack.upstream.emulator.setFaults({ "keys.update": { errorRate: 1 } });
    try {
      expect(await topUp(w.slug, ed.sub, 1)).toMatchObject({ status: 503, error: { code: "upstream_unavailable" } });
    } finally {
      stack.upstream.emulator.setFaults({});
    }
    // The safe side: the pool and the claim count the raised limit; OpenRouter still has the old one.
    const held = (await stack.store.getClaim(w.slug, ed.sub))!;
    expect(held).toMatchObject({ limit_usd: 3 });
    expect(upstreamKey(held.key_hash).limit).toBe(2);
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ committed_usd: 3 });

    clock.offsetMs = 61_000; // past the lock's lease
    try {
      expect(await topUp(w.slug, ed.sub, 0.5)).toMatchObject({ status: 200, claim: { limit_usd: 3.5 } });
    } finally {
      clock.offsetMs = 0;
    }
    await expectLedgerExact(w.slug, 10);
  });

  it("races: 20 top-ups against one pool at once never take the keys' limits above the cap", async () => {
    // cap 10, three keys of $2: $4 left, so exactly four $1 top-ups fit, whichever keys they hit.
    const w = workshop("topup-race", { cap_usd: 10, max_keys: 10 });
    await stack.addWorkshop(w);
    const people = await Promise.all([0, 1, 2].map((i) => stack.attendee(`race${i}@example.com`)));
    for (const p of people) expect((await claim(w.slug, p)).status).toBe(201);

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => topUp(w.slug, people[i % 3]!.sub, 1)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(4);
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 409 && r.error?.code === "pool_too_small")).toBe(true);

    const claims = await stack.store.listClaims(w.slug);
    const upstreamSum = roundUsd(claims.reduce((s, c) => s + upstreamKey(c.key_hash).limit!, 0));
    expect(upstreamSum).toBe(10);
    await expectLedgerExact(w.slug, 10);
  });

  it("races: top-ups, a revoke and new claims interleaved keep committed = the live limits plus what revoked keys spent", async () => {
    const w = workshop("topup-mixed", { cap_usd: 14, max_keys: 10 });
    await stack.addWorkshop(w);
    const people = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => stack.attendee(`mixed${i}@example.com`)));
    const keys: string[] = [];
    for (const p of people.slice(0, 3)) keys.push((await claim(w.slug, p)).key!);
    // The key to be revoked has spent part of its budget, so its give-back is not a whole budget.
    const spend = await fetch(`${stack.upstream.url}/chat/completions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${keys[0]}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: SONNET.id, max_tokens: 40_000, messages: [{ role: "user", content: "hello" }] }),
    });
    expect(spend.status).toBe(200);

    await Promise.all([
      ...[0, 1, 2, 0, 1, 2, 1, 2].map((i) => topUp(w.slug, people[i]!.sub, 1)),
      stack.call("POST", `/api/admin/workshops/${w.slug}/claims/${people[0]!.sub}/revoke`, admin()),
      ...people.slice(3).map((p) => claim(w.slug, p)),
    ]);
    // A revoke racing a top-up may leave its give-back to a second revoke (api.md); finish it.
    const revoked = (await stack.store.getClaim(w.slug, people[0]!.sub))!;
    if (revoked.returned_usd === undefined) expect((await stack.call("POST", `/api/admin/workshops/${w.slug}/claims/${people[0]!.sub}/revoke`, admin())).status).toBe(200);
    await expectLedgerExact(w.slug, 14);
  });
});
