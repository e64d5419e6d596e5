import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANAGEMENT_OPERATIONS } from "../../local/emulator/index.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { keyExpiresAt, keyName, keyNamePrefix } from "../../workshops/derive.js";
import { workspaceSlug } from "../../workshops/workspace.js";
import type { ClaimItem } from "../data/store.js";
import { claimIdFor } from "./claims.js";
import { normalizeEmail } from "./email.js";

/**
 * Governance "workspace" (issue #24) against the real parts: dynalite and the OpenRouter emulator as
 * an organization's account. Each workshop's keys are created in its own workspace, whose default
 * guardrail governs them: one upstream call per claim, and the allow-list holds from the first request.
 */

const WRONG_MODEL = "anthropic/claude-haiku-4.5";
let clockOffsetMs = 0;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ governance: "workspace", leaseMs: 60_000, now: () => Date.now() + clockOffsetMs });
});
afterAll(async () => {
  await stack?.close();
});

const managementCalls = () => {
  const calls = stack.upstream.emulator.stats().calls as Record<string, number>;
  return Object.fromEntries(MANAGEMENT_OPERATIONS.filter((op) => calls[op]).map((op) => [op, calls[op]]));
};

async function chat(key: string, model: string) {
  const res = await fetch(`${stack.upstream.url}/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }], max_tokens: 4 }),
  });
  return res.status;
}

async function claimAs(slug: string, email: string) {
  const u = await stack.attendee(email);
  const res = await stack.call("POST", `/api/workshops/${slug}/claim`, u.token);
  return { user: u, status: res.status, body: (await res.json()) as { key?: { key: string | null; status: string }; error?: { code: string } } };
}

describe('governance "workspace"', () => {
  it("makes exactly one OpenRouter call per claim, and the key is refused a model outside the allow-list on its first request", async () => {
    const w = testWorkshop("ws-one-call", stack.now());
    await stack.addWorkshop(w);
    // The deploy (or the first claim) ensures the workspace; from then on a claim is one call.
    const governance = await stack.engine.governance(w.slug);
    expect(governance.mode).toBe("workspace");
    stack.upstream.emulator.resetStats();

    const n = 12;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => claimAs(w.slug, `one-call-${i}@example.com`)));
    expect(answers.map((a) => a.status)).toEqual(Array(n).fill(201));
    expect(managementCalls()).toEqual({ "keys.create": n });
    console.log(`workspace governance: OpenRouter calls per claim = ${Object.values(managementCalls()).reduce((a, b) => a + b, 0) / n}`);

    const record = (await stack.store.getWorkshop(w.slug))!;
    expect(governance).toEqual({ mode: "workspace", workspaceId: record.workspace_id, guardrailId: record.guardrail_id });
    const upstream = stack.upstream.emulator.state;
    const ws = upstream.workspaces!.find((x) => x.id === record.workspace_id)!;
    expect(ws.slug).toBe(workspaceSlug(w.slug));
    expect(ws.default_guardrail_id).toBe(record.guardrail_id);
    for (const a of answers) {
      expect(a.body.key?.status).toBe("ACTIVE");
      const claim = (await stack.store.getClaim(w.slug, a.user.sub))!;
      expect(claim.guardrail_id).toBe(ws.default_guardrail_id);
      expect(upstream.keys.find((k) => k.hash === claim.key_hash)?.workspace_id).toBe(ws.id);
    }
    expect(upstream.assignments.filter((a) => a.guardrail_id === ws.default_guardrail_id)).toEqual([]);

    // The very first request of a fresh key outside the allow-list is refused; inside it, served.
    const [first, second] = answers.map((a) => a.body.key!.key!);
    expect(await chat(first, WRONG_MODEL)).toBe(403);
    expect(await chat(second, "openai/gpt-5-nano")).toBe(200);
  }, 60_000);

  it("a workshop with no workspace yet gets one from its first claim, recorded with its default guardrail", async () => {
    const w = testWorkshop("ws-lazy", stack.now());
    await stack.addWorkshop(w);
    stack.upstream.emulator.resetStats();
    const first = await claimAs(w.slug, "lazy@example.com");
    expect(first.status).toBe(201);
    expect(first.body.key?.status).toBe("ACTIVE");
    expect(managementCalls()).toMatchObject({ "workspaces.get": 1, "workspaces.create": 1, "guardrails.get": 1, "guardrails.update": 1, "keys.create": 1 });
    const record = (await stack.store.getWorkshop(w.slug))!;
    expect(record.workspace_id).toBeDefined();
    expect(record.guardrail_id).toBe(stack.upstream.emulator.state.workspaces!.find((x) => x.id === record.workspace_id)!.default_guardrail_id);
    expect(await chat(first.body.key!.key!, WRONG_MODEL)).toBe(403);
  });

  it("a stuck claim's take-over deletes the leftover key in the workshop's workspace and mints there again", async () => {
    const w = testWorkshop("ws-takeover", stack.now());
    await stack.addWorkshop(w);
    const { workspaceId } = (await stack.engine.governance(w.slug)) as { workspaceId: string };
    const userId = randomUUID();
    const at = stack.now();
    const stuck: ClaimItem = {
      slug: w.slug,
      user_id: userId,
      email: "stuck@example.com",
      email_normalized: normalizeEmail("stuck@example.com"),
      claim_id: claimIdFor(w.slug, userId),
      status: "RESERVED",
      key_name: keyName(w, claimIdFor(w.slug, userId)),
      limit_usd: w.openrouter.budget_usd,
      expires_at: keyExpiresAt(w),
      usage_usd: 0,
      reserved_at: new Date(at).toISOString(),
      lease_until: at + 60_000,
      attempt: randomUUID(),
      claimed_at: new Date(at).toISOString(),
      updated_at: new Date(at).toISOString(),
    };
    // What a process that died after POST /keys leaves: the claim RESERVED with its slot and lock, its key upstream.
    await stack.store.createClaim(stuck);
    await stack.store.reserveSlot(w.slug, { maxKeys: 300, capUsd: 800, budgetUsd: w.openrouter.budget_usd });
    await stack.store.lockEmail(w.slug, stuck.email_normalized, userId, stuck.attempt, stuck.expires_at);
    const leftover = await stack.openrouter.createKey({ name: stuck.key_name, limit: 2, expires_at: stuck.expires_at, workspace_id: workspaceId });

    clockOffsetMs += 61_000;
    try {
      const after = await stack.engine.takeOverStuck(w.slug, stuck);
      expect(after.status).toBe("ACTIVE");
      const inWorkspace = stack.upstream.emulator.state.keys.filter((k) => k.name === stuck.key_name);
      expect(inWorkspace.map((k) => k.hash)).toEqual([after.key_hash]);
      expect(inWorkspace[0].workspace_id).toBe(workspaceId);
      expect(after.key_hash).not.toBe(leftover.hash);
    } finally {
      clockOffsetMs -= 61_000;
    }
  });

  it("on a personal account a claim is refused (503), its slot given back, no key made; the log names the setting", async () => {
    const personal = await startTestStack({ governance: "workspace", accountKind: "personal" });
    try {
      const w = testWorkshop("ws-personal", personal.now());
      await personal.addWorkshop(w);
      const u = await personal.attendee("personal@example.com");
      const res = await personal.call("POST", `/api/workshops/${w.slug}/claim`, u.token);
      expect(res.status).toBe(503);
      expect(await personal.store.getLedger(w.slug)).toMatchObject({ claimed: 0, committed_usd: 0 });
      expect((await personal.store.getClaim(w.slug, u.sub))?.status).toBe("RELEASED");
      expect(personal.upstream.emulator.state.keys.filter((k) => k.name.startsWith(keyNamePrefix(w)))).toEqual([]);
      const failed = personal.events.find((e) => e.event === "workspace_ensure_failed");
      expect(String(failed?.fields.error)).toMatch(/GovernanceUnavailableError: .*organization account.*governance assignment/);
    } finally {
      await personal.close();
    }
  });
});
