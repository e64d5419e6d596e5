import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chatCost, createEmulator, promptTokens, DEFAULT_COMPLETION_TOKENS } from "./index.js";

/**
 * The property the workshop's pooled cap rests on: whatever attendees send, a key's usage never
 * exceeds its limit, every success is charged exactly its price, and a 402 is answered only when the
 * call would not fit. Runs on the emulator's app in-process (same handlers as over HTTP).
 */

const MANAGEMENT_KEY = `sk-or-v1-${"5c".repeat(32)}`;
const MODELS = [
  { id: "cheap/model", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 },
  { id: "dear/model", price_in_per_mtok: 3, price_out_per_mtok: 15 },
  { id: "steep/model", price_in_per_mtok: 2_000, price_out_per_mtok: 9_000 },
];

const request = fc.record({
  model: fc.constantFrom(...MODELS.map((m) => m.id)),
  text: fc.string({ maxLength: 400 }),
  maxTokens: fc.option(fc.integer({ min: 1, max: 4000 }), { nil: undefined }),
  stream: fc.boolean(),
});

describe("charging", () => {
  it("never lets usage pass the limit, and charges each success exactly", async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 0.5, noNaN: true }), fc.array(request, { minLength: 1, maxLength: 25 }), async (limit, requests) => {
        const emulator = createEmulator({ managementKey: MANAGEMENT_KEY, models: MODELS, seed: 1 });
        const admin = { authorization: `Bearer ${MANAGEMENT_KEY}`, "content-type": "application/json" };
        const created = (await (
          await emulator.app.request("/api/v1/keys", {
            method: "POST",
            headers: admin,
            body: JSON.stringify({ name: "property", limit, expires_at: "2099-01-01T00:00:00Z" }),
          })
        ).json()) as { key: string; data: { hash: string } };

        let expectedUsage = 0;
        for (const r of requests) {
          const messages = [{ role: "user", content: r.text }];
          const model = MODELS.find((m) => m.id === r.model)!;
          const cost = chatCost(model, promptTokens(messages), r.maxTokens ?? DEFAULT_COMPLETION_TOKENS);
          const res = await emulator.app.request("/api/v1/chat/completions", {
            method: "POST",
            headers: { authorization: `Bearer ${created.key}`, "content-type": "application/json" },
            body: JSON.stringify({ model: r.model, messages, max_tokens: r.maxTokens, stream: r.stream }),
          });
          await res.text();
          const remaining = limit - expectedUsage;
          if (cost > remaining + 1e-9) {
            expect(res.status).toBe(402);
          } else if (res.status === 200) {
            expectedUsage += cost;
          } else {
            // Rounding can refuse a call that fits to within 1e-9; nothing else may fail.
            expect(res.status).toBe(402);
            expect(cost).toBeGreaterThan(remaining - 1e-9);
          }
        }
        const key = emulator.state.keys.find((k) => k.hash === created.data.hash)!;
        expect(key.usage).toBeLessThanOrEqual(limit + 1e-9);
        expect(key.usage).toBeCloseTo(expectedUsage, 8);
      }),
      { numRuns: 60 },
    );
  });
});
