import { describe, expect, it } from "vitest";
import { guardrailProvider, type GuardrailInputs, type GuardrailOutputs } from "./guardrail.js";

/**
 * The provider's diff compares allow-lists the way OpenRouter returns them: upstream answers with
 * canonical ids (a dated slug for an alias), so a preview must not show a change nobody made, and
 * must still show one someone made on openrouter.ai. Pure: diff reads only the state and the inputs
 * (the lifecycle against the emulator is guardrail.test.ts).
 */

const YAML_MODELS = ["anthropic/claude-sonnet-4.6", "openai/gpt-5-nano"];
// As OpenRouter may answer the write: its canonical slug for the alias, in another order.
const CANONICAL = ["openai/gpt-5-nano", "anthropic/claude-4.6-sonnet-20260217"];

const news = (allowedModels = YAML_MODELS): GuardrailInputs => ({
  name: "workshop-x",
  description: "Workshop Key Minter: x",
  allowedModels,
  limitUsd: 800,
  resetInterval: "monthly",
  baseUrl: "https://openrouter.ai/api/v1",
});

const written = (upstreamNow = CANONICAL): GuardrailOutputs => ({ ...news(), guardrailId: "g1", allowedModels: upstreamNow, requestedModels: YAML_MODELS, returnedModels: CANONICAL });

describe("the guardrail diff compares allow-lists canonically", () => {
  it("no change when upstream still answers its canonical ids for what the YAML asked", async () => {
    expect(await guardrailProvider.diff("g1", written(), news())).toMatchObject({ changes: false });
    // Case, spaces and order are not changes either.
    expect(await guardrailProvider.diff("g1", written(), news([" OpenAI/GPT-5-nano", "anthropic/claude-sonnet-4.6"]))).toMatchObject({ changes: false });
  });

  it("a change when the YAML's list changes", async () => {
    expect(await guardrailProvider.diff("g1", written(), news([...YAML_MODELS, "google/gemini-2.5-flash"]))).toMatchObject({ changes: true, replaces: [] });
  });

  it("a change when someone edited the list upstream (refresh read a list other than the one answered)", async () => {
    expect(await guardrailProvider.diff("g1", written(["openai/gpt-5-nano"]), news())).toMatchObject({ changes: true, replaces: [] });
  });

  it("state from before the written lists were kept compares upstream's list with the YAML", async () => {
    const old: GuardrailOutputs = { ...news(), guardrailId: "g1", allowedModels: ["OPENAI/gpt-5-nano", "anthropic/claude-sonnet-4.6"] };
    expect(await guardrailProvider.diff("g1", old, news())).toMatchObject({ changes: false });
    expect(await guardrailProvider.diff("g1", { ...old, allowedModels: CANONICAL }, news())).toMatchObject({ changes: true });
  });
});
