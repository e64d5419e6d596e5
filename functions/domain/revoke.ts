import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem } from "../data/store.js";
import { NotFoundError as UpstreamNotFoundError } from "../openrouter/errors.js";
import type { KeyInfo } from "../openrouter/types.js";
import { claimUsageUsd, KEY_HOLDING } from "./claims.js";
import { requireClaim, type EngineDeps } from "./engine-deps.js";
import { ClaimStateError, OpenRouterUnavailableError } from "./errors.js";

/**
 * Gives a REVOKED claim's slot and unspent budget back, once (see revoke). The key is disabled,
 * so the usage read now is final; a key gone upstream gives back its slot but none of its budget,
 * because what it spent is unknown.
 */
export async function giveBack(d: EngineDeps, revoked: ClaimItem, disabled?: KeyInfo): Promise<ClaimItem> {
  if (revoked.returned_usd !== undefined) return revoked;
  const slug = revoked.slug;
  let spent: number | undefined;
  let limitRemaining: number | null = null;
  try {
    const info = disabled ?? (await d.openrouter.getKey(revoked.key_hash!));
    spent = claimUsageUsd(revoked, info.usage);
    limitRemaining = info.limit_remaining;
  } catch (err) {
    if (!(err instanceof UpstreamNotFoundError)) {
      throw new OpenRouterUnavailableError(
        "The key is turned off, but OpenRouter could not say what it spent, so its budget is not back in the pool yet. Revoke it again in a minute to finish.",
        err,
      );
    }
  }
  // Rounded down to a micro-dollar: the pool never gets back more than the key left unspent.
  const unspent = spent === undefined ? 0 : Math.max(0, Math.floor((revoked.limit_usd - spent) * 1e6) / 1e6);
  const { returnedUsd } = await d.store.returnRevokedSlot(slug, revoked.claim_id, unspent);
  if (spent !== undefined) {
    await d.store.recordUsage(slug, revoked.user_id, { keyHash: revoked.key_hash!, usageUsd: spent, limitRemaining, syncedAt: d.iso() });
  }
  try {
    return await d.store.transitionClaim(slug, revoked.user_id, { from: ["REVOKED"], set: { returned_usd: returnedUsd, updated_at: d.iso() } });
  } catch (err) {
    if (err instanceof ConditionRefusedError && err.existing) return err.existing as ClaimItem;
    throw err;
  }
}

/** See `revoke`. `retries`: how often to start over when the claim got a new key meanwhile. */
export async function revokeKey(d: EngineDeps, slug: string, userId: string, retries: number): Promise<ClaimItem> {
  const c = await requireClaim(d, slug, userId, "organizer");
  if (c.status === "REVOKED") return giveBack(d, c);
  if (!KEY_HOLDING.includes(c.status) || !c.key_hash) {
    throw new ClaimStateError(slug, c.status, `Only a claim with a live key can be revoked; this claim is ${c.status}.`);
  }
  // The PATCH answers with the disabled key, whose usage is final: no second call to read it.
  let disabled: KeyInfo | undefined;
  try {
    disabled = await d.openrouter.updateKey(c.key_hash, { disabled: true });
  } catch (err) {
    if (!(err instanceof UpstreamNotFoundError)) {
      throw new OpenRouterUnavailableError("OpenRouter could not disable the key just now; it was not revoked. Try again in a minute.", err);
    }
  }
  let revoked: ClaimItem;
  try {
    // Only while the claim still holds the key just disabled: a re-issue meanwhile (the key was
    // gone upstream) gave it a new one, which must be disabled before the budget goes back.
    revoked = await d.store.transitionClaim(slug, userId, {
      from: KEY_HOLDING,
      keyHash: c.key_hash,
      set: { status: "REVOKED", revoked_at: d.iso(), updated_at: d.iso() },
      remove: ["key"],
    });
  } catch (err) {
    if (!(err instanceof ConditionRefusedError) || !err.existing) throw err;
    const current = err.existing as ClaimItem;
    if (current.key_hash !== c.key_hash && retries > 0) return revokeKey(d, slug, userId, retries - 1);
    // Expired meanwhile: its whole budget stays committed, as for every expired key.
    if (current.status !== "REVOKED" || current.key_hash !== c.key_hash) return current;
    revoked = current; // a concurrent revoke got there first; the give-back below is shared
  }
  return giveBack(d, revoked, disabled);
}

/**
 * Disables the key upstream, marks the claim REVOKED (plaintext removed), then gives its slot
 * and its unspent budget back to the pool: the workshop stays committed for what the key spent,
 * which is final once the key is disabled.
 *
 *   revoke A ─ disable ─ ACTIVE→REVOKED ──────── read usage ─ ledger give-back (recorded) ─ claim notes it
 *   revoke B ─ disable ─ ACTIVE→REVOKED refused ─ read usage ─ ledger give-back refused: A's amount
 *   expire   ─ ACTIVE→EXPIRED first? revoke's transition is refused and nothing is given back
 *   re-issue ─ a new key meanwhile? the transition (on the old key) is refused; start over on the new one
 *
 * The give-back is guarded on the ledger itself, so it happens once whoever gets there first; a
 * revoke interrupted after the REVOKED write is finished by revoking again.
 */
export async function revoke(d: EngineDeps, slug: string, userId: string): Promise<ClaimItem> {
  await d.workshops.get(slug);
  return revokeKey(d, slug, userId, 1);
}
