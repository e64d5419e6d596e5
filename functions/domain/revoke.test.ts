import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyExpiresAt, roundUsd } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import { ledgerFromClaims } from "../../local/ledger-accounts.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { createHousekeeping } from "../data/housekeeping.js";
import { runJob } from "../jobs/run.js";
import { createClaimEngine } from "./claims.js";

/**
 * Revoking a key gives its slot and its unspent budget back to the pool, against the real parts
 * (dynalite, the OpenRouter emulator) through the HTTP app. The ledger invariant every test ends on:
 *
 *   claimed   = #claims holding a slot
 *   committed = Σ budget of claims holding a slot + Σ (budget − returned) over revoked claims given back
 *
 * where a claim holds a slot unless it is RELEASED (a failed mint) or REVOKED and given back; a
 * revoked claim's (budget − returned) is what its key spent when it was disabled. Expired claims
 * keep their whole budget committed: no claim can be made once keys have expired.
 */

// The clock the API, the engine and the jobs read; a test moves it past the keys' expiry.
const clock = { offsetMs: 0 };
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ now: () => Date.now() + clock.offsetMs });
});

afterAll(async () => {
  await stack?.close();
});

const SONNET = { id: "anthropic/claude-sonnet-4.6", label: "Claude Sonnet", price_in_per_mtok: 3, price_out_per_mtok: 15 };
const NANO = { id: "openai/gpt-5-nano", label: "GPT-5 nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 };

function workshop(slug: string, guardrail: { cap_usd: number; max_keys: number }): Workshop {
  return testWorkshop(slug, stack.now(), { openrouter: { budget_usd: 2, models: [NANO, SONNET], guardrail: { ...guardrail, reset_interval: "monthly" } } });
}

const admin = () => stack.issuer.tokenFor({ sub: "admin-revoker", email: "admin@example.org", groups: ["admins"] });

async function claim(slug: string, who: { token: string }): Promise<{ status: number; key?: string; code?: string }> {
  const res = await stack.call("POST", `/api/workshops/${slug}/claim`, who.token);
  const body = (await res.json()) as { key?: { key: string }; error?: { code: string } };
  return { status: res.status, key: body.key?.key, code: body.error?.code };
}

async function revoke(slug: string, userId: string): Promise<{ status: number; claim?: { status: string; returned_usd: number | null } }> {
  const res = await stack.call("POST", `/api/admin/workshops/${slug}/claims/${userId}/revoke`, admin());
  return { status: res.status, ...((await res.json()) as object) };
}

/** Spends about $0.60 of the key on Claude Sonnet ($15 per million output tokens). */
async function spendSixtyCents(key: string): Promise<void> {
  const res = await fetch(`${stack.upstream.url}/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model: SONNET.id, max_tokens: 40_000, messages: [{ role: "user", content: "hello" }] }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

async function status(slug: string) {
  return (await (await stack.call("GET", `/api/workshops/${slug}`)).json()) as { state: string; keys_left: number; claimed: number };
}

/** The invariant above, against the stored claims (local/ledger-accounts.ts, earlier keys of re-allowed claims included). */
async function expectLedgerMatchesClaims(slug: string): Promise<void> {
  const [ledger, claims] = await Promise.all([stack.store.getLedger(slug), stack.store.listClaims(slug)]);
  const expected = ledgerFromClaims(claims);
  expect(ledger.claimed).toBe(expected.claimed);
  expect(ledger.committed_usd).toBeCloseTo(expected.committed_usd, 6);
}

describe("revoking a key gives its slot and its unspent budget back to the pool", () => {
  it("a sold-out room: the revoked slot goes to someone else; what the key spent stays committed", async () => {
    const w = workshop("revoke-slot", { cap_usd: 100, max_keys: 3 });
    await stack.addWorkshop(w);
    const people = await Promise.all([0, 1, 2, 3].map((i) => stack.attendee(`slot${i}@example.com`)));
    const keys = [];
    for (const p of people.slice(0, 3)) keys.push((await claim(w.slug, p)).key!);
    expect(await claim(w.slug, people[3]!)).toMatchObject({ status: 409, code: "sold_out" });
    await spendSixtyCents(keys[0]!);

    const res = await revoke(w.slug, people[0]!.sub);
    expect(res.status).toBe(200);
    const hash = (await stack.store.getClaim(w.slug, people[0]!.sub))!.key_hash;
    const spent = stack.upstream.emulator.state.keys.find((k) => k.hash === hash)!.usage;
    expect(spent).toBeGreaterThan(0.6);
    expect(res.claim).toMatchObject({ status: "REVOKED", returned_usd: roundUsd(2 - spent) });
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 2 });
    expect(await status(w.slug)).toMatchObject({ state: "open", keys_left: 1, claimed: 2 });
    await expectLedgerMatchesClaims(w.slug);

    // The person who was turned away gets the slot; the room is full again.
    expect((await claim(w.slug, people[3]!)).status).toBe(201);
    expect(await status(w.slug)).toMatchObject({ state: "sold_out", keys_left: 0 });
    await expectLedgerMatchesClaims(w.slug);
  });

  it("a room bound by the cap: a key that spent part of its budget does not free a whole budget", async () => {
    // cap 6, budget 2: three keys. One spends $0.60 and is revoked: $1.40 comes back, not $2.
    const w = workshop("revoke-cap", { cap_usd: 6, max_keys: 10 });
    await stack.addWorkshop(w);
    const people = await Promise.all([0, 1, 2, 3, 4].map((i) => stack.attendee(`cap${i}@example.com`)));
    const keys = [];
    for (const p of people.slice(0, 3)) keys.push((await claim(w.slug, p)).key!);
    await spendSixtyCents(keys[0]!);
    expect((await revoke(w.slug, people[0]!.sub)).status).toBe(200);
    expect(await status(w.slug)).toMatchObject({ state: "sold_out", keys_left: 0, claimed: 2 });
    expect(await claim(w.slug, people[3]!)).toMatchObject({ status: 409, code: "sold_out" });
    await expectLedgerMatchesClaims(w.slug);

    // A key that spent nothing gives back its whole budget: now $3.40 is free, one more key fits.
    expect((await revoke(w.slug, people[1]!.sub)).status).toBe(200);
    expect(await status(w.slug)).toMatchObject({ state: "open", keys_left: 1, claimed: 1 });
    expect((await claim(w.slug, people[3]!)).status).toBe(201);
    expect(await claim(w.slug, people[4]!)).toMatchObject({ status: 409, code: "sold_out" });
    const ledger = await stack.store.getLedger(w.slug);
    expect(ledger.committed_usd).toBeLessThanOrEqual(6);
    await expectLedgerMatchesClaims(w.slug);
  });

  it("two organizers revoking the same key at once, and again later: the slot comes back exactly once", async () => {
    const w = workshop("revoke-twice", { cap_usd: 100, max_keys: 10 });
    await stack.addWorkshop(w);
    const people = await Promise.all([0, 1, 2].map((i) => stack.attendee(`twice${i}@example.com`)));
    for (const p of people) expect((await claim(w.slug, p)).status).toBe(201);

    const answers = await Promise.all(Array.from({ length: 5 }, () => revoke(w.slug, people[0]!.sub)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.every((a) => a.claim?.status === "REVOKED" && a.claim.returned_usd === 2)).toBe(true);
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 2, committed_usd: 4 });
    expect((await revoke(w.slug, people[0]!.sub)).status).toBe(200);
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 2, committed_usd: 4 });
    await expectLedgerMatchesClaims(w.slug);
  });

  it("a revoke that stopped after its REVOKED write is finished by revoking again, also past a failed usage read", async () => {
    const w = workshop("revoke-unread", { cap_usd: 100, max_keys: 10 });
    await stack.addWorkshop(w);
    const p = await stack.attendee("unread@example.com");
    const { key } = await claim(w.slug, p);
    await spendSixtyCents(key!);
    // What a container that died between the REVOKED write and the give-back leaves behind. Real
    // parts cannot die on cue, so the first steps of a revoke are taken directly: the key disabled
    // upstream, the claim REVOKED with its plaintext removed, nothing given back yet.
    const stored = (await stack.store.getClaim(w.slug, p.sub))!;
    await stack.openrouter.updateKey(stored.key_hash!, { disabled: true });
    await stack.store.transitionClaim(w.slug, p.sub, { from: ["ACTIVE"], set: { status: "REVOKED", revoked_at: new Date().toISOString() }, remove: ["key"] });
    // The pool still counts it in full (the safe side) until the give-back is done.
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 1, committed_usd: 2 });
    await expectLedgerMatchesClaims(w.slug);

    // Revoking again while OpenRouter cannot say what the key spent: still nothing given back.
    stack.upstream.emulator.setFaults({ "keys.get": { errorRate: 1, errorStatus: 503 } });
    try {
      const first = await stack.call("POST", `/api/admin/workshops/${w.slug}/claims/${p.sub}/revoke`, admin());
      expect(first.status).toBe(503);
      expect(((await first.json()) as { error: { message: string } }).error.message).toMatch(/Revoke it again/);
    } finally {
      stack.upstream.emulator.setFaults({});
    }
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 1, committed_usd: 2 });

    // And once it can: the unspent $1.40 goes back, the $0.60 spent stays committed.
    const done = await revoke(w.slug, p.sub);
    expect(done.claim).toMatchObject({ status: "REVOKED" });
    expect(done.claim!.returned_usd).toBeCloseTo(1.4, 4);
    const ledger = await stack.store.getLedger(w.slug);
    expect(ledger.claimed).toBe(0);
    expect(ledger.committed_usd).toBeCloseTo(0.6, 4);
    await expectLedgerMatchesClaims(w.slug);
  });

  it("revokes racing the expire job: each claim ends REVOKED or EXPIRED, and only revoked ones give back", async () => {
    const w = workshop("revoke-expire", { cap_usd: 100, max_keys: 20 });
    await stack.addWorkshop(w);
    const people = await Promise.all(Array.from({ length: 10 }, (_, i) => stack.attendee(`race${i}@example.com`)));
    for (const p of people) expect((await claim(w.slug, p)).status).toBe(201);
    // Two outcomes fixed in advance: one key revoked before the job, one after it.
    const [before, after, ...racing] = people;
    expect((await revoke(w.slug, before!.sub)).status).toBe(200);

    clock.offsetMs = Date.parse(keyExpiresAt(w)) - Date.now() + 60_000;
    try {
      const housekeeping = createHousekeeping({ client: stack.dynamo.client, tableNames: stack.store.tableNames });
      const deps = { store: stack.store, housekeeping, engine: stack.engine, openrouter: stack.openrouter, now: stack.now };
      // The revokes start one after another across the job's run, so some land before its
      // EXPIRED writes and some after.
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const [summary, ...answers] = await Promise.all([
        runJob({ job: "expire", slug: w.slug }, deps),
        ...racing.map((p, i) => sleep(i * 40).then(() => revoke(w.slug, p.sub))),
      ]);
      expect(summary.ok, summary.errors.join("; ")).toBe(true);
      // A revoke that found the claim already expired is refused as "no live key" (409).
      expect(answers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
      // A second expire (the next sync) finishes whatever the race left behind.
      expect((await runJob({ job: "expire", slug: w.slug }, deps)).ok).toBe(true);
      const late = await stack.call("POST", `/api/admin/workshops/${w.slug}/claims/${after!.sub}/revoke`, admin());
      expect(late.status).toBe(409);
    } finally {
      clock.offsetMs = 0;
    }
    const claims = await stack.store.listClaims(w.slug);
    expect(claims.every((c) => c.status === "REVOKED" || c.status === "EXPIRED")).toBe(true);
    expect(claims.every((c) => c.key === undefined)).toBe(true);
    expect(claims.find((c) => c.user_id === before!.sub)).toMatchObject({ status: "REVOKED", returned_usd: 2 });
    expect(claims.find((c) => c.user_id === after!.sub)).toMatchObject({ status: "EXPIRED" });
    const revokedCount = claims.filter((c) => c.status === "REVOKED").length;
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 10 - revokedCount, committed_usd: 2 * (10 - revokedCount) });
    await expectLedgerMatchesClaims(w.slug);
  });
});

describe("a revoke racing the re-issue of a key upstream lost", () => {
  it("revokes the new key, not just the lost one: no live key is left behind a claim that gave its budget back", async () => {
    const w = workshop("revoke-reissue", { cap_usd: 100, max_keys: 10 });
    await stack.addWorkshop(w);
    const p = await stack.attendee("reissued@example.com");
    expect((await claim(w.slug, p)).status).toBe(201);
    const lost = (await stack.store.getClaim(w.slug, p.sub))!.key_hash!;
    await stack.openrouter.deleteKey(lost);

    // The interleaving real parts cannot be made to hit on cue: the attendee's page re-issues the
    // key after the organizer's revoke found the old one gone (its PATCH answered 404) and before
    // the revoke writes REVOKED. Every call still goes to the emulator and the local DynamoDB.
    const organizerSide = createClaimEngine({
      store: stack.store,
      workshops: stack.workshops,
      now: stack.now,
      openrouter: {
        ...stack.openrouter,
        async updateKey(hash, patch) {
          try {
            return await stack.openrouter.updateKey(hash, patch);
          } finally {
            if (hash === lost) await stack.engine.reissueMissingKey(w.slug, p.sub, lost, { answered404: true });
          }
        },
      },
    });
    const revoked = await organizerSide.revoke(w.slug, p.sub);

    const now = (await stack.store.getClaim(w.slug, p.sub))!;
    expect(now.key_hash).not.toBe(lost);
    expect(revoked).toMatchObject({ status: "REVOKED", key_hash: now.key_hash, returned_usd: 2 });
    // The re-issued key is disabled upstream: nobody can spend the budget the pool took back.
    expect(stack.upstream.emulator.state.keys.find((k) => k.hash === now.key_hash)).toMatchObject({ disabled: true });
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 0, committed_usd: 0 });
    await expectLedgerMatchesClaims(w.slug);
  });
});
