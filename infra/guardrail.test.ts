import * as pulumi from "@pulumi/pulumi";
import { createRequire } from "node:module";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../local/emulator/index.js";
import { guardrailProvider, isGuardrailProviderError, type GuardrailInputs, type GuardrailProvider } from "./guardrail.js";

/**
 * The guardrail provider's lifecycle against the OpenRouter emulator, run through the provider as
 * Pulumi's host runs it: serialized to text by Pulumi's closure serializer, then loaded with
 * require-from-string (what `pulumi-resource-pulumi-nodejs` does) — so what is tested here is the
 * code that `pulumi up` executes, not just the module in this process.
 */

type Provider = GuardrailProvider;

const requireHere = createRequire(import.meta.url);
const requireFromString = requireHere("require-from-string") as (code: string) => { handler: () => Provider };

let emu: RunningEmulator;
let provider: Provider;
let serializedText: string;
const savedKey = process.env.OPENROUTER_MANAGEMENT_KEY;

function inputs(overrides: Partial<GuardrailInputs> = {}): GuardrailInputs {
  return {
    name: "workshop-lifecycle",
    description: "Workshop Key Minter: lifecycle test",
    allowedModels: ["openai/gpt-5-nano", "anthropic/claude-sonnet-4.6"],
    limitUsd: 800,
    resetInterval: "monthly",
    baseUrl: emu.url,
    ...overrides,
  };
}

/** What upstream holds, read over HTTP like any client. */
async function upstream(id: string): Promise<{ status: number; data?: { name: string; allowed_models: string[] | null; limit_usd: number | null } }> {
  const res = await fetch(`${emu.url}/guardrails/${id}`, { headers: { authorization: `Bearer ${emu.managementKey}` } });
  const body = (await res.json()) as { data?: { name: string; allowed_models: string[] | null; limit_usd: number | null } };
  return { status: res.status, data: body.data };
}

async function upstreamNames(): Promise<string[]> {
  const res = await fetch(`${emu.url}/guardrails?limit=100`, { headers: { authorization: `Bearer ${emu.managementKey}` } });
  return ((await res.json()) as { data: { name: string }[] }).data.map((g) => g.name);
}

beforeAll(async () => {
  // A fixed seed makes the injected faults below the same on every run.
  emu = await startEmulator({ port: 0, seed: 7 });
  // Serialize while a management key is in the environment: it must not end up in the text.
  process.env.OPENROUTER_MANAGEMENT_KEY = emu.managementKey;
  serializedText = (await pulumi.runtime.serializeFunction(() => guardrailProvider, { allowSecrets: false })).text;
  provider = requireFromString(serializedText).handler();
});

beforeEach(() => {
  process.env.OPENROUTER_MANAGEMENT_KEY = emu.managementKey;
});

afterEach(() => {
  emu.emulator.setFaults({});
});

afterAll(async () => {
  if (savedKey === undefined) delete process.env.OPENROUTER_MANAGEMENT_KEY;
  else process.env.OPENROUTER_MANAGEMENT_KEY = savedKey;
  await emu?.close();
});

describe("the serialized provider", () => {
  it("carries no management key and no captured module state", () => {
    expect(serializedText).not.toContain(emu.managementKey);
    expect(serializedText).toContain("process.env.OPENROUTER_MANAGEMENT_KEY");
    // zod is loaded inside check, not captured: a captured schema would serialize thousands of closures.
    expect(serializedText.length).toBeLessThan(30_000);
  });
});

describe("check", () => {
  it("accepts a workshop's guardrail", async () => {
    const result = await provider.check({} as GuardrailInputs, inputs());
    expect(result.failures ?? []).toEqual([]);
    expect(result.inputs).toEqual(inputs());
  });

  it("names every bad property", async () => {
    const result = await provider.check(
      {} as GuardrailInputs,
      inputs({ allowedModels: [], resetInterval: "hourly" as never, limitUsd: -1, baseUrl: "not a url" }),
    );
    expect(result.failures?.map((f) => f.property).sort()).toEqual(["allowedModels", "baseUrl", "limitUsd", "resetInterval"]);
  });
});

