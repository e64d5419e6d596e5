import { roundUsd } from "../../workshops/derive.js";
import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem } from "../data/store.js";
import { NotFoundError as UpstreamNotFoundError } from "../openrouter/errors.js";
import { budgetLeft, KEY_HOLDING, mint } from "./claims.js";
import { requireClaim, type EngineDeps } from "./engine-deps.js";

/**
 * A claim whose key upstream no longer has (deleted by hand on openrouter.ai, an emulator that lost
 * its state) gets a new key in the same slot: the ledger already counts the slot and its budget, so
 * nothing is reserved again. What the lost key spent (as last synced) stays spent: it is carried in
 * the claim's usage and taken off the new key's limit, so the slot never spends more than its budget.
 *
 *   KEY_HOLDING(hash) ─ GET /keys/{hash}: 404 ─ RESERVED (same attempt: its email lock still
 *   proves the slot), key and hash removed ─ mint as for a first claim (take-over if this dies or
 *   the mint fails: a re-issue is never RELEASED, the slot is the owner's)
 *
 * The move to RESERVED is conditional on the claim still holding that very key, so repairs running
 * at once (the sync job, the attendee's page) mint once. Answers the claim as it is afterwards.
 */
export async function reissueMissingKey(d: EngineDeps, slug: string, userId: string, missingHash: string, opts: { answered404?: boolean } = {}): Promise<ClaimItem> {
  const record = await d.workshops.get(slug);
  const c = await requireClaim(d, slug, userId, "attendee");
  if (!KEY_HOLDING.includes(c.status) || c.key_hash !== missingHash) return c;
  // Past the keys' expiry a new key is of no use (upstream refuses the date): the expire job retires the claim.
  if (Date.parse(c.expires_at) <= d.now()) return c;
  // A listing can miss a key (another page, a race); only upstream's 404 for the hash says it is
  // gone (`answered404`: the caller has just had that answer).
  if (!opts.answered404) {
    try {
      await d.openrouter.getKey(missingHash);
      return c;
    } catch (err) {
      if (!(err instanceof UpstreamNotFoundError)) throw err;
    }
  }
  const carried = roundUsd(c.usage_usd ?? 0);
  if (budgetLeft({ ...c, carried_usage_usd: carried }) <= 0) {
    d.log("reissue_skipped", { slug, user_id: userId, reason: "budget spent" });
    return c;
  }
  const at = d.now();
  let reserved: ClaimItem;
  try {
    reserved = await d.store.transitionClaim(slug, userId, {
      from: [c.status],
      keyHash: missingHash,
      set: { status: "RESERVED", carried_usage_usd: carried, reissued_at: new Date(at).toISOString(), lease_until: at + d.leaseMs, updated_at: new Date(at).toISOString() },
      remove: ["key", "key_hash", "guardrail_id", "bound_at", "limit_remaining", "last_error", "unbound_reason"],
    });
  } catch (err) {
    // Another repair (or a revoke, an expiry) got there first.
    if (err instanceof ConditionRefusedError && err.existing) return err.existing as ClaimItem;
    throw err;
  }
  d.log("key_reissued", { slug, user_id: userId, missing_key_hash: missingHash, carried_usage_usd: carried });
  return mint(d, record, reserved);
}
