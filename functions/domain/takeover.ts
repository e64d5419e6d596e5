import { randomUUID } from "node:crypto";
import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem } from "../data/store.js";
import { acquire, mint } from "./claims.js";
import type { EngineDeps } from "./engine-deps.js";
import { NoClaimError, OpenRouterUnavailableError } from "./errors.js";

/**
 * Takes over a claim stuck in RESERVED past its lease. Its email lock passes to the new attempt
 * when it names the stuck one (the proof that the slot is held); otherwise the slot and the lock
 * are reserved again, and a refusal (sold out, paused, email taken) deletes the claim and is
 * thrown. Then any upstream key with its name is deleted (its plaintext was never stored) and it
 * mints again. Answers with the claim as it is now when another attempt got there first or the
 * lease has not run out.
 */
export async function takeOverStuck(d: EngineDeps, slug: string, stuck: ClaimItem): Promise<ClaimItem> {
  const record = await d.workshops.get(slug);
  const at = d.now();
  let claimItem: ClaimItem;
  try {
    claimItem = await d.store.transitionClaim(slug, stuck.user_id, {
      from: ["RESERVED"],
      attempt: stuck.attempt,
      leaseExpiredBy: at,
      set: { attempt: randomUUID(), lease_until: at + d.leaseMs, updated_at: new Date(at).toISOString() },
    });
  } catch (err) {
    if (err instanceof ConditionRefusedError) {
      const current = err.existing as ClaimItem | undefined;
      if (!current) throw new NoClaimError(slug);
      return current;
    }
    throw err;
  }
  d.log("claim_taken_over", { slug, user_id: stuck.user_id, key_name: stuck.key_name });
  try {
    await d.store.repointEmailLock(slug, claimItem.email_normalized, claimItem.user_id, stuck.attempt, claimItem.attempt);
  } catch (err) {
    if (!(err instanceof ConditionRefusedError)) throw err;
    // No lock of the stuck attempt: its process may have died before the slot was reserved.
    d.log("claim_slot_unproven", { slug, user_id: stuck.user_id });
    await acquire(d, record.config, claimItem);
  }
  try {
    // Enabled keys only: a leftover of an interrupted mint was never disabled, and the listing
    // then follows the account's live keys, not every key it ever had.
    // Under "workspace" the claim's keys live in the workshop's workspace: that is the listing to read.
    const workspaceId = d.governance === "workspace" ? await d.governanceFor(record).then((g) => (g.mode === "workspace" ? g.workspaceId : undefined)) : undefined;
    const leftovers = (await d.openrouter.listAllKeys({ includeDisabled: false, ...(workspaceId ? { workspaceId } : {}) })).filter((k) => k.name === claimItem.key_name);
    for (const k of leftovers) await d.openrouter.deleteKey(k.hash);
  } catch (err) {
    // The claim stays RESERVED under the new lease; the next take-over tries again.
    throw new OpenRouterUnavailableError("OpenRouter could not be reached to finish an interrupted claim. Please try again in a minute.", err);
  }
  return mint(d, record, claimItem);
}
