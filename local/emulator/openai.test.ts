import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenRouterClient } from "../../functions/openrouter/client.js";
import type { OpenRouterClient } from "../../functions/openrouter/types.js";
import { toUtcSeconds } from "../../workshops/derive.js";
import { startEmulator, type RunningEmulator } from "./index.js";

/**
 * What an attendee sees: the `openai` npm client pointed at the emulator with a minted key. Keys are
 * minted and bound through our own management client, as the claim engine does.
 */

let running: RunningEmulator;
let management: OpenRouterClient;
/** The emulator's clock runs `skewMs` ahead of the wall clock; tests move it to expire keys. */
let skewMs = 0;
let guardrailId: string;

const ALLOWED = "openai/gpt-5-nano";
const NOT_ALLOWED = "anthropic/claude-sonnet-4.6";
const hourFromNow = () => toUtcSeconds(Date.now() + 3_600_000);

function attendee(key: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: running.url, maxRetries: 0 });
}

async function mint(name: string, limit: number, expiresAt = hourFromNow()) {
  const key = await management.createKey({ name, limit, expires_at: expiresAt });
  await management.assignKeys(guardrailId, [key.hash]);
  return key;
}

async function statusOf(promise: Promise<unknown>): Promise<{ status: number | undefined; body: unknown }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof APIError) return { status: err.status, body: err.error };
    throw err;
  }
  throw new Error("expected the request to fail");
}

beforeAll(async () => {
  running = await startEmulator({ managementKey: `sk-or-v1-${"cd".repeat(32)}`, now: () => Date.now() + skewMs });
  management = createOpenRouterClient({ apiKey: running.managementKey, serverURL: running.url });
  const guardrail = await management.ensureGuardrail({
    name: "workshop-openai-test",
    description: "openai client test",
    allowed_models: [ALLOWED],
    limit_usd: 50,
    reset_interval: "monthly",
  });
  guardrailId = guardrail.id;
});
afterAll(async () => {
  await running?.close();
});

describe("the openai npm client against the emulator", () => {
  it("completes a chat with an attendee key and the key is charged by the model's price", async () => {
    const key = await mint("openai/plain", 1);
    const reply = await attendee(key.key).chat.completions.create({
      model: ALLOWED,
      messages: [{ role: "user", content: "Write one line about SQL agents." }],
      max_tokens: 20,
    });
    expect(reply.choices[0].message.content).toMatch(/emulator/);
    // 32 characters -> 8 prompt tokens; 20 completion tokens.
    expect(reply.usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 20, total_tokens: 28 });
    const after = await management.getKey(key.hash);
    const cost = (0.05 * 8 + 0.4 * 20) / 1e6;
    expect(after.usage).toBeCloseTo(cost, 12);
    expect(after.limit_remaining).toBeCloseTo(1 - cost, 12);
  });

  it("streams a chat, with usage in the final chunk", async () => {
    const key = await mint("openai/stream", 1);
    const stream = await attendee(key.key).chat.completions.create({
      model: ALLOWED,
      messages: [{ role: "user", content: "Stream, please." }],
      stream: true,
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toMatch(/emulator/);
    expect(usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 64 });
  });

  it("refuses a disabled key with 401", async () => {
    const key = await mint("openai/disabled", 1);
    await management.updateKey(key.hash, { disabled: true });
    const { status } = await statusOf(attendee(key.key).chat.completions.create({ model: ALLOWED, messages: [{ role: "user", content: "hi" }] }));
    expect(status).toBe(401);
  });

  it("refuses an expired key with 401", async () => {
    const key = await mint("openai/expired", 1, toUtcSeconds(Date.now() + 60_000));
    skewMs = 120_000;
    try {
      const { status } = await statusOf(attendee(key.key).chat.completions.create({ model: ALLOWED, messages: [{ role: "user", content: "hi" }] }));
      expect(status).toBe(401);
    } finally {
      skewMs = 0;
    }
  });

  it("refuses a key over its budget with 402 and limit_source openrouter_key_limit", async () => {
    // $0.00001 buys 10 prompt tokens at most; 64 completion tokens at $0.40/M cost $0.0000256.
    const key = await mint("openai/broke", 0.00001);
    const { status, body } = await statusOf(
      attendee(key.key).chat.completions.create({ model: ALLOWED, messages: [{ role: "user", content: "hi" }] }),
    );
    expect(status).toBe(402);
    expect(body).toMatchObject({ code: 402, metadata: { limit_source: "openrouter_key_limit" } });
    expect((await management.getKey(key.hash)).usage).toBe(0);
  });

  it("refuses a model outside the guardrail's allowlist with 403", async () => {
    const key = await mint("openai/allowlist", 1);
    const { status } = await statusOf(attendee(key.key).chat.completions.create({ model: NOT_ALLOWED, messages: [{ role: "user", content: "hi" }] }));
    expect(status).toBe(403);
  });

  it("knows OpenRouter's real models: one outside the allowlist is 'not allowed' (403), not an invalid id", async () => {
    const key = await mint("openai/real-models", 1);
    for (const model of ["meta-llama/llama-3.3-70b-instruct", "openai/gpt-4o-mini", "google/gemini-2.0-flash-001", "mistralai/mistral-small-3.2-24b-instruct", "deepseek/deepseek-v3.2"]) {
      const { status, body } = await statusOf(attendee(key.key).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }));
      expect(status, model).toBe(403);
      expect((body as { message: string }).message).toMatch(/not allowed/);
    }
    // A misspelt id is not a model OpenRouter has: 400, with the id in the message.
    const typo = await statusOf(attendee(key.key).chat.completions.create({ model: "openai/gpt-5-nanoo", messages: [{ role: "user", content: "hi" }] }));
    expect(typo.status).toBe(400);
    expect((typo.body as { message: string }).message).toBe("openai/gpt-5-nanoo is not a valid model ID");
    expect((await management.getKey(key.hash)).usage).toBe(0);
  });

  it("lists real models with OpenRouter's prices", async () => {
    const models = new Map<string, { pricing: { prompt: string; completion: string } }>();
    for await (const m of attendee(`sk-or-v1-${"0".repeat(64)}`).models.list()) models.set(m.id, m as never);
    expect(models.size).toBeGreaterThan(25);
    expect(models.get("openai/gpt-4o-mini")?.pricing).toMatchObject({ prompt: "0.00000015", completion: "0.0000006" });
    expect(models.get("anthropic/claude-3.5-haiku")?.pricing).toMatchObject({ prompt: "0.0000008", completion: "0.000004" });
    expect(models.get("meta-llama/llama-3.3-70b-instruct")?.pricing).toMatchObject({ prompt: "0.0000001", completion: "0.00000032" });
  });

  it("refuses an unknown key with 401 and an unknown model with 400", async () => {
    const stranger = attendee(`sk-or-v1-${"0".repeat(64)}`);
    expect((await statusOf(stranger.chat.completions.create({ model: ALLOWED, messages: [{ role: "user", content: "hi" }] }))).status).toBe(401);
    const key = await mint("openai/unknown-model", 1);
    const { status } = await statusOf(attendee(key.key).chat.completions.create({ model: "nobody/nothing", messages: [{ role: "user", content: "hi" }] }));
    expect(status).toBe(400);
  });

  it("lists the models", async () => {
    const ids: string[] = [];
    for await (const m of attendee(`sk-or-v1-${"0".repeat(64)}`).models.list()) ids.push(m.id);
    expect(ids).toContain(ALLOWED);
  });
});
