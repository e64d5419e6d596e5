import type { Workshop } from "../../workshops/schema.js";
import { roundUsd, toUtcSeconds, workshopKeyMatcher } from "../../workshops/derive.js";
import type { ClaimItem, ClaimStatus } from "../data/store.js";
import type { KeyInfo } from "../openrouter/types.js";
import { claimUsageUsd, KEY_HOLDING } from "../domain/claims.js";
import { SYNC_EVERY_MINUTES } from "../domain/timetable.js";

/**
 * What a housekeeping run has to do, decided from one listing of the upstream keys and one read of
 * the workshop's claims. Pure, so the rules are readable in one place; `run.ts` carries them out.
 * Every rule is linear in keys + claims (maps, no nested scans): a 10,000-key workshop costs
 * milliseconds of CPU here.
 *
 * Order matters and is the caller's duty: list the keys FIRST, then read the claims. A claim item is
 * written (RESERVED) before its key is minted, so every key in the listing has its claim in the
 * later read, and a claim minted in between is never mistaken for an orphan.
 *
 * Which keys a listing shows: sync and expire list the account's ENABLED keys only
 * (`include_disabled=false`), so their cost follows the live keys, not the account's history. A
 * disabled key cannot spend: its usage was recorded when it was disabled (revoke, expire), and it
 * is deleted upstream once that usage is final (`planRetire`, the one listing with disabled keys).
 * A claim that should hold a live key but is not in the listing is `unlisted`: run.ts asks
 * OpenRouter about that key alone (disabled by hand, or really gone).
 */

/** Claims whose key still works for the attendee (or is about to): expiry retires them. */
export const LIVE_STATUSES: readonly ClaimStatus[] = ["RESERVED", "MINTED", "ACTIVE", "UNBOUND"];
/** Claims whose key is disabled (or never was) for good: its usage can only be final. */
const RETIRED: readonly ClaimStatus[] = ["EXPIRED", "REVOKED", "RELEASED"];

/**
 * How long after the keys expire their usage counts as final: requests still running at expiry are
 * charged by then. Then the keys are deleted upstream (their final usage recorded first), so an
 * account that runs many workshops does not pile up thousands of dead keys in every listing.
 */
export const FINAL_USAGE_AFTER_MS = 30 * 60_000;

export interface UsageWrite {
  userId: string;
  keyHash: string;
  usageUsd: number;
  limitRemaining: number | null;
}

/** What a key's listing (or lookup) says its claim should store: what the claim's keys spent, what this key has left. */
export function observedUsage(c: ClaimItem, k: KeyInfo): UsageWrite {
  return { userId: c.user_id, keyHash: k.hash, usageUsd: claimUsageUsd(c, k.usage), limitRemaining: k.limit_remaining === null ? null : roundUsd(k.limit_remaining) };
}

/** Whether the claim already stores those figures: then there is nothing to write. */
export function storesUsage(c: ClaimItem, observed: UsageWrite): boolean {
  return roundUsd(c.usage_usd ?? 0) === observed.usageUsd && (c.limit_remaining ?? null) === observed.limitRemaining;
}

export interface SyncPlan {
  /** The workshop's keys in the listing (name carries its prefix). */
  workshopKeys: KeyInfo[];
  /** Claims whose stored usage differs from upstream: only these are written. */
  usageWrites: UsageWrite[];
  /** Keys to bind in one bulk assignment (UNBOUND, or MINTED and left there past the lease). */
  toBind: { userId: string; keyHash: string; from: ClaimStatus }[];
  /** RESERVED past their lease: the engine takes them over. */
  stuck: ClaimItem[];
  /** Keys with the workshop's prefix that belong to no claim. */
  orphans: KeyInfo[];
  /** Claims holding a key that should be live but is not in the listing: run.ts looks each one up. */
  unlisted: ClaimItem[];
  /** Usage from the listing where it has the key, the claim's stored figure otherwise (a retired key). */
  spend: { usage_usd: number; keys: number };
}

/** `namespace`: the deployment's key namespace (the workshop item's `key_namespace`); see derive.ts. */
export function planSync(w: Workshop, keys: readonly KeyInfo[], claims: readonly ClaimItem[], nowMs: number, namespace?: string): SyncPlan {
  const isWorkshopKey = workshopKeyMatcher(w, namespace);
  const workshopKeys = keys.filter((k) => isWorkshopKey(k.name));
  const keyByHash = new Map(workshopKeys.map((k) => [k.hash, k]));
  const claimedHashes = new Set<string>();
  // A RESERVED claim may be minting right now (within its lease) or be taken over below (past it):
  // either way a key with its name is the claim's business, not an orphan.
  const reservedNames = new Set<string>();

  const usageWrites: UsageWrite[] = [];
  const toBind: SyncPlan["toBind"] = [];
  const stuck: ClaimItem[] = [];
  const unlisted: ClaimItem[] = [];
  let keysInUse = 0;
  let spendUsd = 0;

  for (const c of claims) {
    // Keys revoked before the person was allowed a new one (domain/reallow.ts): disabled, not orphans.
    for (const e of c.earlier_keys ?? []) {
      if (e.key_hash) claimedHashes.add(e.key_hash);
      spendUsd += e.usage_usd;
    }
    if (c.status === "RESERVED") {
      reservedNames.add(c.key_name);
      if (c.lease_until <= nowMs) stuck.push(c);
    }
    if (!c.key_hash) {
      // A re-issue under way (RESERVED for a new key): what its lost keys spent is still spent.
      spendUsd += c.usage_usd ?? 0;
      continue;
    }
    claimedHashes.add(c.key_hash);
    const k = keyByHash.get(c.key_hash);
    if (!k) {
      if (c.status !== "RELEASED") spendUsd += c.usage_usd ?? 0;
      if (KEY_HOLDING.includes(c.status) && !c.key_deleted_at) unlisted.push(c);
      continue;
    }
    keysInUse++;
    spendUsd += (c.carried_usage_usd ?? 0) + k.usage;
    const observed = observedUsage(c, k);
    if (!storesUsage(c, observed) || !c.usage_synced_at) usageWrites.push(observed);
    if (!k.disabled && (c.status === "UNBOUND" || (c.status === "MINTED" && c.lease_until <= nowMs))) {
      toBind.push({ userId: c.user_id, keyHash: c.key_hash, from: c.status });
    }
  }

  const orphans = workshopKeys.filter((k) => !claimedHashes.has(k.hash) && !reservedNames.has(k.name));
  spendUsd += orphans.reduce((sum, k) => sum + k.usage, 0);
  return { workshopKeys, usageWrites, toBind, stuck, orphans, unlisted, spend: { usage_usd: roundUsd(spendUsd), keys: keysInUse } };
}

