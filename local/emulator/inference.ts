import { randomBytes } from "node:crypto";
import type { Context, Hono } from "hono";
import { modelResponse, type EmulatorModel } from "./catalogue.js";
import { errorResponse, json, requireUsableKey, withFaults, type EmulatorContext } from "./context.js";
import { addUsage, guardrailsOf, limitRemaining, roundMoney, windowUsage, type GuardrailRecord, type KeyRecord } from "./state.js";

/**
 * The OpenAI-compatible surface attendees use: POST /chat/completions (plain and streamed) and
 * GET /models. Token counts are deterministic so tests can predict the charge exactly:
 *   prompt tokens     = ceil(characters of all message text / 4)
 *   completion tokens = max_tokens (or max_completion_tokens), else 64
 *   cost (USD)        = price_in × prompt / 1e6 + price_out × completion / 1e6
 * A request is refused before it runs when its cost would take the key past its limit (402), so a
 * key's usage never exceeds its limit, which is the property the workshop's pooled cap rests on.
 */

export const DEFAULT_COMPLETION_TOKENS = 64;

export function promptTokens(messages: unknown[]): number {
  let chars = 0;
  for (const m of messages) {
    const content = (m as { content?: unknown })?.content;
    if (typeof content === "string") chars += content.length;
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown })?.text;
        if (typeof text === "string") chars += text.length;
      }
    }
  }
  return Math.ceil(chars / 4);
}

export function chatCost(model: EmulatorModel, prompt: number, completion: number): number {
  return roundMoney((model.price_in_per_mtok * prompt) / 1e6 + (model.price_out_per_mtok * completion) / 1e6);
}

function replyText(model: string, prompt: number, completion: number): string {
  return `This is the OpenRouter emulator answering as ${model}: your ${prompt}-token prompt was received and ${completion} completion tokens were charged.`;
}

function splitForStream(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [text];
}

