import { roundUsd } from "./derive.js";

/**
 * What the pool looks like after a revoke, as the organizer's dialog says it before they confirm
 * (issue 22, "truthful revoke"). Pure: the dashboard computes it from the claims answer.
 */

export interface PoolTotals {
  claimed: number;
  capacity: number;
  keys_left: number;
  committed_usd: number;
  cap_usd: number;
  /** The workshop's per-key budget: what a new key needs from the pool. */
  budget_usd: number;
}

export interface RevokeOutcome {
  /** At most this goes back: the keys' limits less what they had spent at the last sync (spend since then comes off). */
  returns_usd: number;
  /** How many more people can claim afterwards (slots free, but whole budgets may not). */
  places_freed: number;
  /** Uncommitted money in the pool after the revoke, at most. */
  pool_after_usd: number;
}

/** What revoking `keys` (one, or a bulk selection of live keys) gives back. */
export function revokeOutcome(keys: readonly { limit_usd: number; usage_usd: number }[], t: PoolTotals): RevokeOutcome {
  const returns = roundUsd(keys.reduce((sum, k) => sum + Math.max(0, roundUsd(k.limit_usd - k.usage_usd)), 0));
  const poolAfter = roundUsd(t.cap_usd - t.committed_usd + returns);
  const leftAfter = Math.max(0, Math.min(t.capacity - (t.claimed - keys.length), Math.floor(poolAfter / t.budget_usd + 1e-9)));
  return { returns_usd: returns, places_freed: Math.max(0, leftAfter - t.keys_left), pool_after_usd: poolAfter };
}

/** What the pool can still give a top-up: the cap less what is committed. */
export const poolAvailableUsd = (t: Pick<PoolTotals, "cap_usd" | "committed_usd">): number => Math.max(0, roundUsd(t.cap_usd - t.committed_usd));
