import * as pulumi from "@pulumi/pulumi";
import { createRequire } from "node:module";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../local/emulator/index.js";
import { isWorkspaceProviderError, workspaceProvider, type WorkspaceInputs, type WorkspaceProvider } from "./workspace.js";

/**
 * The workspace provider's lifecycle against the OpenRouter emulator (an organization's account),
 * run as Pulumi's host runs it: serialized by Pulumi's closure serializer, loaded from that text.
 */

const requireHere = createRequire(import.meta.url);
const requireFromString = requireHere("require-from-string") as (code: string) => { handler: () => WorkspaceProvider };

let org: RunningEmulator;
let personal: RunningEmulator;
let provider: WorkspaceProvider;
let serializedText: string;
const savedKey = process.env.OPENROUTER_MANAGEMENT_KEY;
const MANAGEMENT_KEY = `sk-or-v1-${"9a".repeat(32)}`;

function inputs(overrides: Partial<WorkspaceInputs> = {}): WorkspaceInputs {
  return {
    slug: "workshop-lifecycle-1a2b3c4d",
    name: "workshop-lifecycle",
    description: "Workshop Key Minter: lifecycle test",
    guardrailName: "workshop-lifecycle",
    allowedModels: ["openai/gpt-5-nano", "anthropic/claude-sonnet-4.6"],
    limitUsd: 800,
    resetInterval: "monthly",
    baseUrl: org.url,
    ...overrides,
  };
}

async function get(e: RunningEmulator, path: string) {
  const res = await fetch(`${e.url}${path}`, { headers: { authorization: `Bearer ${MANAGEMENT_KEY}` } });
  return { status: res.status, data: ((await res.json()) as { data?: Record<string, unknown> }).data };
}

