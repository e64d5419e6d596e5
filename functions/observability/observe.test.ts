import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../../local/emulator/index.js";
import { createOpenRouterClient } from "../openrouter/client.js";
import { createHealthCounters } from "./health.js";
import type { MetricRecord } from "./metrics.js";
import { observeOpenRouter } from "./observe.js";
import { observers, point } from "./observer.js";

/**
 * The OpenRouter client observed against the emulator with its own fault injection: each failed call
 * is one data point with its operation and status class, and the health counters read them back.
 */

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startEmulator({ port: 0, seed: 3 });
});
afterAll(async () => {
  await emu?.close();
});

const client = (serverURL: string) => createOpenRouterClient({ apiKey: emu.managementKey, serverURL, maxAttempts: 2, timeoutMs: 2_000, totalBudgetMs: 4_000, retryBaseDelayMs: 5, retryMaxDelayMs: 10 });

describe("observeOpenRouter", () => {
  it("counts a failed call once, after its retries, by operation and status class; a success counts nothing", async () => {
    const seen: MetricRecord[] = [];
    const health = createHealthCounters();
    const or = observeOpenRouter(client(emu.url), observers((r) => void seen.push(r), health.observer));

    await or.getCredits();
    expect(seen).toEqual([]);

    emu.emulator.setFaults({ "keys.create": { errorRate: 1, errorStatus: 503 } });
    await expect(or.createKey({ name: "observe-test", limit: 1, expires_at: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, "Z") })).rejects.toThrow();
    emu.emulator.setFaults({ "keys.list": { rateLimitRate: 1, retryAfterSeconds: 0.01 } });
    await expect(or.listKeysPage(0)).rejects.toThrow();
    emu.emulator.setFaults({});
    await expect(or.getKey("no-such-hash")).rejects.toThrow();

    expect(seen).toEqual([
      point("OpenRouterCallsFailed", 1, { operation: "createKey", status_class: "5xx" }),
      point("OpenRouterCallsFailed", 1, { operation: "listKeysPage", status_class: "429" }),
      point("OpenRouterCallsFailed", 1, { operation: "getKey", status_class: "4xx" }),
    ]);
    expect(health.snapshot("any").openrouter_failures).toEqual({ total: 3, in_window: 3, by_operation: { "createKey 5xx": 1, "listKeysPage 429": 1, "getKey 4xx": 1 } });
  });

  it("counts an OpenRouter that does not answer as a network failure", async () => {
    const seen: MetricRecord[] = [];
    const or = observeOpenRouter(client("http://127.0.0.1:9/api/v1"), (r) => void seen.push(r));
    await expect(or.getCredits()).rejects.toThrow();
    expect(seen).toEqual([point("OpenRouterCallsFailed", 1, { operation: "getCredits", status_class: "network" })]);
  });
});
