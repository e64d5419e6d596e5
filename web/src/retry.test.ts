import { describe, expect, it } from "vitest";
import { backoffMs, BUSY_RETRY, isBusy, parseRetryAfter, queuedMessage, retryWhileBusy, type RetryPolicy } from "./retry.js";

const busy = (retryAfterMs?: number) => Object.assign(new Error("busy"), { busy: true, retryAfterMs });

/** A clock that only moves when the retry loop sleeps. */
function fakeTime() {
  let t = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => t,
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
    },
  };
}

describe("isBusy", () => {
  it("is the gateway's throttle (429 without our code) and any 503, never our own 429", () => {
    expect(isBusy(429, undefined)).toBe(true);
    expect(isBusy(503, undefined)).toBe(true);
    expect(isBusy(503, "upstream_unavailable")).toBe(true);
    expect(isBusy(503, "starting")).toBe(true);
    expect(isBusy(429, "too_many_attempts")).toBe(false);
    expect(isBusy(429, "too_many_room_codes")).toBe(false);
    for (const status of [200, 400, 401, 403, 409, 500, 502, 504]) expect(isBusy(status, undefined)).toBe(false);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, and ignores what it cannot read", () => {
    expect(parseRetryAfter("3", 0)).toBe(3_000);
    expect(parseRetryAfter(" 0 ", 0)).toBe(0);
    const now = Date.parse("2027-01-10T10:00:00Z");
    expect(parseRetryAfter("Sun, 10 Jan 2027 10:00:07 GMT", now)).toBe(7_000);
    expect(parseRetryAfter("Sun, 10 Jan 2027 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-1", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe("backoffMs: exponential, full jitter, capped", () => {
  const policy: RetryPolicy = { baseMs: 1_000, capMs: 10_000, budgetMs: 60_000 };
  it("draws between 0 and base × 2^n, never above the cap", () => {
    expect(backoffMs(0, policy, () => 0)).toBe(0);
    expect(backoffMs(0, policy, () => 0.999)).toBe(999);
    expect(backoffMs(1, policy, () => 0.5)).toBe(1_000);
    expect(backoffMs(3, policy, () => 0.5)).toBe(4_000);
    expect(backoffMs(4, policy, () => 0.999)).toBe(9_990);
    expect(backoffMs(40, policy, () => 0.999)).toBe(9_990);
  });
  it("spreads a room: 1,000 first retries land all over the first second, not together", () => {
    const waits = Array.from({ length: 1_000 }, () => backoffMs(0, policy));
    const perTenth = new Array(10).fill(0);
    for (const w of waits) perTenth[Math.floor(w / 100)]++;
    for (const n of perTenth) expect(n).toBeGreaterThan(50);
  });
  it("waits at least a Retry-After", () => {
    expect(backoffMs(0, policy, () => 0.1, 3_000)).toBe(3_000);
    expect(backoffMs(4, policy, () => 0.9, 3_000)).toBe(9_000);
  });
});

describe("retryWhileBusy", () => {
  it("repeats a busy call until it answers, saying each wait", async () => {
    const time = fakeTime();
    let calls = 0;
    const said: number[] = [];
    const result = await retryWhileBusy(
      async () => {
        calls++;
        if (calls < 4) throw busy();
        return "key";
      },
      { ...time, random: () => 0.5, onWait: (ms) => said.push(ms) },
    );
    expect(result).toBe("key");
    expect(calls).toBe(4);
    expect(time.waits).toEqual([500, 1_000, 2_000]);
    expect(said).toEqual(time.waits);
  });

  it("never repeats an answer that is not busy (our own 429, a refusal, a network failure)", async () => {
    const time = fakeTime();
    for (const err of [Object.assign(new Error("too many attempts"), { busy: false, retryAfterMs: 240_000 }), new Error("sold out"), new TypeError("fetch failed")]) {
      let calls = 0;
      await expect(
        retryWhileBusy(async () => {
          calls++;
          throw err;
        }, time),
      ).rejects.toBe(err);
      expect(calls).toBe(1);
    }
    expect(time.waits).toEqual([]);
  });

  it("gives up with the busy answer once the next wait would pass the budget", async () => {
    const time = fakeTime();
    let calls = 0;
    const last = busy();
    await expect(
      retryWhileBusy(
        async () => {
          calls++;
          throw last;
        },
        { ...time, random: () => 0.999 },
      ),
    ).rejects.toBe(last);
    // 999 + 1998 + 3996 + 7992 + 9990 × 4 = 54,945 ms; one more 9,990 would pass 60 s.
    expect(time.waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(BUSY_RETRY.budgetMs);
    expect(time.now()).toBe(54_945);
    expect(calls).toBe(time.waits.length + 1);
  });

  it("honours a Retry-After beyond the backoff, and gives up at once when it would pass the budget", async () => {
    const time = fakeTime();
    let calls = 0;
    await retryWhileBusy(
      async () => {
        if (calls++ === 0) throw busy(5_000);
        return "ok";
      },
      { ...time, random: () => 0 },
    );
    expect(time.waits).toEqual([5_000]);
    const far = busy(120_000);
    await expect(retryWhileBusy(async () => Promise.reject(far), time)).rejects.toBe(far);
    expect(time.waits).toEqual([5_000]);
  });
});

describe("queuedMessage", () => {
  it("says the person is queued and when the next try is, never in 0 s", () => {
    expect(queuedMessage(4)).toBe("Lots of people are claiming right now — you're in the queue, trying again in 4 s…");
    expect(queuedMessage(0)).toBe("Lots of people are claiming right now — you're in the queue, trying again now…");
  });
});
