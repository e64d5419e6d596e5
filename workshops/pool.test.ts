import { describe, expect, it } from "vitest";
import { poolAvailableUsd, revokeOutcome } from "./pool.js";

describe("revokeOutcome: what a revoke gives back, said before it happens", () => {
  it("a room bound by its places: the slot frees a place whatever the key spent", () => {
    // 3 places of $2 under a $100 cap, all taken; the key spent $0.60.
    const t = { claimed: 3, capacity: 3, keys_left: 0, committed_usd: 6, cap_usd: 100, budget_usd: 2 };
    expect(revokeOutcome({ limit_usd: 2, usage_usd: 0.6 }, t)).toEqual({ returns_usd: 1.4, frees_place: true, pool_after_usd: 95.4 });
  });

  it("a room bound by its cap: a key that spent part of its budget does not free a whole place", () => {
    const t = { claimed: 3, capacity: 10, keys_left: 0, committed_usd: 6, cap_usd: 6, budget_usd: 2 };
    expect(revokeOutcome({ limit_usd: 2, usage_usd: 0.6 }, t)).toEqual({ returns_usd: 1.4, frees_place: false, pool_after_usd: 1.4 });
    expect(revokeOutcome({ limit_usd: 2, usage_usd: 0 }, t).frees_place).toBe(true);
  });

  it("a topped-up key gives back its whole unspent limit, which can free a place the budget alone would not", () => {
    const t = { claimed: 2, capacity: 10, keys_left: 0, committed_usd: 5, cap_usd: 5, budget_usd: 2 };
    expect(revokeOutcome({ limit_usd: 3, usage_usd: 0.5 }, t)).toMatchObject({ returns_usd: 2.5, frees_place: true });
  });

  it("never gives back less than nothing, and the pool's available money is never negative", () => {
    const t = { claimed: 1, capacity: 1, keys_left: 0, committed_usd: 2, cap_usd: 2, budget_usd: 2 };
    expect(revokeOutcome({ limit_usd: 2, usage_usd: 2.1 }, t).returns_usd).toBe(0);
    expect(poolAvailableUsd({ cap_usd: 5, committed_usd: 5.5 })).toBe(0);
    expect(poolAvailableUsd({ cap_usd: 10, committed_usd: 6.25 })).toBe(3.75);
  });
});
