import type { Workshop } from "../../workshops/schema.js";
import { isWorkshopKeyName, roundUsd, toUtcSeconds } from "../../workshops/derive.js";
import type { ClaimItem, ClaimStatus } from "../data/store.js";
import type { KeyInfo } from "../openrouter/types.js";
import { SYNC_EVERY_MINUTES } from "../domain/timetable.js";

/**
 * What a housekeeping run has to do, decided from one listing of the upstream keys and one read of
 * the workshop's claims. Pure, so the rules are readable in one place; `run.ts` carries them out.
 *
 * Order matters and is the caller's duty: list the keys FIRST, then read the claims. A claim item is
 * written (RESERVED) before its key is minted, so every key in the listing has its claim in the
 * later read, and a claim minted in between is never mistaken for an orphan.
 */

/** Claims whose key still works for the attendee (or is about to): expiry retires them. */
export const LIVE_STATUSES: readonly ClaimStatus[] = ["RESERVED", "MINTED", "ACTIVE", "UNBOUND"];

export interface UsageWrite {
  userId: string;
  keyHash: string;
  usageUsd: number;
  limitRemaining: number | null;
}

export interface SyncPlan {
  /** The workshop's keys upstream (name carries its prefix). */
  workshopKeys: KeyInfo[];
  /** Claims whose stored usage differs from upstream: only these are written. */
  usageWrites: UsageWrite[];
  /** Keys to bind in one bulk assignment (UNBOUND, or MINTED and left there past the lease). */
  toBind: { userId: string; keyHash: string; from: ClaimStatus }[];
  /** RESERVED past their lease: the engine takes them over. */
  stuck: ClaimItem[];
  /** Keys with the workshop's prefix that belong to no claim. */
  orphans: KeyInfo[];
  /** Claims holding a key hash that upstream no longer lists (deleted by hand?): reported only. */
  missingUpstream: string[];
  spend: { usage_usd: number; keys: number };
}

/** `namespace`: the deployment's key namespace (the workshop item's `key_namespace`); see derive.ts. */
export function planSync(w: Workshop, keys: readonly KeyInfo[], claims: readonly ClaimItem[], nowMs: number, namespace?: string): SyncPlan {
  const workshopKeys = keys.filter((k) => isWorkshopKeyName(w, k.name, namespace));
  const keyByHash = new Map(workshopKeys.map((k) => [k.hash, k]));
  const claimedHashes = new Set<string>();
  // A RESERVED claim may be minting right now (within its lease) or be taken over below (past it):
  // either way a key with its name is the claim's business, not an orphan.
  const reservedNames = new Set<string>();

  const usageWrites: UsageWrite[] = [];
  const toBind: SyncPlan["toBind"] = [];
  const stuck: ClaimItem[] = [];
  const missingUpstream: string[] = [];
  let keysInUse = 0;

  for (const c of claims) {
    if (c.status === "RESERVED") {
      reservedNames.add(c.key_name);
      if (c.lease_until <= nowMs) stuck.push(c);
    }
    if (!c.key_hash) continue;
    claimedHashes.add(c.key_hash);
    const k = keyByHash.get(c.key_hash);
    if (!k) {
      if (c.status !== "RELEASED") missingUpstream.push(c.user_id);
      continue;
    }
    keysInUse++;
    const usage = roundUsd(k.usage);
    const remaining = k.limit_remaining === null ? null : roundUsd(k.limit_remaining);
    if (roundUsd(c.usage_usd ?? 0) !== usage || (c.limit_remaining ?? null) !== remaining || !c.usage_synced_at) {
      usageWrites.push({ userId: c.user_id, keyHash: c.key_hash, usageUsd: usage, limitRemaining: remaining });
    }
    if (!k.disabled && (c.status === "UNBOUND" || (c.status === "MINTED" && c.lease_until <= nowMs))) {
      toBind.push({ userId: c.user_id, keyHash: c.key_hash, from: c.status });
    }
  }

  const orphans = workshopKeys.filter((k) => !claimedHashes.has(k.hash) && !reservedNames.has(k.name));
  const spendUsd = roundUsd(workshopKeys.reduce((sum, k) => sum + k.usage, 0));
  return { workshopKeys, usageWrites, toBind, stuck, orphans, missingUpstream, spend: { usage_usd: spendUsd, keys: keysInUse } };
}

export interface ExpirePlan {
  /** Keys of the workshop still enabled upstream. */
  toDisable: KeyInfo[];
  /** Live claims to mark EXPIRED (their plaintext goes with it). */
  toExpire: ClaimItem[];
  /** Claims already out of play (REVOKED, RELEASED, EXPIRED) that still hold a plaintext key. */
  toScrub: ClaimItem[];
}

export function planExpire(w: Workshop, keys: readonly KeyInfo[], claims: readonly ClaimItem[], namespace?: string): ExpirePlan {
  return {
    toDisable: keys.filter((k) => isWorkshopKeyName(w, k.name, namespace) && !k.disabled),
    toExpire: claims.filter((c) => LIVE_STATUSES.includes(c.status)),
    toScrub: claims.filter((c) => !LIVE_STATUSES.includes(c.status) && c.key !== undefined),
  };
}

/**
 * The spend sample's time: the start of the sync period `now` falls in. Runs of the same period
 * (a retry, an overlap, close and a sync together) share one sample instead of appending two.
 */
export function spendSampleAt(nowMs: number): string {
  const period = SYNC_EVERY_MINUTES * 60_000;
  return toUtcSeconds(Math.floor(nowMs / period) * period);
}
