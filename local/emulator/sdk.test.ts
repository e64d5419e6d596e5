import { OpenRouterCore } from "@openrouter/sdk/core.js";
import { apiKeysCreate } from "@openrouter/sdk/funcs/apiKeysCreate.js";
import { apiKeysDelete } from "@openrouter/sdk/funcs/apiKeysDelete.js";
import { apiKeysGet } from "@openrouter/sdk/funcs/apiKeysGet.js";
import { apiKeysGetCurrentKeyMetadata } from "@openrouter/sdk/funcs/apiKeysGetCurrentKeyMetadata.js";
import { apiKeysList } from "@openrouter/sdk/funcs/apiKeysList.js";
import { apiKeysUpdate } from "@openrouter/sdk/funcs/apiKeysUpdate.js";
import { chatSend } from "@openrouter/sdk/funcs/chatSend.js";
import { creditsGetCredits } from "@openrouter/sdk/funcs/creditsGetCredits.js";
import { guardrailsBulkAssignKeys } from "@openrouter/sdk/funcs/guardrailsBulkAssignKeys.js";
import { guardrailsBulkUnassignKeys } from "@openrouter/sdk/funcs/guardrailsBulkUnassignKeys.js";
import { guardrailsCreate } from "@openrouter/sdk/funcs/guardrailsCreate.js";
import { guardrailsDelete } from "@openrouter/sdk/funcs/guardrailsDelete.js";
import { guardrailsGet } from "@openrouter/sdk/funcs/guardrailsGet.js";
import { guardrailsList } from "@openrouter/sdk/funcs/guardrailsList.js";
import { guardrailsListGuardrailKeyAssignments } from "@openrouter/sdk/funcs/guardrailsListGuardrailKeyAssignments.js";
import { guardrailsListKeyAssignments } from "@openrouter/sdk/funcs/guardrailsListKeyAssignments.js";
import { guardrailsUpdate } from "@openrouter/sdk/funcs/guardrailsUpdate.js";
import { modelsList } from "@openrouter/sdk/funcs/modelsList.js";
import type { ChatResult } from "@openrouter/sdk/models/chatresult.js";
import type { ChatStreamChunk } from "@openrouter/sdk/models/chatstreamchunk.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "./index.js";

/**
 * The official SDK is the judge of the emulator's shapes: every endpoint this product touches is
 * driven through its standalone functions, and every answer must pass its zod schemas (a shape
 * mismatch surfaces as a ResponseValidationError, i.e. `ok: false`).
 */

let running: RunningEmulator;
let admin: OpenRouterCore;

function sdk(apiKey: string): OpenRouterCore {
  return new OpenRouterCore({ apiKey, serverURL: running.url, retryConfig: { strategy: "none" }, timeoutMs: 5000 });
}

/** Unwraps a Result, failing with the SDK's own error (validation errors name the bad field). */
function ok<T>(result: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!result.ok) {
    const err = result.error as Error & { pretty?: () => string };
    throw new Error(`SDK call failed: ${err.name}: ${err.pretty ? err.pretty() : err.message}`);
  }
  return result.value;
}

const inAWeek = () => new Date(Math.floor(Date.now() / 1000) * 1000 + 7 * 86_400_000);

beforeAll(async () => {
  running = await startEmulator({ managementKey: `sk-or-v1-${"ab".repeat(32)}`, seed: 1 });
  admin = sdk(running.managementKey);
});
afterAll(async () => {
  await running?.close();
});

