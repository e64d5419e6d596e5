import { describe, expect, it } from "vitest";
import type { OpenRouterClient } from "../openrouter/types.js";
import { deferredOpenRouterClient } from "./deferred-openrouter.js";

// The fault here — Secrets Manager failing once at cold start — is one no local part produces, so
// the loader is a stand-in that fails on its first call and then returns a client.
describe("the deferred OpenRouter client", () => {
  it("tries the management key again after a failed load, instead of failing for the container's life", async () => {
    let clock = 0;
    let loads = 0;
    const real = { getCredits: async () => ({ total_credits: 10, total_usage: 1 }) } as unknown as OpenRouterClient;
    const client = deferredOpenRouterClient(
      async () => {
        loads++;
        if (loads === 1) throw new Error("Secrets Manager: throttled");
        return real;
      },
      { retryAfterMs: 5_000, now: () => clock },
    );
    await expect(client.getCredits()).rejects.toThrow(/throttled/);
    clock = 1_000;
    await expect(client.getCredits()).rejects.toThrow(/throttled/); // within the pause: no new load
    expect(loads).toBe(1);
    clock = 6_000;
    await expect(client.getCredits()).resolves.toEqual({ total_credits: 10, total_usage: 1 });
    expect(loads).toBe(2);
    await client.getCredits();
    expect(loads).toBe(2); // loaded once it worked
  });
});
