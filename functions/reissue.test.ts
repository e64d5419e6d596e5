import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBenchRig, type BenchRig } from "../local/bench/rig.js";
import { keyExpiresAt, keyNamePrefix } from "../workshops/derive.js";
import type { Workshop } from "../workshops/schema.js";
import { claimUntilKilled, testWorkshop } from "../local/test-stack.js";
import type { ClaimItem } from "./data/store.js";

/**
 * A stored key that upstream no longer has (deleted by hand on openrouter.ai, an emulator that lost
 * its state) is repaired in the same slot: the claim gets a new key, the ledger does not move, what
 * the lost key spent stays spent, and repairs running at once mint one key. Against the real parts:
 * dynalite, the OpenRouter emulator, the API over loopback HTTP, the jobs runner, and a claiming
 * process SIGKILLed after its key was created.
 */

const clock = { offsetMs: 0 };
let rig: BenchRig;

beforeAll(async () => {
  rig = await startBenchRig({ seed: 15, now: () => Date.now() + clock.offsetMs });
});
afterAll(async () => {
  await rig?.close();
});

const upstreamKeys = (w: Workshop) => rig.upstream.emulator.state.keys.filter((k) => k.name.startsWith(keyNamePrefix(w)));

async function chat(key: string, w: Workshop, maxTokens: number) {
  const res = await fetch(`${rig.upstream.url}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: w.openrouter.models[0]!.id, messages: [{ role: "user", content: "hello" }], max_tokens: maxTokens }),
  });
  return { status: res.status, body: (await res.json()) as { usage?: { cost: number } } };
}

async function myKey(w: Workshop, token: string, live = false) {
  const res = await rig.request("GET", `/api/workshops/${w.slug}/key${live ? "?usage=live" : ""}`, token);
  expect(res.status, res.text).toBe(200);
  return JSON.parse(res.text) as { status: string; key: string | null; usage_usd: number; limit_remaining: number; budget_usd: number };
}

describe("a claim left MINTED (by a version before the key was stored only once governed), whose key upstream then lost", () => {
  it("shows 'being set up' only while its lease runs; then the key page finishes it with a new key in the same slot", { timeout: 120_000 }, async () => {
    const w = testWorkshop("reissue-minted", Date.now(), { openrouter: { budget_usd: 2, guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: 10 } } });
    await rig.openWorkshop(w);
    const leaseMs = 60_000;
    const { hash: lostHash, signal } = await claimUntilKilled({
      dynamoEndpoint: rig.dynamo.endpoint,
      tables: rig.names,
      openrouterUrl: rig.upstream.url,
      managementKey: rig.upstream.managementKey,
      slug: w.slug,
      userId: "minted-user",
      leaseMs,
      dieAt: "mint",
    });
    expect(signal).toBe("SIGKILL");
    // The MINTED write of the versions before issue #24 (key stored before its guardrail assignment),
    // as a process of such a version left it when it died between the two. The plaintext is a
    // stand-in: upstream loses this key below, and nobody reads it.
    const reserved = (await rig.store.getClaim(w.slug, "minted-user")) as ClaimItem;
    await rig.store.transitionClaim(w.slug, "minted-user", {
      from: ["RESERVED"],
      attempt: reserved.attempt,
      set: { status: "MINTED", key_hash: lostHash, key: `sk-or-v1-${"0".repeat(64)}`, updated_at: new Date().toISOString() },
    });
    const left = (await rig.store.getClaim(w.slug, "minted-user")) as ClaimItem;
    expect(left).toMatchObject({ status: "MINTED", key_hash: lostHash });
    const ledgerBefore = await rig.store.getLedger(w.slug);
    expect(ledgerBefore).toMatchObject({ claimed: 1, committed_usd: 2 });

    // Upstream loses the key (here: deleted through the management API, as by hand on openrouter.ai).
    expect(await rig.openrouter.deleteKey(lostHash)).toBe(true);
    const token = rig.issuer.tokenFor({ sub: "minted-user", email: "minted-user@example.com" });

    // Within the lease the page says the key is being set up: the claiming process may still be at work.
    expect((await myKey(w, token)).status).toBe("MINTED");

    // Past the lease nobody is at work on it: the page's next poll finishes it.
    clock.offsetMs += leaseMs + 1_000;
    const shown = await myKey(w, token);
    expect(shown.status).toBe("ACTIVE");
    expect(shown.key).toMatch(/^sk-or-v1-/);
    const healed = (await rig.store.getClaim(w.slug, "minted-user"))!;
    expect(healed.key_hash).not.toBe(lostHash);
    expect(healed.reissued_at).toBeDefined();
    expect(upstreamKeys(w).map((k) => k.hash)).toEqual([healed.key_hash]);
    expect((await chat(shown.key!, w, 8)).status).toBe(200);
    // The ledger did not move: the slot and its budget were already counted.
    expect(await rig.store.getLedger(w.slug)).toMatchObject({ claimed: 1, committed_usd: 2 });

    // A sync afterwards finds nothing missing and mints nothing.
    const summary = await rig.job("sync", w.slug);
    expect(summary).toMatchObject({ ok: true, missing_upstream: 0, reissued: 0 });
    expect(upstreamKeys(w)).toHaveLength(1);
  });
});

describe("an active key deleted upstream", () => {
  it("gets a new key at the next sync; what the lost key spent stays spent, so the slot never passes its budget", async () => {
    const w = testWorkshop("reissue-active", Date.now(), { openrouter: { budget_usd: 1, guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: 10 } } });
    await rig.openWorkshop(w);
    const [ann, bob] = await rig.attendees("reissue-active", 2);
    for (const a of [ann!, bob!]) expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, a.token)).status).toBe(201);
    const before = (await myKey(w, ann!.token)).key!;

    // Ann spends some of her $1, the sync records it, then her key disappears upstream.
    const spent = await chat(before, w, 400_000);
    expect(spent.status).toBe(200);
    const cost = spent.body.usage!.cost;
    expect((await rig.job("sync", w.slug)).ok).toBe(true);
    const annClaim = (await rig.store.getClaim(w.slug, ann!.sub))!;
    expect(annClaim.usage_usd).toBeCloseTo(cost, 6);
    await rig.openrouter.deleteKey(annClaim.key_hash!);

    const summary = await rig.job("sync", w.slug);
    expect(summary).toMatchObject({ ok: true, missing_upstream: 1, reissued: 1 });
    const after = (await rig.store.getClaim(w.slug, ann!.sub))!;
    expect(after.status).toBe("ACTIVE");
    expect(after.key).not.toBe(before);
    expect(after.carried_usage_usd).toBeCloseTo(cost, 6);
    // The new key may spend only what was left of the budget.
    const newKey = rig.upstream.emulator.state.keys.find((k) => k.hash === after.key_hash)!;
    expect(newKey.limit).toBeCloseTo(1 - cost, 6);
    expect((await chat(after.key!, w, 8)).status).toBe(200);
    // Bob's claim was not touched; the ledger did not move.
    expect((await rig.store.getClaim(w.slug, bob!.sub))!.reissued_at).toBeUndefined();
    expect(await rig.store.getLedger(w.slug)).toMatchObject({ claimed: 2, committed_usd: 2 });

    // Usage reads go on counting the lost key's spend; the page shows the budget left, not a fresh one.
    const shown = await myKey(w, ann!.token, true);
    expect(shown.usage_usd).toBeGreaterThan(cost);
    expect(shown.usage_usd + shown.limit_remaining).toBeCloseTo(1, 6);
    expect((await rig.job("sync", w.slug))).toMatchObject({ ok: true, missing_upstream: 0, reissued: 0 });
  });

  it("is repaired once when the sync job and the attendee's page find it gone at the same time", async () => {
    const w = testWorkshop("reissue-race", Date.now(), { openrouter: { budget_usd: 2, guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: 10 } } });
    await rig.openWorkshop(w);
    const [cai] = await rig.attendees("reissue-race", 1);
    expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, cai!.token)).status).toBe(201);
    const lost = (await rig.store.getClaim(w.slug, cai!.sub))!.key_hash!;
    await rig.openrouter.deleteKey(lost);

    const [sync, page, direct] = await Promise.all([
      rig.job("sync", w.slug),
      myKey(w, cai!.token, true),
      rig.engine.reissueMissingKey(w.slug, cai!.sub, lost),
    ]);
    expect(sync.ok, sync.errors.join("; ")).toBe(true);
    expect(page.status === "ACTIVE" || page.status === "RESERVED" || page.status === "MINTED").toBe(true);
    expect(direct.key_hash).not.toBe(lost);
    const healed = (await rig.store.getClaim(w.slug, cai!.sub))!;
    expect(healed.status).toBe("ACTIVE");
    expect(upstreamKeys(w).map((k) => k.hash)).toEqual([healed.key_hash]);
  });

  it("keeps its slot when OpenRouter cannot mint the new key just then: the next sync mints it, the pool never frees what the lost key spent", { timeout: 60_000 }, async () => {
    // cap 2, budget 1: two keys. If the failed re-issue gave the whole budget back, a third person
    // could claim a full $1 while Eve's lost key had already spent part of hers: spend past the cap.
    const w = testWorkshop("reissue-fails", Date.now(), { openrouter: { budget_usd: 1, guardrail: { cap_usd: 2, reset_interval: "monthly", max_keys: 10 } } });
    await rig.openWorkshop(w);
    const [eve, fay, gus] = await rig.attendees("reissue-fails", 3);
    for (const a of [eve!, fay!]) expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, a.token)).status).toBe(201);
    const spent = await chat((await myKey(w, eve!.token)).key!, w, 400_000);
    expect(spent.status).toBe(200);
    const cost = spent.body.usage!.cost;
    expect((await rig.job("sync", w.slug)).ok).toBe(true);
    await rig.openrouter.deleteKey((await rig.store.getClaim(w.slug, eve!.sub))!.key_hash!);

    await rig.setFaults({ "keys.create": { errorRate: 1, errorStatus: 503 } });
    try {
      const failed = await rig.job("sync", w.slug);
      expect(failed).toMatchObject({ ok: false, missing_upstream: 1, reissued: 0 });
    } finally {
      await rig.setFaults({});
    }
    // Eve still holds her slot, and the pool still counts it: nobody else can claim past the cap.
    expect((await rig.store.getClaim(w.slug, eve!.sub))!.status).toBe("RESERVED");
    expect(await rig.store.getLedger(w.slug)).toMatchObject({ claimed: 2, committed_usd: 2 });
    expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, gus!.token)).status).toBe(409);

    // Once the failed attempt's lease has run out, the next sync mints her key, for what was left.
    clock.offsetMs += 91_000;
    try {
      expect(await rig.job("sync", w.slug)).toMatchObject({ ok: true, taken_over: 1 });
    } finally {
      clock.offsetMs -= 91_000;
    }
    const after = (await rig.store.getClaim(w.slug, eve!.sub))!;
    expect(after.status).toBe("ACTIVE");
    expect(rig.upstream.emulator.state.keys.find((k) => k.hash === after.key_hash)!.limit).toBeCloseTo(1 - cost, 6);
    expect(await rig.store.getLedger(w.slug)).toMatchObject({ claimed: 2, committed_usd: 2 });
  });

  it("counts what the lost key spent in the final usage the expire job records, and still when the key is deleted after", async () => {
    const w = testWorkshop("reissue-final", Date.now(), { openrouter: { budget_usd: 1, guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: 10 } } });
    await rig.openWorkshop(w);
    const [ida] = await rig.attendees("reissue-final", 1);
    expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, ida!.token)).status).toBe(201);
    const first = await chat((await myKey(w, ida!.token)).key!, w, 400_000);
    expect((await rig.job("sync", w.slug)).ok).toBe(true);
    await rig.openrouter.deleteKey((await rig.store.getClaim(w.slug, ida!.sub))!.key_hash!);
    expect(await rig.job("sync", w.slug)).toMatchObject({ ok: true, reissued: 1 });

    // The new key spends too; no sync sees it before the keys expire.
    const second = await chat((await myKey(w, ida!.token)).key!, w, 400_000);
    expect(second.status).toBe(200);
    const total = first.body.usage!.cost + second.body.usage!.cost;

    clock.offsetMs = Date.parse(keyExpiresAt(w)) - Date.now() + 60_000;
    try {
      expect((await rig.job("expire", w.slug)).ok).toBe(true);
      const expired = (await rig.store.getClaim(w.slug, ida!.sub))!;
      expect(expired.status).toBe("EXPIRED");
      expect(expired.usage_usd).toBeCloseTo(total, 6);
      expect((await rig.store.latestSpendSample(w.slug))!.usage_usd).toBeCloseTo(total, 6);

      // Half an hour later the key is deleted upstream; the final figure stays what it was.
      clock.offsetMs += 31 * 60_000;
      expect(await rig.job("sync", w.slug)).toMatchObject({ ok: true, keys_deleted: 1 });
      expect((await rig.store.getClaim(w.slug, ida!.sub))!.usage_usd).toBeCloseTo(total, 6);
    } finally {
      clock.offsetMs = 0;
    }
  });

  it("while its new key is still to be minted, the workshop's spend keeps what the lost key spent, through the syncs and at expiry", { timeout: 60_000 }, async () => {
    const w = testWorkshop("reissue-pending", Date.now(), { openrouter: { budget_usd: 1, guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: 10 } } });
    await rig.openWorkshop(w);
    const [jo] = await rig.attendees("reissue-pending", 1);
    expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, jo!.token)).status).toBe(201);
    const cost = (await chat((await myKey(w, jo!.token)).key!, w, 400_000)).body.usage!.cost;
    expect((await rig.job("sync", w.slug)).ok).toBe(true);
    await rig.openrouter.deleteKey((await rig.store.getClaim(w.slug, jo!.sub))!.key_hash!);

    // OpenRouter cannot mint for a while: the re-issue stays RESERVED through several syncs.
    await rig.setFaults({ "keys.create": { errorRate: 1, errorStatus: 503 } });
    try {
      for (const minutes of [0, 5, 10]) {
        clock.offsetMs = minutes * 60_000;
        await rig.job("sync", w.slug);
        expect((await rig.store.getClaim(w.slug, jo!.sub))!.status).toBe("RESERVED");
        expect((await rig.store.latestSpendSample(w.slug))!.usage_usd, `sync at +${minutes} min`).toBeCloseTo(cost, 6);
      }
      clock.offsetMs = Date.parse(keyExpiresAt(w)) - Date.now() + 60_000;
      expect((await rig.job("expire", w.slug)).ok).toBe(true);
      expect((await rig.store.getClaim(w.slug, jo!.sub))!.status).toBe("EXPIRED");
      expect((await rig.store.latestSpendSample(w.slug))!.usage_usd).toBeCloseTo(cost, 6);
    } finally {
      clock.offsetMs = 0;
      await rig.setFaults({});
    }
  });

  it("is not re-issued once the workshop's keys have expired, even before the expire job has run", async () => {
    const w = testWorkshop("reissue-expired", Date.now());
    await rig.openWorkshop(w);
    const [hal] = await rig.attendees("reissue-expired", 1);
    expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, hal!.token)).status).toBe(201);
    const lost = (await rig.store.getClaim(w.slug, hal!.sub))!.key_hash!;
    await rig.openrouter.deleteKey(lost);

    clock.offsetMs += Date.parse(keyExpiresAt(w)) - Date.now() + 60_000;
    try {
      await myKey(w, hal!.token, true);
      expect(await rig.engine.reissueMissingKey(w.slug, hal!.sub, lost, { answered404: true })).toMatchObject({ key_hash: lost });
    } finally {
      clock.offsetMs = 0;
    }
    expect((await rig.store.getClaim(w.slug, hal!.sub))!).toMatchObject({ key_hash: lost });
    expect(upstreamKeys(w)).toHaveLength(0);
  });

  it("is left alone while upstream still answers for its hash (a listing that missed it proves nothing)", async () => {
    const w = testWorkshop("reissue-present", Date.now());
    await rig.openWorkshop(w);
    const [dee] = await rig.attendees("reissue-present", 1);
    expect((await rig.request("POST", `/api/workshops/${w.slug}/claim`, dee!.token)).status).toBe(201);
    const claim = (await rig.store.getClaim(w.slug, dee!.sub))!;
    const same = await rig.engine.reissueMissingKey(w.slug, dee!.sub, claim.key_hash!);
    expect(same.key_hash).toBe(claim.key_hash);
    expect(upstreamKeys(w)).toHaveLength(1);
  });
});