async function chat(key: string, model: string) {
  const res = await fetch(`${org.url}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
  });
  return res.status;
}

beforeAll(async () => {
  [org, personal] = await Promise.all([
    startEmulator({ port: 0, seed: 11, managementKey: MANAGEMENT_KEY, accountKind: "organization" }),
    startEmulator({ port: 0, seed: 12, managementKey: MANAGEMENT_KEY }),
  ]);
  process.env.OPENROUTER_MANAGEMENT_KEY = MANAGEMENT_KEY;
  serializedText = (await pulumi.runtime.serializeFunction(() => workspaceProvider, { allowSecrets: false })).text;
  provider = requireFromString(serializedText).handler();
});
beforeEach(() => {
  process.env.OPENROUTER_MANAGEMENT_KEY = MANAGEMENT_KEY;
});
afterAll(async () => {
  if (savedKey === undefined) delete process.env.OPENROUTER_MANAGEMENT_KEY;
  else process.env.OPENROUTER_MANAGEMENT_KEY = savedKey;
  await Promise.all([org?.close(), personal?.close()]);
});

describe("the serialized provider", () => {
  it("carries no management key", () => {
    expect(serializedText).not.toContain(MANAGEMENT_KEY);
    expect(serializedText).toContain("process.env.OPENROUTER_MANAGEMENT_KEY");
  });
});

describe("check", () => {
  it("accepts a workshop's workspace and names every bad property", async () => {
    expect((await provider.check({} as WorkspaceInputs, inputs())).failures ?? []).toEqual([]);
    const bad = await provider.check({} as WorkspaceInputs, inputs({ slug: "Bad--slug", allowedModels: [], limitUsd: 0, resetInterval: "hourly" as never, baseUrl: "nope" }));
    expect(bad.failures?.map((f) => f.property).sort()).toEqual(["allowedModels", "baseUrl", "limitUsd", "resetInterval", "slug"]);
  });
});

describe("lifecycle", () => {
  it("creates the workspace with its default guardrail governing keys, stays quiet, updates in place, replaces on a new slug, deletes", async () => {
    const created = await provider.create(inputs());
    const id = created.id;
    expect(created.outs.workspaceId).toBe(id);
    const ws = await get(org, `/workspaces/${id}`);
    expect(ws.data).toMatchObject({ slug: "workshop-lifecycle-1a2b3c4d", default_guardrail_id: created.outs.guardrailId });
    expect((await get(org, `/guardrails/${created.outs.guardrailId}`)).data).toMatchObject({ allowed_models: inputs().allowedModels, limit_usd: 800, workspace_id: id });

    // A key created in it is governed from its first request, no assignment.
    const made = await fetch(`${org.url}/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${MANAGEMENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "lifecycle/k", limit: 1, expires_at: new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000).toISOString(), workspace_id: id }),
    });
    const key = (await made.json()) as { key: string; data: { hash: string } };
    expect(await chat(key.key, "qwen/qwen3.5-flash-02-23")).toBe(403);

    expect(await provider.diff(id, created.outs, inputs({ allowedModels: ["anthropic/claude-sonnet-4.6", "openai/gpt-5-nano"] }))).toMatchObject({ changes: false, replaces: [] });

    const wider = inputs({ allowedModels: [...inputs().allowedModels, "qwen/qwen3.5-flash-02-23"] });
    expect(await provider.diff(id, created.outs, wider)).toMatchObject({ changes: true, replaces: [] });
    const updated = await provider.update(id, created.outs, wider);
    expect(updated.outs).toMatchObject({ workspaceId: id, guardrailId: created.outs.guardrailId });
    expect(await chat(key.key, "qwen/qwen3.5-flash-02-23")).toBe(200);

    expect((await provider.diff(id, updated.outs, { ...wider, slug: "workshop-other-5e6f7a8b" })).replaces).toEqual(["slug"]);
    expect((await provider.diff(id, updated.outs, { ...wider, baseUrl: "https://openrouter.ai/api/v1" })).replaces).toEqual(["baseUrl"]);

    // Still holding a key: upstream keeps it, and delete leaves it governed (the deploy goes on).
    await expect(provider.delete(id, updated.outs)).resolves.toBeUndefined();
    expect((await get(org, `/workspaces/${id}`)).status).toBe(200);
    expect(await chat(key.key, "meta-llama/llama-3.3-70b-instruct")).toBe(403);

    // Emptied (the jobs' retire deletes the keys), it is deleted, and refresh then forgets it.
    await fetch(`${org.url}/keys/${key.data.hash}`, { method: "DELETE", headers: { authorization: `Bearer ${MANAGEMENT_KEY}` } });
    await provider.delete(id, updated.outs);
    expect((await get(org, `/workspaces/${id}`)).status).toBe(404);
    expect(await provider.read(id, updated.outs)).toEqual({});
    await expect(provider.delete(id, updated.outs)).resolves.toBeUndefined();
  });

  it("refresh reads drift of the default guardrail, and the next diff puts it back", async () => {
    const created = await provider.create(inputs({ slug: "workshop-drift-0f0f0f0f" }));
    await fetch(`${org.url}/guardrails/${created.outs.guardrailId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${MANAGEMENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ allowed_models: ["openai/gpt-5-nano"] }),
    });
    const read = await provider.read(created.id, created.outs);
    expect(read.props).toMatchObject({ allowedModels: ["openai/gpt-5-nano"], workspaceId: created.id });
    expect(await provider.diff(created.id, read.props!, inputs({ slug: "workshop-drift-0f0f0f0f" }))).toMatchObject({ changes: true, replaces: [] });
    await provider.update(created.id, read.props!, inputs({ slug: "workshop-drift-0f0f0f0f" }));
    expect((await get(org, `/guardrails/${created.outs.guardrailId}`)).data?.allowed_models).toEqual(inputs().allowedModels);
    await provider.delete(created.id, created.outs);
  });

  it("create adopts a workspace with its slug left by an interrupted deploy (or made by the claim engine)", async () => {
    const made = await fetch(`${org.url}/workspaces`, {
      method: "POST",
      headers: { authorization: `Bearer ${MANAGEMENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "left over", slug: "workshop-adopt-12345678" }),
    });
    const leftover = ((await made.json()) as { data: { id: string } }).data.id;
    const created = await provider.create(inputs({ slug: "workshop-adopt-12345678" }));
    expect(created.id).toBe(leftover);
    expect((await get(org, `/guardrails/${created.outs.guardrailId}`)).data?.allowed_models).toEqual(inputs().allowedModels);
    await provider.delete(created.id, created.outs);
  });

  it('on a personal account the deploy fails with a message naming the governance setting and the fix', async () => {
    const error = await provider.create(inputs({ baseUrl: personal.url, slug: "workshop-personal-abcdef01" })).catch((e: unknown) => e);
    expect(isWorkspaceProviderError(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toMatch(/^workspace workshop-personal-abcdef01: OpenRouter refused to create it \(HTTP 403/);
    expect(message).toContain("`governance` setting");
    expect(message).toContain("organization account");
    expect(message).toContain("pulumi config set governance assignment");
    expect(message).not.toContain(MANAGEMENT_KEY);
  });
});
