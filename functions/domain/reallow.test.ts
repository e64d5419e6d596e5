import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Workshop, WorkshopInput } from "../../workshops/schema.js";
import { ledgerFromClaims } from "../../local/ledger-accounts.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { onBehalfUserId } from "./reallow.js";

/**
 * An organizer lets a revoked attendee claim one new key, and claims a key on behalf of someone in
 * the room: against the real parts (dynalite, the OpenRouter emulator) through the HTTP app, each
 * test ending on the ledger agreeing with the claims (local/ledger-accounts.ts).
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.close();
});

const NANO = { id: "openai/gpt-5-nano", label: "GPT-5 nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 };

function workshop(slug: string, guardrail: { cap_usd: number; max_keys: number }, extra: Partial<Omit<WorkshopInput, "openrouter">> = {}): Workshop {
  return testWorkshop(slug, stack.now(), { ...extra, openrouter: { budget_usd: 2, models: [NANO], guardrail: { ...guardrail, reset_interval: "monthly" } } });
}

const admin = () => stack.issuer.tokenFor({ sub: "admin-reallow", email: "admin@example.org", groups: ["admins"] });
const post = async (path: string, token: string, body?: unknown) => {
  const res = await stack.call("POST", path, token, body);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const upstreamKey = (hash: string | undefined) => stack.upstream.emulator.state.keys.find((k) => k.hash === hash);

async function expectLedgerExact(slug: string) {
  const [ledger, claims] = await Promise.all([stack.store.getLedger(slug), stack.store.listClaims(slug)]);
  expect({ claimed: ledger.claimed, committed_usd: ledger.committed_usd }).toEqual(ledgerFromClaims(claims));
}

describe("let them claim again after a revoke", () => {
  it("one new key under a new name; the old one stays revoked and what it spent stays committed", async () => {
    const w = workshop("reallow-one", { cap_usd: 100, max_keys: 2 });
    await stack.addWorkshop(w);
    const ann = await stack.attendee("ann@example.com");
    const first = await post(`/api/workshops/${w.slug}/claim`, ann.token);
    expect(first.status).toBe(201);
    const old = (await stack.store.getClaim(w.slug, ann.sub))!;

    // Not revoked yet: nothing to allow.
    expect(await post(`/api/admin/workshops/${w.slug}/claims/${ann.sub}/allow-again`, admin())).toMatchObject({ status: 409, body: { error: { code: "claim_state" } } });
    expect((await post(`/api/admin/workshops/${w.slug}/claims/${ann.sub}/revoke`, admin())).status).toBe(200);
    // Revoked but not re-allowed: a claim answers the revoked claim, no new key.
    expect(await post(`/api/workshops/${w.slug}/claim`, ann.token)).toMatchObject({ status: 200, body: { key: { status: "REVOKED", key: null } } });

    const allowed = await post(`/api/admin/workshops/${w.slug}/claims/${ann.sub}/allow-again`, admin());
    expect(allowed).toMatchObject({ status: 200, body: { claim: { status: "REVOKED" } } });
    expect(allowed.body.claim.reallowed_at).toEqual(expect.any(String));

    const again = await post(`/api/workshops/${w.slug}/claim`, ann.token);
    expect(again).toMatchObject({ status: 201, body: { key: { status: "ACTIVE", budget_usd: 2 } } });
    expect(again.body.key.key).not.toBe(first.body.key.key);
    const now = (await stack.store.getClaim(w.slug, ann.sub))!;
    expect(now.key_name).not.toBe(old.key_name);
    expect(now.earlier_keys).toEqual([expect.objectContaining({ key_hash: old.key_hash, returned_usd: 2 })]);
    expect(upstreamKey(old.key_hash)).toMatchObject({ disabled: true });
    expect(upstreamKey(now.key_hash)).toMatchObject({ disabled: false, limit: 2 });
    await expectLedgerExact(w.slug);

    // One new key, not one per claim: claiming again answers the same key.
    expect(await post(`/api/workshops/${w.slug}/claim`, ann.token)).toMatchObject({ status: 200, body: { key: { key: again.body.key.key } } });
    // The new key revokes on its own (its give-back is its own on the ledger).
    expect(await post(`/api/admin/workshops/${w.slug}/claims/${ann.sub}/revoke`, admin())).toMatchObject({ status: 200, body: { claim: { returned_usd: 2 } } });
    await expectLedgerExact(w.slug);
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 0, committed_usd: 0 });
  });

  it("a re-allowed person is refused like anyone else when the room is full", async () => {
    const w = workshop("reallow-full", { cap_usd: 100, max_keys: 1 });
    await stack.addWorkshop(w);
    const [bea, cal] = await Promise.all([stack.attendee("bea@example.com"), stack.attendee("cal@example.com")]);
    expect((await post(`/api/workshops/${w.slug}/claim`, bea.token)).status).toBe(201);
    expect((await post(`/api/admin/workshops/${w.slug}/claims/${bea.sub}/revoke`, admin())).status).toBe(200);
    expect((await post(`/api/workshops/${w.slug}/claim`, cal.token)).status).toBe(201);
    expect((await post(`/api/admin/workshops/${w.slug}/claims/${bea.sub}/allow-again`, admin())).status).toBe(200);
    expect(await post(`/api/workshops/${w.slug}/claim`, bea.token)).toMatchObject({ status: 200, body: { key: { status: "REVOKED" } } });
    await expectLedgerExact(w.slug);
  });
});

describe("claim on behalf of someone in the room", () => {
  it("answers the key once, without the room code; it counts as that email's one key", async () => {
    const w = workshop("behalf", { cap_usd: 100, max_keys: 5 }, { claim_code: true });
    await stack.addWorkshop(w);
    const made = await post(`/api/admin/workshops/${w.slug}/claim-on-behalf`, admin(), { email: "Dee@Example.com", display_name: "Dee" });
    expect(made.status).toBe(201);
    expect(made.body.key).toMatchObject({ status: "ACTIVE", budget_usd: 2, key: expect.any(String) });
    expect(made.body.claim).toMatchObject({ email: "Dee@Example.com", display_name: "Dee", handed_out_by: "admin@example.org" });

    // The key works, and is not kept: nobody can read it again.
    const chat = await fetch(`${stack.upstream.url}/chat/completions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${made.body.key.key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: NANO.id, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(chat.status).toBe(200);
    expect((await stack.store.getClaim(w.slug, onBehalfUserId("dee@example.com")))!.key).toBeUndefined();

    expect(await post(`/api/admin/workshops/${w.slug}/claim-on-behalf`, admin(), { email: "dee@example.com" })).toMatchObject({ status: 409, body: { error: { code: "claim_state" } } });
    const dee = await stack.attendee("dee@example.com");
    const own = await stack.call("POST", `/api/workshops/${w.slug}/claim`, dee.token, { code: (await engineRoomCode(w.slug))! });
    expect(own.status).toBe(409);
    expect(((await own.json()) as { error: { code: string } }).error.code).toBe("email_already_claimed");
    await expectLedgerExact(w.slug);
  });

  it("is refused for an email that already has its own key, and for an attendee (403)", async () => {
    const w = workshop("behalf-taken", { cap_usd: 100, max_keys: 5 });
    await stack.addWorkshop(w);
    const eve = await stack.attendee("eve@example.com");
    expect((await post(`/api/workshops/${w.slug}/claim`, eve.token)).status).toBe(201);
    expect(await post(`/api/admin/workshops/${w.slug}/claim-on-behalf`, admin(), { email: "eve@example.com" })).toMatchObject({ status: 409, body: { error: { code: "email_already_claimed" } } });
    expect((await post(`/api/admin/workshops/${w.slug}/claim-on-behalf`, eve.token, { email: "x@example.com" })).status).toBe(403);
    await expectLedgerExact(w.slug);
  });
});

async function engineRoomCode(slug: string): Promise<string | undefined> {
  const now = await stack.engine.roomCode(slug);
  return now && !now.closed ? now.current.code : undefined;
}
