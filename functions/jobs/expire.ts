import { roundUsd } from "../../workshops/derive.js";
import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem } from "../data/store.js";
import { claimUsageUsd } from "../domain/claims.js";
import { NotFoundError } from "../openrouter/errors.js";
import type { KeyInfo } from "../openrouter/types.js";
import { STORE_CONCURRENCY, type JobRun } from "./job-run.js";
import { observedUsage, planExpire } from "./plan.js";

/**
 * The expire job (at ends_at + expires_buffer_minutes, and every sync after that until it is done).
 *
 * Disables every key of the workshop upstream and records its usage from that same answer (a
 * disabled key cannot spend any more), deletes orphans, then marks the live claims EXPIRED and
 * scrubs every plaintext key. Per key: one PATCH and one claim write.
 */
export async function expireWorkshop(run: JobRun): Promise<void> {
  const { store, now } = run.deps;
  const slug = run.w.slug;
  // Keys first, claims second (plan.ts): an orphan is a key whose claim the later read lacks.
  const keys = await run.listKeys({ includeDisabled: false });
  const claims = await store.listClaims(slug);
  const plan = planExpire(run.w, keys, claims, run.record.key_namespace);

  const seen = new Map<string, KeyInfo>();
  const { failed, notStarted } = await run.upstreamEach(plan.toDisable, async (k) => {
    try {
      seen.set(k.hash, await run.deps.openrouter.updateKey(k.hash, { disabled: true }));
    } catch (err) {
      // Deleted since the listing (by an overlapping run): nothing left to disable.
      if (!(err instanceof NotFoundError)) throw err;
    }
  });
  run.summary.keys = plan.toDisable.length + plan.orphans.length;
  run.summary.keys_disabled = plan.toDisable.length - failed.length - notStarted;
  for (const f of failed.slice(0, 3)) run.fail("disable key", f.error);
  await run.deleteOrphans(plan.orphans);

  const iso = new Date(now()).toISOString();
  const isLive = new Set(plan.toExpire);
  let expired = 0;
  let scrubbed = 0;
  let usageWritten = 0;
  await run.eachInTime([...plan.toExpire, ...plan.toScrub], STORE_CONCURRENCY, async (c) => {
    const live = isLive.has(c);
    // The key's usage from the PATCH that disabled it (with what the claim's lost keys spent),
    // never lower than what the claim holds.
    const k = c.key_hash ? seen.get(c.key_hash) : undefined;
    const observed = k && observedUsage(c, k);
    const usage = observed && observed.usageUsd >= roundUsd(c.usage_usd ?? 0) ? observed : undefined;
    try {
      await store.transitionClaim(slug, c.user_id, {
        from: [c.status],
        set: {
          ...(live ? { status: "EXPIRED", expired_at: iso } : {}),
          ...(usage ? { usage_usd: usage.usageUsd, usage_synced_at: iso, ...(usage.limitRemaining === null ? {} : { limit_remaining: usage.limitRemaining }) } : {}),
          updated_at: iso,
        },
        remove: ["key"],
      });
      if (live) expired++;
      if (c.key !== undefined) scrubbed++;
      if (usage) usageWritten++;
    } catch (err) {
      // It moved on since the read (another expire got there, or a revoke): the next run sees it.
      if (!(err instanceof ConditionRefusedError)) run.fail("expire claim", err);
      else if ((err.existing as ClaimItem | undefined)?.key !== undefined) run.fail("expire claim", new Error(`claim of ${c.user_id} changed during expiry and still holds its key`));
    }
  });
  run.summary.claims_expired = expired;
  run.summary.keys_scrubbed = scrubbed;
  run.summary.usage_written = (run.summary.usage_written ?? 0) + usageWritten;

  // The chart's last point: stored usage, with what the disabling just reported.
  const spendUsd = claims.reduce((sum, c) => {
    if (c.status === "RELEASED") return sum;
    // Without a key (a re-issue that never got its new one): what its lost keys spent.
    if (!c.key_hash) return sum + roundUsd(c.usage_usd ?? 0);
    const k = seen.get(c.key_hash);
    return sum + Math.max(roundUsd(c.usage_usd ?? 0), k ? claimUsageUsd(c, k.usage) : 0);
  }, 0);
  await run.writeSpendSample({ usage_usd: roundUsd(spendUsd), keys: 0 }, now());
}
