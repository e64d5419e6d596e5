import { describe, expect, it } from "vitest";
import { poolAvailableUsd, revokeOutcome } from "./pool.js";

describe("revokeOutcome: what a revoke gives back, said before it happens", () => {
  it("a room bound by its places: the slot frees a place whatever the key spent", () => {
    // 3 places of $2 under a $100 cap, all taken; the key spent $0.60.
    const t = { claimed: 3, capacity: 3, keys_left: 0, committed_usd: 6, cap_usd: 100, budget_usd: 2 };
    expect(revokeOutcome([{ limit_usd: 2, usage_usd: 0.6 }], t)).toEqual({ returns_usd: 1.4, places_freed: 1, pool_after_usd: 95.4 });
  });

  it("a room bound by its cap: a key that spent part of its budget does not free a whole place", () => {
    const t = { claimed: 3, capacity: 10, keys_left: 0, committed_usd: 6, cap_usd: 6, budget_usd: 2 };
    expect(revokeOutcome([{ limit_usd: 2, usage_usd: 0.6 }], t)).toEqual({ returns_usd: 1.4, places_freed: 0, pool_after_usd: 1.4 });
    expect(revokeOutcome([{ limit_usd: 2, usage_usd: 0 }], t).places_freed).toBe(1);
  });

  it("a topped-up key gives back its whole unspent limit, which can free a place the budget alone would not", () => {
    const t = { claimed: 2, capacity: 10, keys_left: 0, committed_usd: 5, cap_usd: 5, budget_usd: 2 };
    expect(revokeOutcome([{ limit_usd: 3, usage_usd: 0.5 }], t)).toMatchObject({ returns_usd: 2.5, places_freed: 1 });
  });

  it("a bulk revoke: the total given back, and how many places that frees", () => {
    // cap 10, five keys of $2, all committed; three revoked having spent $0.50, $0 and $1.90.
    const t = { claimed: 5, capacity: 10, keys_left: 0, committed_usd: 10, cap_usd: 10, budget_usd: 2 };
    const keys = [0.5, 0, 1.9].map((usage_usd) => ({ limit_usd: 2, usage_usd }));
    expect(revokeOutcome(keys, t)).toEqual({ returns_usd: 3.6, places_freed: 1, pool_after_usd: 3.6 });
  });

  it("never gives back less than nothing, and the pool's available money is never negative", () => {
    const t = { claimed: 1, capacity: 1, keys_left: 0, committed_usd: 2, cap_usd: 2, budget_usd: 2 };
    expect(revokeOutcome([{ limit_usd: 2, usage_usd: 2.1 }], t).returns_usd).toBe(0);
    expect(poolAvailableUsd({ cap_usd: 5, committed_usd: 5.5 })).toBe(0);
    expect(poolAvailableUsd({ cap_usd: 10, committed_usd: 6.25 })).toBe(3.75);
  });
});
