import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem } from "../data/store.js";
import { boundTransition } from "../domain/claims.js";
import { ClaimsPausedError, EmailAlreadyClaimedError, SoldOutError } from "../domain/errors.js";
import { NotFoundError } from "../openrouter/errors.js";
import type { KeyInfo } from "../openrouter/types.js";
import { forEachLimited } from "../concurrency.js";
import { keyExpiresAt } from "../../workshops/derive.js";
import { liveUnspentUsd } from "./credits.js";
import { expireWorkshop } from "./expire.js";
import { retireKeys } from "./retire.js";
import { STORE_CONCURRENCY, type JobRun } from "./job-run.js";
import { FINAL_USAGE_AFTER_MS, observedUsage, planSync, type SyncPlan, type UsageWrite } from "./plan.js";

/**
 * The sync job (every few minutes between open and expiry, and the close job): records each key's
 * usage and a spend sample, binds keys still waiting for their guardrail, takes over claims stuck in
 * RESERVED, gives a new key to claims whose key upstream lost, and deletes orphan keys.
 */

/**
 * A workshop's sync (a sync job, or its part of a tick). Past expiry it also finishes whatever
 * expire left behind (a failed, late or out-of-time run), and once the usage is final deletes the
 * keys upstream: every step is a no-op when there is nothing left to do. Answers which it did.
 */
export async function syncOrFinish(run: JobRun): Promise<"synced" | "finished"> {
  const expiry = Date.parse(keyExpiresAt(run.w));
  if (run.deps.now() < expiry) {
    await syncWorkshop(run);
    return "synced";
  }
  await expireWorkshop(run);
  if (run.deps.now() >= expiry + FINAL_USAGE_AFTER_MS) await retireKeys(run);
  return "finished";
}

/** Usage, spend sample, binding retry, take-over of stuck claims, orphan deletion. */
export async function syncWorkshop(run: JobRun): Promise<SyncPlan> {
  const { store, now } = run.deps;
  const slug = run.w.slug;
  // Keys first, claims second: see plan.ts for why this order never deletes a key being minted.
  const keys = await run.listKeys({ includeDisabled: false });
  // The ledger before the claims: anything committed after this read is added by the credit check (credits.ts).
  const committedEver = (await store.getLedgerSpendFigures([slug])).get(slug)!.committed_ever_usd;
  const claims = await store.listClaims(slug);
  const at = now();
  const plan = planSync(run.w, keys, claims, at, run.record.key_namespace);
  run.summary.keys = plan.workshopKeys.length;
  await keepLiveUnspent(run, claims, committedEver, at);

  const unlisted = await lookUpUnlisted(run, plan.unlisted);
  await writeUsage(run, [...plan.usageWrites, ...unlisted.writes], at);
  await run.writeSpendSample(plan.spend, at);
  await run.deleteOrphans(plan.orphans);
  await bindUnbound(run, plan);
  await takeOverStuck(run, plan.stuck);
  await reissueMissing(run, unlisted.gone);
  return plan;
}

/** What the live keys have not spent, on the ledger, for every later credit check (credits.ts). */
async function keepLiveUnspent(run: JobRun, claims: readonly ClaimItem[], committedEver: number, at: number): Promise<void> {
  try {
    await run.deps.housekeeping.putLiveUnspent(run.w.slug, { usd: liveUnspentUsd(claims), committed_ever_usd: committedEver, synced_at: new Date(at).toISOString() });
  } catch (err) {
    // The ledger keeps the last figure (or none): the credit check then counts more, never less.
    run.fail("live unspent", err);
  }
}

/**
 * Claims that should hold a live key the listing of enabled keys did not show. Each key is looked
 * up alone (these are exceptions, not the day's work): gone upstream (404) is `missing_upstream`;
 * disabled outside the minter is reported and its usage recorded; found live (minted after the
 * listing, or paged past while other keys were deleted) is simply its usage.
 */
