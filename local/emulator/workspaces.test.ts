import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenRouterCore } from "@openrouter/sdk/core.js";
import { apiKeysCreate } from "@openrouter/sdk/funcs/apiKeysCreate.js";
import { apiKeysDelete } from "@openrouter/sdk/funcs/apiKeysDelete.js";
import { guardrailsGet } from "@openrouter/sdk/funcs/guardrailsGet.js";
import { guardrailsUpdate } from "@openrouter/sdk/funcs/guardrailsUpdate.js";
import { workspacesCreate } from "@openrouter/sdk/funcs/workspacesCreate.js";
import { workspacesDelete } from "@openrouter/sdk/funcs/workspacesDelete.js";
import { workspacesGet } from "@openrouter/sdk/funcs/workspacesGet.js";
import { workspacesList } from "@openrouter/sdk/funcs/workspacesList.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "./index.js";

/**
 * Workspaces in the emulator, judged by the official SDK's schemas where it has the call: only an
 * organization creates them; a key created in one is governed by the workspace's default guardrail
 * with no assignment, once that guardrail is configured; the state survives a restart.
 */

const MANAGEMENT_KEY = `sk-or-v1-${"cd".repeat(32)}`;
const ALLOWED = "openai/gpt-5-nano";
let dir: string;
let org: RunningEmulator;

const inAWeek = () => new Date(Math.floor(Date.now() / 1000) * 1000 + 7 * 86_400_000);
const sdk = (e: RunningEmulator) => new OpenRouterCore({ apiKey: MANAGEMENT_KEY, serverURL: e.url, retryConfig: { strategy: "none" }, timeoutMs: 5000 });

function ok<T>(result: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!result.ok) {
    const err = result.error as Error & { pretty?: () => string };
    throw new Error(`SDK call failed: ${err.name}: ${err.pretty ? err.pretty() : err.message}`);
  }
  return result.value;
}

