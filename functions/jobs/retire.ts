import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem } from "../data/store.js";
import { STORE_CONCURRENCY, type JobRun } from "./job-run.js";
import { needsRetire, observedUsage, planRetire, storesUsage } from "./plan.js";

/**
 * The retire step of every sync once the keys' usage is final (expiry + FINAL_USAGE_AFTER_MS, plan.ts).
 *
 * Records each disabled key's final usage, then deletes the key upstream and notes that on its
 * claim, so the account's key list does not grow with every workshop ever run. The one listing
 * that includes disabled keys; skipped once every claim's key is gone.
 */
export async function retireKeys(run: JobRun): Promise<void> {
  const { store, openrouter, now } = run.deps;
  const slug = run.w.slug;
  if (!needsRetire(await store.listClaims(slug))) {
    run.summary.keys_deleted = 0;
    return;
  }
  const keys = await run.listKeys({ includeDisabled: true });
  const plan = planRetire(run.w, keys, await store.listClaims(slug), run.record.key_namespace);
  const at = now();
  const iso = new Date(at).toISOString();
  let deleted = 0;
  const markDeleted = async (c: ClaimItem): Promise<void> => {
    try {
      await store.transitionClaim(slug, c.user_id, { from: [c.status], set: { key_deleted_at: iso, updated_at: iso } });
    } catch (err) {
      // Moved on meanwhile (an overlapping run marked it): the next run sees it.
      if (!(err instanceof ConditionRefusedError)) throw err;
    }
  };
  const { failed } = await run.upstreamEach(plan.toDelete, async ({ claim, key }) => {
    // Usage first: once the key is deleted, nobody can read it again. Usually the claim already
    // holds it (expire recorded it when it disabled the key), and then there is nothing to write.
    const observed = observedUsage(claim, key);
    if (!storesUsage(claim, observed)) await store.recordUsage(slug, claim.user_id, { ...observed, syncedAt: iso });
    if (await openrouter.deleteKey(key.hash)) deleted++;
    await markDeleted(claim);
  });
  for (const f of failed.slice(0, 3)) run.fail("delete key", f.error);
  await run.eachInTime(plan.alreadyGone, STORE_CONCURRENCY, markDeleted);
  run.summary.keys_deleted = deleted;
  await run.deleteOrphans(plan.orphans);
}