async function lookUpUnlisted(run: JobRun, claims: readonly ClaimItem[]): Promise<{ writes: UsageWrite[]; gone: ClaimItem[] }> {
  const writes: UsageWrite[] = [];
  const gone: ClaimItem[] = [];
  let missing = 0;
  let disabled = 0;
  const { failed } = await run.upstreamEach(claims, async (c) => {
    let k: KeyInfo;
    try {
      k = await run.deps.openrouter.getKey(c.key_hash!);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      missing++;
      gone.push(c);
      return;
    }
    if (k.disabled) disabled++;
    writes.push(observedUsage(c, k));
  });
  run.summary.missing_upstream = (run.summary.missing_upstream ?? 0) + missing;
  if (disabled > 0) {
    run.summary.disabled_upstream = (run.summary.disabled_upstream ?? 0) + disabled;
    run.summary.warnings.push(`${disabled} attendee key(s) were disabled on OpenRouter outside the minter; their claims still show them as live`);
  }
  for (const f of failed.slice(0, 3)) run.fail("look up key", f.error);
  return { writes, gone };
}

/**
 * Claims whose key upstream answered 404 for: each gets a new key in the same slot, one at a time
 * (like take-overs), and none is started near the deadline (the next sync finds them again).
 */
async function reissueMissing(run: JobRun, gone: readonly ClaimItem[]): Promise<void> {
  run.summary.reissued = 0;
  await run.eachInTime(gone, 1, async (c) => {
    try {
      const after = await run.deps.engine.reissueMissingKey(run.w.slug, c.user_id, c.key_hash!, { answered404: true });
      if (after.key_hash !== c.key_hash) run.summary.reissued!++;
    } catch (err) {
      run.fail("reissue missing key", err);
    }
  });
}

async function writeUsage(run: JobRun, usageWrites: readonly UsageWrite[], at: number): Promise<void> {
  const syncedAt = new Date(at).toISOString();
  let written = 0;
  await run.eachInTime(usageWrites, STORE_CONCURRENCY, async (u) => {
    try {
      const ok = await run.deps.store.recordUsage(run.w.slug, u.userId, {
        keyHash: u.keyHash,
        usageUsd: u.usageUsd,
        limitRemaining: u.limitRemaining,
        syncedAt,
      });
      if (ok) written++;
    } catch (err) {
      run.fail("usage", err);
    }
  });
  run.summary.usage_written = (run.summary.usage_written ?? 0) + written;
}

/** Every key waiting for its guardrail, in one bulk assignment; then each claim becomes ACTIVE. */
async function bindUnbound(run: JobRun, plan: SyncPlan): Promise<void> {
  run.summary.bound = 0;
  if (plan.toBind.length === 0) return;
  const { store, openrouter, now } = run.deps;
  const slug = run.w.slug;
  let guardrailId: string;
  try {
    guardrailId = await run.guardrailId();
    await run.withTries(() => openrouter.assignKeys(guardrailId, plan.toBind.map((b) => b.keyHash)));
  } catch (err) {
    run.fail("bind keys", err);
    return;
  }
  const iso = new Date(now()).toISOString();
  await forEachLimited(plan.toBind, STORE_CONCURRENCY, async (b) => {
    try {
      await store.transitionClaim(slug, b.userId, boundTransition([b.from], b.keyHash, guardrailId, iso));
      run.summary.bound!++;
    } catch (err) {
      // Moved on meanwhile (bound by the organizer's retry, revoked, re-issued): nothing to do.
      if (!(err instanceof ConditionRefusedError)) run.fail("mark bound", err);
    }
  });
}

async function takeOverStuck(run: JobRun, stuck: readonly ClaimItem[]): Promise<void> {
  run.summary.taken_over = 0;
  // One at a time: each take-over lists the keys and mints, and stuck claims are rare. None is
  // started near the deadline: a take-over cut off by the timeout waits out a new lease.
  await run.eachInTime(stuck, 1, async (c) => {
    try {
      const after = await run.deps.engine.takeOverStuck(run.w.slug, c);
      if (after.status !== "RESERVED") run.summary.taken_over!++;
    } catch (err) {
      // A claim that could not prove it held a slot and found none free (or its email taken) is
      // resolved: the engine deleted it and minted nothing. Not a failure of the run.
      if (err instanceof SoldOutError || err instanceof EmailAlreadyClaimedError || err instanceof ClaimsPausedError) {
        run.summary.stuck_refused = (run.summary.stuck_refused ?? 0) + 1;
      } else {
        run.fail("take over stuck claim", err);
      }
    }
  });
}