export function registerInferenceRoutes(app: Hono, ctx: EmulatorContext): void {
  app.get("/api/v1/models", (c) =>
    withFaults(ctx, "models", c, () => {
      const created = Math.floor(Date.parse("2026-01-01T00:00:00Z") / 1000);
      const all = ctx.catalogue.list().map((m) => modelResponse(m, created));
      // Without offset and limit upstream returns the whole list; with either, one page (limit ≤ 1000).
      const offsetRaw = c.req.query("offset");
      const limitRaw = c.req.query("limit");
      if (offsetRaw === undefined && limitRaw === undefined) return json({ data: all, links: { next: null }, total_count: all.length });
      const offset = offsetRaw ? Number(offsetRaw) : 0;
      const limit = limitRaw ? Number(limitRaw) : 1000;
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
        return errorResponse(400, "offset must be a non-negative integer and limit an integer from 1 to 1000");
      }
      const nextOffset = offset + limit;
      const next = nextOffset < all.length ? `/api/v1/models?offset=${nextOffset}&limit=${limit}` : null;
      return json({ data: all.slice(offset, nextOffset), links: { next }, total_count: all.length });
    }),
  );

  app.post("/api/v1/chat/completions", (c) => withFaults(ctx, "chat", c, () => chat(c)));

  async function chat(c: Context): Promise<Response> {
    const key = requireUsableKey(ctx, c);
    if (key instanceof Response) return key;

    let body: Record<string, unknown>;
    try {
      body = (await c.req.json()) as Record<string, unknown>;
    } catch {
      return errorResponse(400, "Request body must be JSON");
    }
    if (typeof body !== "object" || body === null) return errorResponse(400, "Request body must be a JSON object");
    const modelId = body.model;
    if (typeof modelId !== "string" || modelId === "") return errorResponse(400, "model is required");
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) return errorResponse(400, "messages must be a non-empty array");
    const maxTokens = body.max_tokens ?? body.max_completion_tokens;
    if (maxTokens !== undefined && maxTokens !== null && (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)) {
      return errorResponse(400, "max_tokens must be a positive integer");
    }

    const model = ctx.catalogue.get(modelId);
    if (!model) return errorResponse(400, `${modelId} is not a valid model ID`);

    // The workspace's default guardrail and the key's own: each one applies.
    const guardrails = guardrailsOf(ctx.store.data, key);
    const forbidding = guardrails.find((g) => g.allowed_models && g.allowed_models.length > 0 && !g.allowed_models.includes(modelId));
    if (forbidding) {
      return errorResponse(403, `Model ${modelId} is not allowed by this key's guardrail`, {
        reason: "model_not_allowed",
        guardrail_id: forbidding.id,
      });
    }

    const prompt = promptTokens(messages);
    const completion = (maxTokens as number | undefined) ?? DEFAULT_COMPLETION_TOKENS;
    const cost = chatCost(model, prompt, completion);
    const now = ctx.now();

    const refusal = budgetRefusal(key, guardrails, cost, completion, now);
    if (refusal) return refusal;

    addUsage(key, cost, now);
    ctx.store.data.total_usage = roundMoney(ctx.store.data.total_usage + cost);
    ctx.store.commit({ keys: [key.hash], account: true });

    const id = `gen-${Math.floor(now / 1000)}-${randomBytes(10).toString("hex")}`;
    const created = Math.floor(now / 1000);
    const content = replyText(modelId, prompt, completion);
    const usage = {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      cost,
      is_byok: false,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    };

    if (body.stream === true) return streamChat({ id, created, model: modelId, content, usage });
    return json({
      id,
      provider: "Emulator",
      model: modelId,
      object: "chat.completion",
      created,
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason: "stop",
          native_finish_reason: "stop",
          message: { role: "assistant", content, refusal: null, reasoning: null },
        },
      ],
      system_fingerprint: null,
      usage,
    });
  }

  /** 402 (key limit, account credits) or 403 (guardrail budget) before any token is spent. */
  function budgetRefusal(
    key: KeyRecord,
    guardrails: readonly GuardrailRecord[],
    cost: number,
    completion: number,
    now: number,
  ): Response | undefined {
    const remaining = limitRemaining(key, now);
    if (remaining !== null && cost > remaining) {
      const message =
        remaining <= 0
          ? "Key limit exceeded (total limit). Manage it using https://openrouter.ai/settings/keys"
          : `This request requires more credits, or fewer max_tokens. You requested up to ${completion} tokens, but can only afford ${Math.max(0, Math.floor((completion * remaining) / cost))}.`;
      return errorResponse(402, message, { limit_source: "openrouter_key_limit" });
    }
    const data = ctx.store.data;
    if (data.total_usage + cost > data.total_credits) {
      return errorResponse(402, "Insufficient credits. Add more using https://openrouter.ai/credits", { limit_source: "openrouter_credits" });
    }
    for (const guardrail of guardrails) {
      if (guardrail.limit_usd == null || !guardrail.reset_interval) continue;
      // Guardrail budgets apply to each key on its own (they are not pooled).
      if (windowUsage(key, guardrail.reset_interval, now) + cost > guardrail.limit_usd) {
        return errorResponse(403, `Guardrail budget exceeded (${guardrail.reset_interval} limit)`, {
          reason: "guardrail_budget_exceeded",
          guardrail_id: guardrail.id,
        });
      }
    }
    return undefined;
  }
}

interface StreamInput {
  id: string;
  created: number;
  model: string;
  content: string;
  usage: Record<string, unknown>;
}

/** SSE as upstream: a processing comment, content deltas, a finish chunk, a usage chunk, [DONE]. */
function streamChat({ id, created, model, content, usage }: StreamInput): Response {
  // No system_fingerprint here: in chunks the SDK takes it as an optional string, not null.
  const base = { id, provider: "Emulator", model, object: "chat.completion.chunk", created };
  const events: string[] = [": OPENROUTER PROCESSING\n\n"];
  const chunk = (payload: Record<string, unknown>) => `data: ${JSON.stringify({ ...base, ...payload })}\n\n`;
  for (const piece of splitForStream(content)) {
    events.push(chunk({ choices: [{ index: 0, delta: { role: "assistant", content: piece }, finish_reason: null, native_finish_reason: null, logprobs: null }] }));
  }
  events.push(chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: "stop", native_finish_reason: "stop", logprobs: null }] }));
  events.push(chunk({ choices: [], usage }));
  events.push("data: [DONE]\n\n");
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const e of events) controller.enqueue(encoder.encode(e));
      controller.close();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" },
  });
}
