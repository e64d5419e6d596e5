import { createHash, randomUUID } from "node:crypto";
import { keyExpiresAt, keyName } from "../../workshops/derive.js";
import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem, Ledger, WorkshopRecord } from "../data/store.js";
import { normalizeEmail } from "./email.js";
import { claimIdFor, KEY_HOLDING, mint, type Claimant, type ClaimOutcome } from "./claims.js";
import { describe, requireClaim, type EngineDeps } from "./engine-deps.js";
import { ClaimsPausedError, ClaimStateError, EmailAlreadyClaimedError, SoldOutError } from "./errors.js";

/**
 * Two ways an organizer hands out a key beyond the attendee's own first claim (issue 22).
 *
 * Let them claim again, after a revoke:
 *
 *   organizer: REVOKED (given back) ─ reallowed_at set                      nothing reserved yet
 *   attendee claims: ledger slot + budget (as a new claim, refused alike)
 *                  ─ REVOKED(that key, re-allowed) → RESERVED: a new claim id (so a new key name, and
 *                    a give-back of its own on the ledger), the revoked key moved to earlier_keys
 *                  ─ email lock names the new attempt ─ mint as for a first claim
 *
 * The revoked key stays revoked (disabled upstream); what it spent stays committed and is kept
 * with the claim in `earlier_keys`, so the pool's accounts still add up from the claims alone.
 *
 * Claim on behalf: the organizer claims for an email, as someone in the room without a phone
 * would; the claim belongs to an id derived from the normalized email, so the email's lock makes it
 * count as that person's one key. The answer carries the key once; the plaintext is then removed.
 */

export async function allowAgain(d: EngineDeps, slug: string, userId: string): Promise<ClaimItem> {
  await d.workshops.get(slug);
  const c = await requireClaim(d, slug, userId, "organizer");
  if (c.status !== "REVOKED") throw new ClaimStateError(slug, c.status, `Only someone whose key was revoked can be allowed a new one; this claim is ${c.status}.`);
  if (c.returned_usd === undefined) throw new ClaimStateError(slug, c.status, "Finish revoking this key first: its budget is not back in the pool yet.");
  if (c.reallowed_at) return c;
  try {
    return await d.store.transitionClaim(slug, userId, { from: ["REVOKED"], ...(c.key_hash ? { keyHash: c.key_hash } : {}), set: { reallowed_at: d.iso(), updated_at: d.iso() } });
  } catch (err) {
    if (err instanceof ConditionRefusedError && err.existing) return err.existing as ClaimItem;
    throw err;
  }
}