async function chat(e: RunningEmulator, key: string, model: string) {
  const res = await fetch(`${e.url}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }], max_tokens: 4 }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { metadata?: { guardrail_id?: string } } } };
}

async function postJson(e: RunningEmulator, path: string, body: unknown) {
  const res = await fetch(`${e.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${MANAGEMENT_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "emulator-workspaces-"));
  org = await startEmulator({ managementKey: MANAGEMENT_KEY, seed: 5, accountKind: "organization", dataFile: join(dir, "openrouter.json") });
});
afterAll(async () => {
  await org?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("workspaces", () => {
  it("are refused to a personal account, which keeps the default workspace alone", async () => {
    const personal = await startEmulator({ managementKey: MANAGEMENT_KEY, seed: 6 });
    try {
      const res = await postJson(personal, "/workspaces", { name: "Workshop", slug: "workshop" });
      expect(res.status).toBe(403);
      expect(res.body.error?.message).toMatch(/organization/);
      const sdkTry = await workspacesCreate(sdk(personal), { createWorkspaceRequest: { name: "Workshop", slug: "workshop" } });
      expect(sdkTry.ok).toBe(false);
    } finally {
      await personal.close();
    }
  });

  it("govern their keys by the default guardrail once configured, with no assignment call", async () => {
    const core = sdk(org);
    const created = ok(await workspacesCreate(core, { createWorkspaceRequest: { name: "Rehearsal", slug: "rehearsal", description: "a workshop" } }));
    const ws = created.data;
    expect(ws).toMatchObject({ name: "Rehearsal", slug: "rehearsal", description: "a workshop" });
    expect(ok(await workspacesGet(core, { id: ws.id })).data.defaultGuardrailId).toBe(ws.defaultGuardrailId);
    expect(ok(await workspacesList(core, {})).result.data.map((w) => w.id)).toContain(ws.id);
    expect((await postJson(org, "/workspaces", { name: "Again", slug: "rehearsal" })).status).toBe(409);

    // Unconfigured: the default guardrail does not exist yet, and governs nothing.
    expect((await guardrailsGet(core, { id: ws.defaultGuardrailId })).ok).toBe(false);
    const early = ok(await apiKeysCreate(core, { requestBody: { name: "ws/early", limit: 1, expiresAt: inAWeek(), workspaceId: ws.id } }));
    expect(early.data.workspaceId).toBe(ws.id);
    expect((await chat(org, early.key, "anthropic/claude-haiku-4.5")).status).toBe(200);

    const configured = ok(await guardrailsUpdate(core, { id: ws.defaultGuardrailId, updateGuardrailRequest: { allowedModels: [ALLOWED] } }));
    expect(configured.data).toMatchObject({ id: ws.defaultGuardrailId, workspaceId: ws.id, allowedModels: [ALLOWED] });

    const key = ok(await apiKeysCreate(core, { requestBody: { name: "ws/governed", limit: 1, expiresAt: inAWeek(), workspaceId: ws.id } }));
    expect(org.emulator.state.assignments.some((a) => a.key_hash === key.data.hash)).toBe(false);
    expect((await chat(org, key.key, ALLOWED)).status).toBe(200);
    const refused = await chat(org, key.key, "anthropic/claude-haiku-4.5");
    expect(refused.status).toBe(403);
    expect(refused.body.error?.metadata?.guardrail_id).toBe(ws.defaultGuardrailId);
    // The key made before the guardrail was configured is governed from now on too.
    expect((await chat(org, early.key, "anthropic/claude-haiku-4.5")).status).toBe(403);

    // A key of the default workspace is not.
    const outside = ok(await apiKeysCreate(core, { requestBody: { name: "default/free", limit: 1, expiresAt: inAWeek() } }));
    expect((await chat(org, outside.key, "anthropic/claude-haiku-4.5")).status).toBe(200);

    // Listings: one workspace at a time.
    const listed = async (query: string) => ((await (await fetch(`${org.url}/keys${query}`, { headers: { authorization: `Bearer ${MANAGEMENT_KEY}` } })).json()) as { data: { hash: string }[] }).data.map((k) => k.hash);
    expect(await listed(`?workspace_id=${ws.id}`)).toEqual([early.data.hash, key.data.hash]);
    expect(await listed("")).toEqual([outside.data.hash]);
  });

  it("refuses a key for a workspace that does not exist", async () => {
    const res = await postJson(org, "/keys", { name: "ws/nowhere", limit: 1, expires_at: inAWeek().toISOString(), workspace_id: "11111111-2222-4333-8444-555555555555" });
    expect(res.status).toBe(404);
  });

  it("survive a restart with their default guardrail", async () => {
    const before = org.emulator.state.workspaces?.find((w) => w.slug === "rehearsal");
    expect(before).toBeDefined();
    await org.close();
    org = await startEmulator({ managementKey: MANAGEMENT_KEY, seed: 5, dataFile: join(dir, "openrouter.json") });
    const core = sdk(org);
    expect(ok(await workspacesGet(core, { id: before!.id })).data.slug).toBe("rehearsal");
    expect(ok(await guardrailsGet(core, { id: before!.default_guardrail_id })).data.allowedModels).toEqual([ALLOWED]);
    // Still an organization's account: the kind is kept in the state.
    expect((await postJson(org, "/workspaces", { name: "Second", slug: "second" })).status).toBe(201);
  });

  it("are deleted only once empty, taking their guardrails with them (by id or slug)", async () => {
    const core = sdk(org);
    const ws = ok(await workspacesCreate(core, { createWorkspaceRequest: { name: "Short-lived", slug: "short-lived" } })).data;
    ok(await guardrailsUpdate(core, { id: ws.defaultGuardrailId, updateGuardrailRequest: { allowedModels: [ALLOWED] } }));
    const key = ok(await apiKeysCreate(core, { requestBody: { name: "ws/short", limit: 1, expiresAt: inAWeek(), workspaceId: ws.id } }));

    const refused = await workspacesDelete(core, { id: ws.id });
    expect(refused.ok).toBe(false);
    expect((await fetch(`${org.url}/workspaces/${ws.id}`, { method: "DELETE", headers: { authorization: `Bearer ${MANAGEMENT_KEY}` } })).status).toBe(400);

    ok(await apiKeysDelete(core, { hash: key.data.hash }));
    expect(ok(await workspacesDelete(core, { id: "short-lived" })).deleted).toBe(true);
    expect((await workspacesGet(core, { id: ws.id })).ok).toBe(false);
    expect((await guardrailsGet(core, { id: ws.defaultGuardrailId })).ok).toBe(false);
    expect((await fetch(`${org.url}/workspaces/${ws.id}`, { method: "DELETE", headers: { authorization: `Bearer ${MANAGEMENT_KEY}` } })).status).toBe(404);
  });

  it("refuse a slug upstream would refuse (double, leading or trailing hyphens)", async () => {
    for (const slug of ["a--b", "-a", "a-", "A"]) expect((await postJson(org, "/workspaces", { name: "Bad", slug })).status).toBe(400);
  });
});
