import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError, NotFoundError, RateLimitedError, UpstreamUnavailableError, type OpenRouterError } from "./errors.js";
import { retryBounded, type RetryPolicy } from "./retry.js";

/**
 * The retry loop's bounds, on a virtual clock: whatever upstream does, a call makes at most
 * maxAttempts attempts, never outlives its budget, and never retries what retrying cannot fix.
 * (The same behaviour against the emulator's real 429s, 5xx and hangs is in client.test.ts.)
 */

type Outcome =
  | { kind: "ok"; tookMs: number }
  | { kind: "rate_limited"; tookMs: number; retryAfterMs?: number }
  | { kind: "unavailable"; tookMs: number }
  | { kind: "timeout" }
  | { kind: "not_found" }
  | { kind: "invalid" };

const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.record({ kind: fc.constant("ok" as const), tookMs: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({
    kind: fc.constant("rate_limited" as const),
    tookMs: fc.integer({ min: 0, max: 500 }),
    retryAfterMs: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant("unavailable" as const), tookMs: fc.integer({ min: 0, max: 3000 }) }),
  fc.constant({ kind: "timeout" as const }),
  fc.constant({ kind: "not_found" as const }),
  fc.constant({ kind: "invalid" as const }),
);

const policyArb = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 8 }),
  timeoutMs: fc.integer({ min: 100, max: 10_000 }),
  totalBudgetMs: fc.integer({ min: 200, max: 30_000 }),
  baseDelayMs: fc.integer({ min: 1, max: 1000 }),
  maxDelayMs: fc.integer({ min: 1, max: 8000 }),
});

async function simulate(policy: Omit<RetryPolicy, "now" | "sleep" | "random">, script: Outcome[], random: number) {
  let clock = 0;
  const slept: number[] = [];
  const attempts: Array<{ at: number; timeoutMs: number }> = [];
  let result: "ok" | OpenRouterError;
  try {
    await retryBounded(
      async (timeoutMs) => {
        const o = script[Math.min(attempts.length, script.length - 1)];
        attempts.push({ at: clock, timeoutMs });
        const endpoint = "GET /test";
        switch (o.kind) {
          case "ok":
            // A slow success still counts only up to the attempt's timeout: beyond it the SDK aborts.
            if (o.tookMs > timeoutMs) {
              clock += timeoutMs;
              throw new UpstreamUnavailableError("timed out", { endpoint });
            }
            clock += o.tookMs;
            return "ok";
          case "rate_limited":
            clock += Math.min(o.tookMs, timeoutMs);
            throw new RateLimitedError("429", { endpoint, status: 429, retryAfterMs: o.retryAfterMs });
          case "unavailable":
            clock += Math.min(o.tookMs, timeoutMs);
            throw new UpstreamUnavailableError("503", { endpoint, status: 503 });
          case "timeout":
            clock += timeoutMs;
            throw new UpstreamUnavailableError("timed out", { endpoint });
          case "not_found":
            throw new NotFoundError("404", { endpoint, status: 404 });
          case "invalid":
            throw new InvalidRequestError("400", { endpoint, status: 400 });
        }
      },
      {
        ...policy,
        now: () => clock,
        random: () => random,
        sleep: async (ms) => {
          slept.push(ms);
          clock += ms;
        },
      },
    );
    result = "ok";
  } catch (err) {
    result = err as OpenRouterError;
  }
  return { clock, slept, attempts, result };
}

describe("retryBounded", () => {
  it("never exceeds maxAttempts or the total budget, and stops at the first 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, fc.array(outcome, { minLength: 1, maxLength: 10 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), async (policy, script, random) => {
        const { clock, attempts, slept, result } = await simulate(policy, script, random);
        expect(attempts.length).toBeGreaterThanOrEqual(1);
        expect(attempts.length).toBeLessThanOrEqual(policy.maxAttempts);
        // An attempt may start with a floor of 25 ms left, so the overshoot is at most that floor.
        expect(clock).toBeLessThanOrEqual(policy.totalBudgetMs + 25);
        for (const a of attempts) expect(a.timeoutMs).toBeLessThanOrEqual(Math.max(25, policy.timeoutMs));
        expect(slept.length).toBe(attempts.length - 1);

        const firstFatal = script.findIndex((o) => o.kind === "not_found" || o.kind === "invalid");
        if (firstFatal >= 0 && firstFatal < attempts.length) {
          expect(attempts.length).toBe(firstFatal + 1);
          expect(result).not.toBe("ok");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("waits exactly Retry-After when it fits the budget, and gives up at once when it does not", async () => {
    const policy = { maxAttempts: 3, timeoutMs: 1000, totalBudgetMs: 5000, baseDelayMs: 100, maxDelayMs: 1000 };
    const fits = await simulate(policy, [{ kind: "rate_limited", tookMs: 10, retryAfterMs: 2000 }, { kind: "ok", tookMs: 10 }], 0.5);
    expect(fits.result).toBe("ok");
    expect(fits.slept).toEqual([2000]);

    const tooLong = await simulate(policy, [{ kind: "rate_limited", tookMs: 10, retryAfterMs: 9000 }, { kind: "ok", tookMs: 10 }], 0.5);
    expect(tooLong.result).toBeInstanceOf(RateLimitedError);
    expect((tooLong.result as RateLimitedError).retryAfterMs).toBe(9000);
    expect(tooLong.slept).toEqual([]);
    expect(tooLong.attempts).toHaveLength(1);
  });

  it("backs off with full jitter under an exponential ceiling", async () => {
    const policy = { maxAttempts: 5, timeoutMs: 1000, totalBudgetMs: 60_000, baseDelayMs: 100, maxDelayMs: 350 };
    const run = await simulate(policy, [{ kind: "unavailable", tookMs: 0 }], 0.999);
    expect(run.slept).toEqual([99, 199, 349, 349]);
    expect(run.result).toBeInstanceOf(UpstreamUnavailableError);
  });
});