describe("lifecycle", () => {
  it("creates, stays quiet when nothing changed, updates the allowlist in place, replaces on rename, deletes", async () => {
    const created = await provider.create(inputs());
    const id = created.id;
    expect(created.outs.guardrailId).toBe(id);
    expect((await upstream(id)).data).toMatchObject({
      name: "workshop-lifecycle",
      allowed_models: ["openai/gpt-5-nano", "anthropic/claude-sonnet-4.6"],
      limit_usd: 800,
    });

    // The same inputs, in another order: no change (upstream may reorder lists).
    const same = await provider.diff(id, created.outs, inputs({ allowedModels: ["anthropic/claude-sonnet-4.6", "openai/gpt-5-nano"] }));
    expect(same.changes).toBe(false);
    expect(same.replaces).toEqual([]);

    // An organizer adds a model: updated in place, same id, so bound keys stay bound.
    const wider = inputs({ allowedModels: ["openai/gpt-5-nano", "anthropic/claude-sonnet-4.6", "qwen/qwen3.5-flash-02-23"] });
    const allowlistDiff = await provider.diff(id, created.outs, wider);
    expect(allowlistDiff).toMatchObject({ changes: true, replaces: [] });
    const updated = await provider.update(id, created.outs, wider);
    expect(updated.outs.guardrailId).toBe(id);
    expect((await upstream(id)).data?.allowed_models).toEqual(wider.allowedModels);

    // A cap change is in place too.
    expect(await provider.diff(id, updated.outs, { ...wider, limitUsd: 900 })).toMatchObject({ changes: true, replaces: [] });

    // A rename replaces: Pulumi creates the new one, then deletes the old.
    const renamed = { ...wider, name: "workshop-lifecycle-renamed" };
    const renameDiff = await provider.diff(id, updated.outs, renamed);
    expect(renameDiff.changes).toBe(true);
    expect(renameDiff.replaces).toEqual(["name"]);
    const replacement = await provider.create(renamed);
    expect(replacement.id).not.toBe(id);
    await provider.delete(id, updated.outs);
    expect((await upstream(id)).status).toBe(404);
    expect((await upstream(replacement.id)).data?.name).toBe("workshop-lifecycle-renamed");

    // Deleting what is already gone is done, not an error.
    await provider.delete(replacement.id, replacement.outs);
    expect((await upstream(replacement.id)).status).toBe(404);
    await expect(provider.delete(replacement.id, replacement.outs)).resolves.toBeUndefined();
  });

  it("moving to another OpenRouter replaces the guardrail", async () => {
    const created = await provider.create(inputs({ name: "workshop-moving" }));
    const diff = await provider.diff(created.id, created.outs, inputs({ name: "workshop-moving", baseUrl: "https://openrouter.ai/api/v1" }));
    expect(diff.replaces).toEqual(["baseUrl"]);
    await provider.delete(created.id, created.outs);
  });

  it("refresh reads upstream's drift, and the next diff puts it back", async () => {
    const created = await provider.create(inputs({ name: "workshop-drift" }));
    // Someone narrows the allowlist in OpenRouter's dashboard.
    const patch = await fetch(`${emu.url}/guardrails/${created.id}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${emu.managementKey}`, "content-type": "application/json" },
      body: JSON.stringify({ allowed_models: ["openai/gpt-5-nano"], limit_usd: 5 }),
    });
    expect(patch.status).toBe(200);

    const read = await provider.read(created.id, created.outs);
    expect(read.id).toBe(created.id);
    expect(read.props).toMatchObject({ allowedModels: ["openai/gpt-5-nano"], limitUsd: 5, baseUrl: emu.url });

    const diff = await provider.diff(created.id, read.props!, inputs({ name: "workshop-drift" }));
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    await provider.update(created.id, read.props!, inputs({ name: "workshop-drift" }));
    expect((await upstream(created.id)).data?.allowed_models).toEqual(inputs().allowedModels);

    // Deleted upstream: refresh reports it gone (no id), so Pulumi drops it from state.
    await provider.delete(created.id, created.outs);
    expect(await provider.read(created.id, created.outs)).toEqual({});
  });

  it("create adopts a guardrail of the same name left by an interrupted deploy", async () => {
    const orphan = await fetch(`${emu.url}/guardrails`, {
      method: "POST",
      headers: { authorization: `Bearer ${emu.managementKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "workshop-orphan", allowed_models: ["openai/gpt-5-nano"] }),
    });
    const orphanId = ((await orphan.json()) as { data: { id: string } }).data.id;
    const created = await provider.create(inputs({ name: "workshop-orphan" }));
    expect(created.id).toBe(orphanId);
    expect((await upstream(orphanId)).data?.allowed_models).toEqual(inputs().allowedModels);
    expect((await upstreamNames()).filter((n) => n === "workshop-orphan")).toHaveLength(1);
    await provider.delete(created.id, created.outs);
  });

  it("rides out a burst of 503s and 429s", async () => {
    emu.emulator.setFaults({ "guardrails.create": { errorRate: 0.5, errorStatus: 503 }, "guardrails.list": { rateLimitRate: 0.5, retryAfterSeconds: 0.05 } });
    const created = await provider.create(inputs({ name: "workshop-flaky" }));
    expect((await upstream(created.id)).data?.name).toBe("workshop-flaky");
    const injected = emu.emulator.stats().injected;
    expect((injected["guardrails.create"]?.errors ?? 0) + (injected["guardrails.list"]?.rateLimited ?? 0)).toBeGreaterThan(0);
    emu.emulator.setFaults({});
    await provider.delete(created.id, created.outs);
  });
});

describe("an unreachable OpenRouter", () => {
  it("is retried, then reported with the guardrail's name", async () => {
    // Port 1 on loopback refuses connections: the network fault a live emulator cannot produce.
    const props = { ...inputs({ name: "workshop-unreachable" }), baseUrl: "http://127.0.0.1:1/api/v1", guardrailId: "gone" };
    const started = Date.now();
    const error = await provider.read("gone", props).catch((e: unknown) => e);
    expect(isGuardrailProviderError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^guardrail workshop-unreachable: GET \/guardrails\/gone failed/);
    // Three waits between four attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
  });
});

describe("the management key", () => {
  it("is never read from the stack config: the serialized provider has no configure step and names no config key", () => {
    // A preview runs a pull request's code with a passphrase or token that decrypts the stack
    // config, so the key must not be there for the provider to find.
    const fresh = requireFromString(serializedText).handler() as unknown as Record<string, unknown>;
    expect(fresh.configure).toBeUndefined();
    expect(serializedText).not.toContain("openrouterManagementKey");
  });

  it("fails with a message that says what to set, and never shows the key", async () => {
    delete process.env.OPENROUTER_MANAGEMENT_KEY;
    const missing = await provider.create(inputs({ name: "workshop-no-key" })).catch((e: unknown) => e);
    expect(isGuardrailProviderError(missing)).toBe(true);
    expect((missing as Error).message).toMatch(/OPENROUTER_MANAGEMENT_KEY/);
    expect((missing as Error).message).not.toMatch(/config set/);

    const wrongKey = `sk-or-v1-${"0".repeat(64)}`; // built at run time: no key-shaped literal in the repository
    process.env.OPENROUTER_MANAGEMENT_KEY = wrongKey;
    const rejected = await provider.create(inputs({ name: "workshop-wrong-key" })).catch((e: unknown) => e);
    expect(isGuardrailProviderError(rejected)).toBe(true);
    expect((rejected as Error).message).toMatch(/workshop-wrong-key/);
    expect((rejected as Error).message).toMatch(/HTTP 401/);
    expect((rejected as Error).message).not.toContain(wrongKey);
  });
});
