import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../local/emulator/index.js";
import { explainInferenceError } from "./src/inference-errors.js";

/**
 * The key page's explanations against what the OpenRouter emulator really answers (it follows
 * upstream's documented codes and messages): each refusal an attendee can meet maps to the entry
 * that says what to do.
 */

let upstream: RunningEmulator;
let key: string;
const BUDGET = 0.01;

beforeAll(async () => {
  upstream = await startEmulator({ port: 0, seed: 7 });
  const expires = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000).toISOString().replace(".000Z", "Z");
  const res = await fetch(`${upstream.url}/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${upstream.managementKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "explain-test", limit: BUDGET, expires_at: expires }),
  });
  key = ((await res.json()) as { key: string }).key;
});

afterAll(async () => {
  await upstream?.close();
});

async function chat(body: Record<string, unknown>, withKey = key) {
  const res = await fetch(`${upstream.url}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${withKey}`, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
  });
  const err = ((await res.json()) as { error?: { message: string; metadata?: Record<string, unknown> } }).error;
  return res.ok ? "answered" : explainInferenceError(BUDGET, res.status, err?.message ?? "", err?.metadata)?.id;
}

describe("explaining OpenRouter's answers to an attendee's call", () => {
  it("a model id that does not exist: 400, copy it from the picker", async () => {
    expect(await chat({ model: "openai/gpt-5-nanoo" })).toBe("400-model");
  });

  it("max_tokens costing more than what is left: 402, lower max_tokens", async () => {
    expect(await chat({ model: "openai/gpt-5-nano", max_tokens: 1_000_000 })).toBe("402-max-tokens");
  });

  it("a budget used up: 402, ask an organizer", async () => {
    // $0.40 per million output tokens and an empty prompt: 25,000 tokens spend exactly the $0.01.
    expect(await chat({ model: "openai/gpt-5-nano", max_tokens: 25_000, messages: [{ role: "user", content: "" }] })).toBe("answered");
    expect(await chat({ model: "openai/gpt-5-nano", max_tokens: 16 })).toBe("402-budget");
  });

  it("a key that is not (or no longer) valid: 401", async () => {
    expect(await chat({ model: "openai/gpt-5-nano" }, `sk-or-v1-${"0".repeat(64)}`)).toBe("401");
  });
});
