import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyNamePrefix } from "../../workshops/derive.js";
import { startTestStack, testWorkshop, type TestStack } from "../api/testing.js";
import type { ClaimItem } from "../data/store.js";

/**
 * The claim engine against the real parts: dynalite and the OpenRouter emulator on loopback, driven
 * through the HTTP app with signed tokens, as 300 browsers would.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.close();
});

const upstreamKeys = (prefix: string) => stack.upstream.emulator.state.keys.filter((k) => k.name.startsWith(prefix));

async function chat(key: string, model: string) {
  return fetch(`${stack.upstream.url}/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }] }),
  });
}

async function confirmedUsers(slug: string, n: number, email: (i: number) => string) {
  return Promise.all(Array.from({ length: n }, (_, i) => stack.attendee(email(i), { sub: `${slug}-user-${i}` })));
}

describe("a room of attendees claiming at once", () => {
  it("300 distinct users, effective capacity 250: exactly 250 keys, 50 clean sold-outs, no 5xx, no shared keys", async () => {
    const w = testWorkshop("burst", stack.now(), { openrouter: { guardrail: { cap_usd: 800, reset_interval: "monthly", max_keys: 250 } } });
    await stack.addWorkshop(w); // no guardrail id: the engine ensures it once
    const users = await confirmedUsers("burst", 300, (i) => `person${i}@example.com`);
    stack.upstream.emulator.resetStats();

    const started = Date.now();
    const answers = await Promise.all(
      users.map(async (u) => {
        const res = await stack.call("POST", "/api/workshops/burst/claim", u.token);
        return { status: res.status, body: (await res.json()) as { key?: { key: string | null; status: string }; error?: { code: string } } };
      }),
    );
    const elapsedMs = Date.now() - started;

    const statuses = answers.map((a) => a.status);
    expect(stack.events.filter((e) => e.event === "request_failed").slice(0, 3)).toEqual([]);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 201)).toHaveLength(250);
    const refused = answers.filter((a) => a.status === 409);
    expect(refused).toHaveLength(50);
    expect(refused.every((a) => a.body.error?.code === "sold_out")).toBe(true);

    const keys = answers.filter((a) => a.status === 201).map((a) => a.body.key!.key);
    expect(keys.every((k) => typeof k === "string" && k.startsWith("sk-or-"))).toBe(true);
    expect(new Set(keys).size).toBe(250);
    expect(answers.filter((a) => a.status === 201).every((a) => a.body.key!.status === "ACTIVE")).toBe(true);

    expect(upstreamKeys(keyNamePrefix(w))).toHaveLength(250);
    expect(new Set(upstreamKeys(keyNamePrefix(w)).map((k) => k.name)).size).toBe(250);
    const ledger = await stack.store.getLedger("burst");
    expect(ledger).toEqual({ claimed: 250, committed_usd: 500, paused: false });
    const claims = await stack.store.listClaims("burst");
    expect(claims).toHaveLength(250);
    expect(new Set(claims.map((c) => c.key_hash)).size).toBe(250);

    // The guardrail is ensured once per workshop, never per claim, and every key is assigned to it.
    const stats = stack.upstream.emulator.stats();
    expect(stats.calls["guardrails.create"] ?? 0).toBe(1);
    expect(stats.calls["keys.create"]).toBe(250);
    const guardrailId = (await stack.store.getWorkshop("burst"))!.guardrail_id!;
    expect(new Set(stack.upstream.emulator.state.assignments.filter((a) => a.guardrail_id === guardrailId).map((a) => a.key_hash))).toEqual(
      new Set(claims.map((c) => c.key_hash)),
    );

    const status = (await (await stack.call("GET", "/api/workshops/burst")).json()) as { state: string; keys_left: number };
    expect(status).toMatchObject({ state: "sold_out", keys_left: 0, capacity: 250, claimed: 250 });
    // About 11 s on an idle 2-core machine (dynalite is the bottleneck). Not asserted: other test
    // processes on the same cores stretch it, and a timing assertion would then fail a correct run.
    console.log(`burst: 300 claims answered in ${elapsedMs} ms`);
  }, 180_000);

  it("budget 2, cap 100, max_keys 300: exactly 50 keys and committed USD never above the cap", async () => {
    const w = testWorkshop("capped", stack.now(), { openrouter: { budget_usd: 2, guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: 300 } } });
    const guardrail = await stack.openrouter.ensureGuardrail({ name: "workshop-capped", description: "t", allowed_models: ["openai/gpt-5-nano"], limit_usd: 100, reset_interval: "monthly" });
    await stack.addWorkshop(w, guardrail.id);
    const users = await confirmedUsers("capped", 120, (i) => `capped${i}@example.com`);

    let maxCommitted = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxCommitted = Math.max(maxCommitted, (await stack.store.getLedger("capped")).committed_usd);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const statuses = await Promise.all(users.map(async (u) => (await stack.call("POST", "/api/workshops/capped/claim", u.token)).status));
    sampling = false;
    await sampler;

    expect(statuses.filter((s) => s === 201)).toHaveLength(50);
    expect(statuses.filter((s) => s === 409)).toHaveLength(70);
    expect(upstreamKeys(keyNamePrefix(w))).toHaveLength(50);
    expect(maxCommitted).toBeLessThanOrEqual(100);
    expect(await stack.store.getLedger("capped")).toEqual({ claimed: 50, committed_usd: 100, paused: false });
    // Every key is hard-limited upstream to the budget, so 50 × $2 is the most the workshop can cost.
    expect(upstreamKeys(keyNamePrefix(w)).every((k) => k.limit === 2)).toBe(true);
  }, 180_000);
});

describe("one person, one key", () => {
  it("10 concurrent claims by one user: one key upstream, every answer shows it", async () => {
    const w = testWorkshop("same-user", stack.now());
    await stack.addWorkshop(w);
    const [u] = await confirmedUsers("same-user", 1, () => "solo@example.com");
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await stack.call("POST", "/api/workshops/same-user/claim", u.token);
        return { status: res.status, body: (await res.json()) as { key: { key: string; status: string } } };
      }),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.key.key)).size).toBe(1);
    expect(answers[0].body.key.key).toMatch(/^sk-or-/);
    expect(upstreamKeys(keyNamePrefix(w))).toHaveLength(1);
    expect((await stack.store.getLedger("same-user")).claimed).toBe(1);

    // And later, the same key again.
    const again = await stack.call("POST", "/api/workshops/same-user/claim", u.token);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { key: { key: string } }).key.key).toBe(answers[0].body.key.key);
  });

  it("20 accounts whose emails normalize to one gmail address: one key", async () => {
    const w = testWorkshop("gmail", stack.now());
    await stack.addWorkshop(w);
    const variants = (i: number) => {
      const dotted = ["jane.doe", "janedoe", "j.a.n.e.doe", "JANE.DOE", "jane.d.o.e"][i % 5];
      const tag = i % 2 ? `+ws${i}` : "";
      const domain = i % 3 ? "gmail.com" : "googlemail.com";
      return `${dotted}${tag}@${domain}`;
    };
    const users = await confirmedUsers("gmail", 20, variants);
    const answers = await Promise.all(users.map(async (u) => ({ status: (await stack.call("POST", "/api/workshops/gmail/claim", u.token)).status })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(19);
    expect(upstreamKeys(keyNamePrefix(w))).toHaveLength(1);
    expect(await stack.store.getLedger("gmail")).toMatchObject({ claimed: 1, committed_usd: 2 });
    // Losers left nothing behind: only the winner's claim exists.
    expect(await stack.store.listClaims("gmail")).toHaveLength(1);
  });
});

describe("when OpenRouter fails", () => {
  it("guardrail assignment failing: a working key, UNBOUND; the organizer's retry makes it ACTIVE", async () => {
    const w = testWorkshop("unbound", stack.now());
    const guardrail = await stack.openrouter.ensureGuardrail({ name: "workshop-unbound", description: "t", allowed_models: ["openai/gpt-5-nano"], limit_usd: 800, reset_interval: "monthly" });
    await stack.addWorkshop(w, guardrail.id);
    const u = await stack.attendee("unbound@example.com");
    const organizer = stack.issuer.tokenFor({ sub: "org-1", email: "Organizer@Example.com" });

    stack.upstream.emulator.setFaults({ "guardrails.assign": { errorRate: 1, errorStatus: 503 } });
    try {
      const res = await stack.call("POST", "/api/workshops/unbound/claim", u.token);
      expect(res.status).toBe(201);
      const { key } = (await res.json()) as { key: { key: string; status: string } };
      expect(key.status).toBe("UNBOUND");
      expect((await chat(key.key, "openai/gpt-5-nano")).status).toBe(200);

      // While assignment keeps failing, the organizer's retry says so and the claim stays UNBOUND.
      const failed = await stack.call("POST", `/api/admin/workshops/unbound/claims/${u.sub}/retry-binding`, organizer);
      expect(failed.status).toBe(503);
      expect((await stack.store.getClaim("unbound", u.sub))!.status).toBe("UNBOUND");
    } finally {
      stack.upstream.emulator.setFaults({});
    }

    const retried = await stack.call("POST", `/api/admin/workshops/unbound/claims/${u.sub}/retry-binding`, organizer);
    expect(retried.status).toBe(200);
    const body = (await retried.json()) as { claim: Record<string, unknown> };
    expect(body.claim).toMatchObject({ user_id: u.sub, status: "ACTIVE", last_error: null });
    expect(JSON.stringify(body)).not.toMatch(/sk-or-/);
    const claim = (await stack.store.getClaim("unbound", u.sub))!;
    expect(stack.upstream.emulator.state.assignments.some((a) => a.key_hash === claim.key_hash && a.guardrail_id === guardrail.id)).toBe(true);
    const mine = (await (await stack.call("GET", "/api/workshops/unbound/key", u.token)).json()) as { status: string };
    expect(mine.status).toBe("ACTIVE");
  });

  it("guardrail lookup failing during a burst: working UNBOUND keys, one lookup (not one per claim), retry binds", async () => {
    const w = testWorkshop("no-guardrail", stack.now());
    await stack.addWorkshop(w); // no guardrail id yet, and OpenRouter's guardrail API is down
    const users = await confirmedUsers("no-guardrail", 20, (i) => `ng${i}@example.com`);
    stack.upstream.emulator.resetStats();
    stack.upstream.emulator.setFaults({ "guardrails.list": { errorRate: 1, errorStatus: 502 }, "guardrails.create": { errorRate: 1, errorStatus: 502 } });
    let answers;
    try {
      answers = await Promise.all(
        users.map(async (u) => {
          const res = await stack.call("POST", "/api/workshops/no-guardrail/claim", u.token);
          return { status: res.status, body: (await res.json()) as { key: { key: string; status: string } } };
        }),
      );
    } finally {
      stack.upstream.emulator.setFaults({});
    }
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
    expect(answers.every((a) => a.body.key.status === "UNBOUND")).toBe(true);
    expect((await chat(answers[0].body.key.key, "openai/gpt-5-nano")).status).toBe(200);
    const calls = stack.upstream.emulator.stats().calls;
    // One ensure attempt (with the client's bounded retries) for the whole burst.
    expect((calls["guardrails.list"] ?? 0) + (calls["guardrails.create"] ?? 0)).toBeLessThanOrEqual(2);

    const admin = stack.issuer.tokenFor({ sub: "admin-ng", email: "a@example.org", groups: ["admins"] });
    const retried = await stack.call("POST", `/api/admin/workshops/no-guardrail/claims/${users[0].sub}/retry-binding`, admin);
    expect(retried.status).toBe(200);
    expect(((await retried.json()) as { claim: { status: string } }).claim.status).toBe("ACTIVE");
    expect((await stack.store.getWorkshop("no-guardrail"))!.guardrail_id).toBeTruthy();
  });

  it("mint failing for good: 503, the claim RELEASED, slot, budget and email given back; a later claim works", async () => {
    const w = testWorkshop("mint-fails", stack.now(), { openrouter: { guardrail: { cap_usd: 2, reset_interval: "monthly", max_keys: 1 } } });
    await stack.addWorkshop(w);
    const u = await stack.attendee("unlucky@example.com");

    stack.upstream.emulator.setFaults({ "keys.create": { errorRate: 1, errorStatus: 500 } });
    try {
      const res = await stack.call("POST", "/api/workshops/mint-fails/claim", u.token);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("upstream_unavailable");
    } finally {
      stack.upstream.emulator.setFaults({});
    }
    expect(await stack.store.getLedger("mint-fails")).toEqual({ claimed: 0, committed_usd: 0, paused: false });
    expect((await stack.store.getClaim("mint-fails", u.sub))!.status).toBe("RELEASED");
    expect(await stack.store.getEmailLock("mint-fails", "unlucky@example.com")).toBeUndefined();
    const mine = (await (await stack.call("GET", "/api/workshops/mint-fails/key", u.token)).json()) as { status: string; key: null };
    expect(mine).toMatchObject({ status: "RELEASED", key: null });

    // The only slot is free again: the same person (or anyone) can claim it.
    const again = await stack.call("POST", "/api/workshops/mint-fails/claim", u.token);
    expect(again.status).toBe(201);
    expect(await stack.store.getLedger("mint-fails")).toEqual({ claimed: 1, committed_usd: 2, paused: false });
    expect(upstreamKeys(keyNamePrefix(w))).toHaveLength(1);
  });

  it("a claim stuck in RESERVED past its lease is taken over: the half-made key is deleted and a new one minted", async () => {
    const w = testWorkshop("stuck", stack.now());
    await stack.addWorkshop(w);
    const u = await stack.attendee("stuck@example.com");
    // A container that died after POST /keys and before storing the key leaves exactly this behind:
    // a RESERVED claim with its slot taken, and an upstream key under the claim's name.
    const { claimIdFor } = await import("./claims.js");
    const claimId = claimIdFor("stuck", u.sub);
    const keyName = `${keyNamePrefix(w)}${claimId}`;
    const at = stack.now();
    const stuck: ClaimItem = {
      slug: "stuck",
      user_id: u.sub,
      email: "stuck@example.com",
      email_normalized: "stuck@example.com",
      claim_id: claimId,
      status: "RESERVED",
      key_name: keyName,
      limit_usd: 2,
      expires_at: new Date(at + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      usage_usd: 0,
      reserved_at: new Date(at - 120_000).toISOString(),
      lease_until: at - 30_000,
      attempt: "dead-container",
      claimed_at: new Date(at - 120_000).toISOString(),
      updated_at: new Date(at - 120_000).toISOString(),
    };
    await stack.store.createClaim(stuck);
    await stack.store.lockEmail("stuck", "stuck@example.com", u.sub);
    await stack.store.reserveSlot("stuck", { maxKeys: 300, capUsd: 800, budgetUsd: 2 });
    const orphan = await stack.openrouter.createKey({ name: keyName, limit: 2, expires_at: stuck.expires_at });

    const res = await stack.call("POST", "/api/workshops/stuck/claim", u.token);
    expect(res.status).toBe(200);
    const { key } = (await res.json()) as { key: { key: string; status: string } };
    expect(key.status).toBe("ACTIVE");
    expect(key.key).not.toBe(orphan.key);
    const named = upstreamKeys(keyName);
    expect(named).toHaveLength(1);
    expect(named[0].hash).not.toBe(orphan.hash);
    expect(await stack.store.getLedger("stuck")).toMatchObject({ claimed: 1, committed_usd: 2 });
  });

  it("revoke disables the key upstream, keeps the slot consumed and scrubs the plaintext", async () => {
    const w = testWorkshop("revoke", stack.now());
    await stack.addWorkshop(w);
    const u = await stack.attendee("revoked@example.com");
    const { key } = (await (await stack.call("POST", "/api/workshops/revoke/claim", u.token)).json()) as { key: { key: string } };
    const admin = stack.issuer.tokenFor({ sub: "admin-1", email: "someone@else.org", groups: ["admins"] });
    const res = await stack.call("POST", `/api/admin/workshops/revoke/claims/${u.sub}/revoke`, admin);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { claim: { status: string } }).claim.status).toBe("REVOKED");
    expect((await chat(key.key, "openai/gpt-5-nano")).status).toBe(401);
    expect(await stack.store.getLedger("revoke")).toMatchObject({ claimed: 1 });
    const mine = (await (await stack.call("GET", "/api/workshops/revoke/key", u.token)).json()) as { status: string; key: string | null };
    expect(mine).toMatchObject({ status: "REVOKED", key: null });
    // A revoked person does not get a second key by claiming again.
    const again = await stack.call("POST", "/api/workshops/revoke/claim", u.token);
    expect(again.status).toBe(200);
    expect(upstreamKeys(keyNamePrefix(w))).toHaveLength(1);
  });
});
