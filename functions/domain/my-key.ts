import type { ClaimItem, WorkshopRecord } from "../data/store.js";
import { NotFoundError as UpstreamNotFoundError } from "../openrouter/errors.js";
import { bind } from "./bind.js";
import { claimUsageUsd, KEY_HOLDING, USAGE_CHECK_INTERVAL_MS } from "./claims.js";
import { describe, requireClaim, type EngineDeps } from "./engine-deps.js";
import { reissueMissingKey } from "./reissue.js";
import { takeOverStuck } from "./takeover.js";

/** The owner's view of a claim: shown as stored, finished when abandoned mid-way, usage read live. */

/**
 * The owner's page polls a claim that is still being set up. Past its lease nobody is working on it
 * any more (the process died): a RESERVED claim is taken over, a MINTED one is bound, or gets a new
 * key when upstream lost it. Failing that, the page shows the claim as stored and asks again.
 */
export async function finishAbandoned(d: EngineDeps, slug: string, c: ClaimItem): Promise<ClaimItem> {
  if (c.lease_until > d.now()) return c;
  try {
    if (c.status === "RESERVED") return await takeOverStuck(d, slug, c);
    if (c.status === "MINTED" && c.key_hash) {
      const after = await reissueMissingKey(d, slug, c.user_id, c.key_hash);
      if (after.status !== "MINTED") return after;
      const record = await d.workshops.get(slug);
      return await bind(d, record, after, d.guardrailIdFor(record), false);
    }
  } catch (err) {
    d.log("finish_abandoned_failed", { slug, user_id: c.user_id, status: c.status, error: describe(err) });
  }
  return c;
}

/** The caller's own claim (any state; one abandoned mid-way is finished first), or NoClaimError. */
export async function getMyKey(d: EngineDeps, slug: string, userId: string): Promise<{ claim: ClaimItem; workshop: WorkshopRecord }> {
  const workshop = await d.workshops.get(slug);
  const c = await requireClaim(d, slug, userId, "attendee");
  const settling = c.status === "RESERVED" || c.status === "MINTED";
  return { claim: settling ? await finishAbandoned(d, slug, c) : c, workshop };
}

/**
 * The owner's key with its usage read live from OpenRouter, at most once per `minIntervalMs`
 * per claim (the rate limit is a conditional write on the claim, so it holds across
 * containers). Within the interval, or when OpenRouter does not answer, the stored figures.
 */
export async function refreshUsage(d: EngineDeps, slug: string, userId: string, minIntervalMs = USAGE_CHECK_INTERVAL_MS): Promise<{ claim: ClaimItem; workshop: WorkshopRecord }> {
  const workshop = await d.workshops.get(slug);
  const at = d.now();
  const checking = await d.store.startUsageCheck(slug, userId, at, minIntervalMs, KEY_HOLDING);
  if (checking?.key_hash) {
    try {
      const info = await d.openrouter.getKey(checking.key_hash);
      await d.store.recordUsage(slug, userId, {
        keyHash: checking.key_hash,
        usageUsd: claimUsageUsd(checking, info.usage),
        limitRemaining: info.limit_remaining,
        syncedAt: new Date(at).toISOString(),
      });
    } catch (err) {
      // Gone upstream: the owner gets a new key in the same slot.
      if (err instanceof UpstreamNotFoundError) await reissueMissingKey(d, slug, userId, checking.key_hash, { answered404: true }).catch((e) => d.log("reissue_failed", { slug, user_id: userId, error: describe(e) }));
      else d.log("usage_read_failed", { slug, user_id: userId, error: describe(err) });
    }
  }
  return { claim: await requireClaim(d, slug, userId, "attendee"), workshop };
}