describe("the official SDK against the emulator", () => {
  it("creates, reads, lists, updates and deletes keys", async () => {
    const created = ok(
      await apiKeysCreate(admin, { requestBody: { name: "sdk/one", limit: 2.5, expiresAt: inAWeek(), includeByokInLimit: false } }),
    );
    expect(created.key).toMatch(/^sk-or-v1-[0-9a-f]{64}$/);
    expect(created.data.label).toBe(`sk-or-v1-${created.key.slice(9, 12)}...${created.key.slice(-4)}`);
    expect(created.data).toMatchObject({ name: "sdk/one", limit: 2.5, limitRemaining: 2.5, usage: 0, disabled: false, externalUser: null });
    expect(created.data.expiresAt).toBeInstanceOf(Date);

    const got = ok(await apiKeysGet(admin, { hash: created.data.hash }));
    expect(got.data.hash).toBe(created.data.hash);

    const listed = ok(await apiKeysList(admin, { offset: 0 }));
    expect(listed.data.map((k) => k.hash)).toContain(created.data.hash);

    const updated = ok(await apiKeysUpdate(admin, { hash: created.data.hash, requestBody: { disabled: true, limit: 3, name: "sdk/renamed" } }));
    expect(updated.data).toMatchObject({ disabled: true, limit: 3, name: "sdk/renamed" });
    expect(updated.data.updatedAt).not.toBeNull();

    const withoutDisabled = ok(await apiKeysList(admin, {}));
    expect(withoutDisabled.data.map((k) => k.hash)).not.toContain(created.data.hash);
    const withDisabled = ok(await apiKeysList(admin, { includeDisabled: true }));
    expect(withDisabled.data.map((k) => k.hash)).toContain(created.data.hash);

    expect(ok(await apiKeysDelete(admin, { hash: created.data.hash })).deleted).toBe(true);
    const gone = await apiKeysGet(admin, { hash: created.data.hash });
    expect(gone.ok).toBe(false);
    if (!gone.ok) expect((gone.error as { statusCode?: number }).statusCode).toBe(404);
  });

  it("creates, lists, gets, updates and deletes guardrails, and manages key assignments", async () => {
    const guardrail = ok(
      await guardrailsCreate(admin, {
        createGuardrailRequest: {
          name: "workshop-sdk",
          description: "SDK test",
          allowedModels: ["openai/gpt-5-nano"],
          limitUsd: 100,
          resetInterval: "monthly",
        },
      }),
    ).data;
    expect(guardrail).toMatchObject({ name: "workshop-sdk", allowedModels: ["openai/gpt-5-nano"], limitUsd: 100, resetInterval: "monthly" });

    const page = ok(await guardrailsList(admin, { offset: 0, limit: 100 }));
    expect(page.result.data.map((g) => g.id)).toContain(guardrail.id);
    expect(page.result.totalCount).toBeGreaterThanOrEqual(1);

    expect(ok(await guardrailsGet(admin, { id: guardrail.id })).data.id).toBe(guardrail.id);
    const patched = ok(
      await guardrailsUpdate(admin, { id: guardrail.id, updateGuardrailRequest: { allowedModels: ["openai/gpt-5-nano", "openai/gpt-4o-mini"] } }),
    ).data;
    expect(patched.allowedModels).toEqual(["openai/gpt-5-nano", "openai/gpt-4o-mini"]);

    const key = ok(await apiKeysCreate(admin, { requestBody: { name: "sdk/assigned", limit: 1, expiresAt: inAWeek() } }));
    const assigned = ok(await guardrailsBulkAssignKeys(admin, { id: guardrail.id, bulkAssignKeysRequest: { keyHashes: [key.data.hash] } }));
    expect(assigned.assignedCount).toBe(1);

    const forGuardrail = ok(await guardrailsListGuardrailKeyAssignments(admin, { id: guardrail.id }));
    expect(forGuardrail.result.data).toEqual([
      expect.objectContaining({ keyHash: key.data.hash, guardrailId: guardrail.id, keyName: "sdk/assigned", keyLabel: key.data.label }),
    ]);
    const everywhere = ok(await guardrailsListKeyAssignments(admin, {}));
    expect(everywhere.result.data.map((a) => a.keyHash)).toContain(key.data.hash);

    const removed = ok(await guardrailsBulkUnassignKeys(admin, { id: guardrail.id, bulkUnassignKeysRequest: { keyHashes: [key.data.hash] } }));
    expect(removed.unassignedCount).toBe(1);
    expect(ok(await guardrailsListGuardrailKeyAssignments(admin, { id: guardrail.id })).result.data).toEqual([]);

    expect(ok(await guardrailsDelete(admin, { id: guardrail.id })).deleted).toBe(true);
  });

  it("answers GET /key for the management key and for an attendee key, and GET /credits", async () => {
    const mine = ok(await apiKeysGetCurrentKeyMetadata(admin));
    expect(mine.data).toMatchObject({ isManagementKey: true, limit: null });

    const key = ok(await apiKeysCreate(admin, { requestBody: { name: "sdk/current", limit: 4, expiresAt: inAWeek() } }));
    const theirs = ok(await apiKeysGetCurrentKeyMetadata(sdk(key.key)));
    expect(theirs.data).toMatchObject({ isManagementKey: false, limit: 4, limitRemaining: 4, label: key.data.label });

    const credits = ok(await creditsGetCredits(admin));
    expect(credits.data.totalCredits).toBeGreaterThan(0);
  });

  it("lists models and completes a chat, plain and streamed", async () => {
    const models = ok(await modelsList(sdk(running.managementKey), {}));
    expect(models.result.data.map((m) => m.id)).toContain("openai/gpt-5-nano");

    const key = ok(await apiKeysCreate(admin, { requestBody: { name: "sdk/chat", limit: 1, expiresAt: inAWeek() } }));
    const attendee = sdk(key.key);
    const plain = ok(
      await chatSend(attendee, { chatRequest: { model: "openai/gpt-5-nano", messages: [{ role: "user", content: "Hello there!" }], maxTokens: 10 } }),
    ) as ChatResult;
    expect(plain.choices[0].message.content).toContain("openai/gpt-5-nano");
    expect(plain.usage).toMatchObject({ promptTokens: 3, completionTokens: 10, totalTokens: 13 });

    const stream = ok(
      await chatSend(attendee, {
        chatRequest: { model: "openai/gpt-5-nano", messages: [{ role: "user", content: "Hello there!" }], maxTokens: 10, stream: true },
      }),
    ) as AsyncIterable<ChatStreamChunk>;
    let text = "";
    let usage: ChatStreamChunk["usage"];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(plain.choices[0].message.content);
    expect(usage).toMatchObject({ promptTokens: 3, completionTokens: 10 });

    const after = ok(await apiKeysGet(admin, { hash: key.data.hash })).data;
    // Two calls of 3 prompt + 10 completion tokens at $0.05 / $0.40 per million.
    expect(after.usage).toBeCloseTo(2 * (0.05 * 3 + 0.4 * 10) / 1e6, 12);
    expect(after.limitRemaining).toBeCloseTo(1 - after.usage, 12);
  });
});