export interface ExpirePlan {
  /** Keys of the workshop still enabled upstream that a claim holds (or is minting): disabled. */
  toDisable: KeyInfo[];
  /** Keys of the workshop that no claim holds: deleted (nobody ever saw their plaintext). */
  orphans: KeyInfo[];
  /** Live claims to mark EXPIRED (their plaintext goes with it). */
  toExpire: ClaimItem[];
  /** Claims already out of play (REVOKED, RELEASED, EXPIRED) that still hold a plaintext key. */
  toScrub: ClaimItem[];
}

/** `keys`: the enabled keys (listed before `claims` were read). */
export function planExpire(w: Workshop, keys: readonly KeyInfo[], claims: readonly ClaimItem[], namespace?: string): ExpirePlan {
  const isWorkshopKey = workshopKeyMatcher(w, namespace);
  const claimedHashes = new Set(claims.flatMap((c) => (c.key_hash ? [c.key_hash] : [])));
  const reservedNames = new Set(claims.filter((c) => c.status === "RESERVED").map((c) => c.key_name));
  const enabled = keys.filter((k) => isWorkshopKey(k.name) && !k.disabled);
  const isOrphan = (k: KeyInfo) => !claimedHashes.has(k.hash) && !reservedNames.has(k.name);
  return {
    toDisable: enabled.filter((k) => !isOrphan(k)),
    orphans: enabled.filter(isOrphan),
    toExpire: claims.filter((c) => LIVE_STATUSES.includes(c.status)),
    toScrub: claims.filter((c) => !LIVE_STATUSES.includes(c.status) && c.key !== undefined),
  };
}

export interface RetirePlan {
  /** Disabled keys of retired claims: record this (final) usage, then delete the key upstream. */
  toDelete: { claim: ClaimItem; key: KeyInfo }[];
  /** Keys of the workshop that no claim holds (any state): deleted. */
  orphans: KeyInfo[];
  /** Retired claims whose key upstream no longer lists: the deletion is only written down. */
  alreadyGone: ClaimItem[];
}

/** Whether a retire pass has anything to do: some retired claim still holds a key not yet deleted. */
export function needsRetire(claims: readonly ClaimItem[]): boolean {
  return claims.some((c) => c.key_hash !== undefined && !c.key_deleted_at && RETIRED.includes(c.status));
}

/**
 * After expiry + FINAL_USAGE_AFTER_MS. `keys`: every key upstream, disabled ones included, listed
 * before `claims` were read. A key whose claim is still live (expire has not got to it) is left
 * for a later run: only disabled keys of retired claims are deleted.
 */
export function planRetire(w: Workshop, keys: readonly KeyInfo[], claims: readonly ClaimItem[], namespace?: string): RetirePlan {
  const isWorkshopKey = workshopKeyMatcher(w, namespace);
  const workshopKeys = keys.filter((k) => isWorkshopKey(k.name));
  const listed = new Set(workshopKeys.map((k) => k.hash));
  const claimByHash = new Map(claims.flatMap((c) => (c.key_hash ? [[c.key_hash, c] as const] : [])));
  const reservedNames = new Set(claims.filter((c) => c.status === "RESERVED").map((c) => c.key_name));
  const toDelete: RetirePlan["toDelete"] = [];
  const orphans: KeyInfo[] = [];
  for (const k of workshopKeys) {
    const c = claimByHash.get(k.hash);
    if (!c) {
      if (!reservedNames.has(k.name)) orphans.push(k);
    } else if (RETIRED.includes(c.status) && k.disabled && !c.key_deleted_at) {
      toDelete.push({ claim: c, key: k });
    }
  }
  const alreadyGone = claims.filter((c) => c.key_hash !== undefined && !c.key_deleted_at && RETIRED.includes(c.status) && !listed.has(c.key_hash));
  return { toDelete, orphans, alreadyGone };
}

/**
 * The spend sample's time: the start of the sync period `now` falls in. Runs of the same period
 * (a retry, an overlap, close and a sync together) share one sample instead of appending two.
 */
export function spendSampleAt(nowMs: number): string {
  const period = SYNC_EVERY_MINUTES * 60_000;
  return toUtcSeconds(Math.floor(nowMs / period) * period);
}
