import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem, ClaimStatus, ClaimTransition, WorkshopRecord } from "../data/store.js";
import { describe, requireClaim, type EngineDeps } from "./engine-deps.js";
import { ClaimStateError, OpenRouterUnavailableError } from "./errors.js";
import { unboundReason } from "./unbound.js";

/**
 * Binding: MINTED or UNBOUND ──assign to the workshop's guardrail──► ACTIVE, or UNBOUND (the key
 * still works; the sync job and the organizer's retry bind it later).
 */

/**
 * The move to ACTIVE once a key is assigned to the workshop's guardrail (the engine's bind, the
 * sync's bulk binding). Only while the claim still holds that very key: a claim re-issued meanwhile
 * holds a new key, bound or not.
 */
export function boundTransition(from: readonly ClaimStatus[], keyHash: string, guardrailId: string, at: string): ClaimTransition {
  return { from, keyHash, set: { status: "ACTIVE", guardrail_id: guardrailId, bound_at: at, updated_at: at }, remove: ["last_error", "unbound_reason"] };
}

/** `assignment`: the key's assignment to the guardrail when already under way (mint). */
export async function bind(d: EngineDeps, record: WorkshopRecord, claimed: ClaimItem, guardrail: Promise<string>, throwOnFailure: boolean, assignment?: Promise<string>): Promise<ClaimItem> {
  const slug = record.config.slug;
  let step: "guardrail" | "assign" = "guardrail";
  try {
    const guardrailId = await guardrail;
    step = "assign";
    await (assignment ?? d.openrouter.assignKeys(guardrailId, [claimed.key_hash!]));
    return await d.store.transitionClaim(slug, claimed.user_id, boundTransition(["MINTED", "UNBOUND"], claimed.key_hash!, guardrailId, d.iso()));
  } catch (err) {
    if (err instanceof ConditionRefusedError) return (err.existing as ClaimItem | undefined) ?? claimed;
    d.log("bind_failed", { slug, user_id: claimed.user_id, error: describe(err) });
    let unbound = claimed;
    try {
      unbound = await d.store.transitionClaim(slug, claimed.user_id, {
        from: ["MINTED", "UNBOUND"],
        keyHash: claimed.key_hash,
        set: { status: "UNBOUND", last_error: describe(err), unbound_reason: unboundReason(err, step), updated_at: d.iso() },
      });
    } catch (e) {
      if (e instanceof ConditionRefusedError) return (e.existing as ClaimItem | undefined) ?? claimed;
      throw e;
    }
    if (throwOnFailure) throw new OpenRouterUnavailableError("OpenRouter could not attach the key to the workshop's model allowlist. The key still works; try again in a minute.", err);
    return unbound;
  }
}

/** Assigns an UNBOUND (or stuck MINTED) key to the workshop's guardrail; ACTIVE on success. */
export async function retryBinding(d: EngineDeps, slug: string, userId: string): Promise<ClaimItem> {
  const record = await d.workshops.get(slug);
  const c = await requireClaim(d, slug, userId, "organizer");
  if (c.status === "ACTIVE") return c;
  if ((c.status !== "UNBOUND" && c.status !== "MINTED") || !c.key_hash) {
    throw new ClaimStateError(slug, c.status, `Only an UNBOUND key can be bound again; this claim is ${c.status}.`);
  }
  return bind(d, record, c, d.guardrailIdFor(record, true), true);
}