/** The attendee's claim found their REVOKED claim re-allowed: a new key in a new slot (see above). */
export async function claimAgain(d: EngineDeps, record: WorkshopRecord, revoked: ClaimItem): Promise<ClaimOutcome> {
  const w = record.config;
  const slug = w.slug;
  try {
    // The claim item shows the new budget only after this write: it is counted in committed_ever_usd below, once it does.
    await d.store.reserveSlot(slug, { maxKeys: w.openrouter.guardrail.max_keys, capUsd: w.openrouter.guardrail.cap_usd, budgetUsd: w.openrouter.budget_usd }, { countLater: true });
  } catch (err) {
    if (err instanceof ConditionRefusedError) throw (err.existing as Ledger | undefined)?.paused ? new ClaimsPausedError(slug) : new SoldOutError(slug);
    throw err;
  }
  const releaseSlot = () => d.store.releaseSlot(slug, w.openrouter.budget_usd).catch((e) => d.log("compensation_failed", { slug, user_id: revoked.user_id, error: describe(e) }));

  const earlier = [...(revoked.earlier_keys ?? [])];
  earlier.push({
    claim_id: revoked.claim_id,
    key_name: revoked.key_name,
    ...(revoked.key_hash ? { key_hash: revoked.key_hash } : {}),
    limit_usd: revoked.limit_usd,
    usage_usd: revoked.usage_usd ?? 0,
    returned_usd: revoked.returned_usd ?? 0,
    ...(revoked.revoked_at ? { revoked_at: revoked.revoked_at } : {}),
  });
  const claimId = claimIdFor(slug, `${revoked.user_id}\n${earlier.length + 1}`);
  const at = d.now();
  const iso = new Date(at).toISOString();
  let reserved: ClaimItem;
  try {
    reserved = await d.store.transitionClaim(slug, revoked.user_id, {
      from: ["REVOKED"],
      ...(revoked.key_hash ? { keyHash: revoked.key_hash } : {}),
      set: {
        status: "RESERVED",
        claim_id: claimId,
        key_name: keyName(w, claimId, record.key_namespace),
        limit_usd: w.openrouter.budget_usd,
        expires_at: keyExpiresAt(w),
        usage_usd: 0,
        attempt: randomUUID(),
        lease_until: at + d.leaseMs,
        reserved_at: iso,
        claimed_at: iso,
        updated_at: iso,
        earlier_keys: earlier,
      },
      remove: ["key", "key_hash", "returned_usd", "revoked_at", "reallowed_at", "carried_usage_usd", "reissued_at", "guardrail_id", "bound_at", "limit_remaining", "last_error", "unbound_reason", "usage_synced_at", "usage_checked_at", "released_at", "expired_at", "key_deleted_at", "topup"],
    });
  } catch (err) {
    await releaseSlot();
    // A concurrent claim of the same person got there first: theirs is the answer.
    if (err instanceof ConditionRefusedError && err.existing) return { claim: err.existing as ClaimItem, created: false, workshop: record };
    throw err;
  }
  await d.store.addCommittedEver(slug, w.openrouter.budget_usd).catch((e) => d.log("committed_ever_failed", { slug, user_id: revoked.user_id, error: describe(e) }));
  try {
    await d.store.lockEmail(slug, reserved.email_normalized, reserved.user_id, reserved.attempt, reserved.expires_at);
  } catch (err) {
    // The lock is the proof of the slot; without it the claim cannot be minted safely.
    if (err instanceof ConditionRefusedError) {
      await d.store.transitionClaim(slug, reserved.user_id, { from: ["RESERVED"], attempt: reserved.attempt, set: { status: "RELEASED", released_at: d.iso(), updated_at: d.iso() } });
      await releaseSlot();
      throw new EmailAlreadyClaimedError(slug);
    }
    throw err;
  }
  d.log("claimed_again", { slug, user_id: revoked.user_id, earlier_keys: earlier.length });
  return { claim: await mint(d, record, reserved), created: true, workshop: record };
}

/** The id of a claim an organizer made for an email: stable per normalized email, never a token's subject. */
export function onBehalfUserId(email: string): string {
  return `on-behalf:${createHash("sha256").update(normalizeEmail(email)).digest("base64url").slice(0, 22)}`;
}

export interface OnBehalfOutcome {
  claim: ClaimItem;
  /** The plaintext key, in this answer only. */
  key: string;
  workshop: WorkshopRecord;
}

export async function claimOnBehalf(
  d: EngineDeps,
  claim: (slug: string, who: Claimant) => Promise<ClaimOutcome>,
  slug: string,
  who: { email: string; displayName?: string; by: string },
): Promise<OnBehalfOutcome> {
  const userId = onBehalfUserId(who.email);
  const out = await claim(slug, { userId, email: who.email, ...(who.displayName ? { displayName: who.displayName } : {}), inRoomByOrganizer: true });
  if (!out.created || !out.claim.key || !KEY_HOLDING.includes(out.claim.status)) {
    throw new ClaimStateError(slug, out.claim.status, `A key was already handed out for ${who.email} (${out.claim.status}); it is shown only once.`);
  }
  const key = out.claim.key;
  // Shown once: nobody can sign in as this claim's owner, so nobody could read it again anyway.
  const stored = await d.store
    .transitionClaim(slug, userId, { from: KEY_HOLDING, keyHash: out.claim.key_hash!, set: { handed_out_by: who.by, updated_at: d.iso() }, remove: ["key"] })
    .catch((err) => {
      if (err instanceof ConditionRefusedError && err.existing) return err.existing as ClaimItem;
      throw err;
    });
  return { claim: stored, key, workshop: out.workshop };
}
