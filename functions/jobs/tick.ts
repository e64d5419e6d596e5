import { workshopKeyMatcher } from "../../workshops/derive.js";
import type { WorkshopRecord } from "../data/store.js";
import type { CatalogEntry } from "../data/tables.js";
import { inSyncWindow, SYNC_AFTER_EXPIRE_MS, workshopTimetable } from "../domain/timetable.js";
import { redactKeys } from "../openrouter/errors.js";
import type { KeyInfo } from "../openrouter/types.js";
import { forEachLimited } from "../concurrency.js";
import { reportAccountCredits } from "./credits.js";
import { JobRun, listAccountKeys, outOfTime, type CreditFigures, type EnabledKeysOf, type JobDeps, type JobSummary, type RunLimits } from "./job-run.js";
import { syncOrFinish } from "./sync.js";

/**
 * The deployment-wide sync tick (one schedule every few minutes, instead of one per workshop):
 *
 *   index ─► the workshops in their sync window ─► ONE listing of the account's enabled keys
 *         ─► each workshop's sync with its share of the listing (a few workshops at a time)
 *         ─► ONE credit check (every workshop's figure from its ledger, credits.ts)
 *
 * What a tick costs upstream is one listing of the account, not one per workshop; in DynamoDB it
 * reads each synced workshop's own claims once and nothing of the others. Each workshop's sync is
 * the sync job's (`syncOrFinish`), with its own summary: one workshop's failure is reported in its
 * summary and never stops the others. The listing is made when the first workshop asks for it, so
 * every workshop still reads its claims after the keys were listed (the order plan.ts relies on).
 */

/** Workshops synced at once: their per-key work has its own limit (JobDeps.upstreamConcurrency). */
export const TICK_WORKSHOP_CONCURRENCY = 4;

export interface TickSummary extends CreditFigures {
  job: "tick";
  /** The workshop-clock time the tick started. */
  at: string;
  ms: number;
  /** False when a workshop's sync or a step of the tick failed; `runs` and `errors` say which. */
  ok: boolean;
  /** Enabled keys in the shared listing (absent when no workshop asked for it). */
  keys_listed?: number;
  /** One summary per workshop synced (job "sync"), in the order they finished. */
  runs: JobSummary[];
  /** Workshops not started because the invocation ran out of time: the next tick syncs them. */
  deferred: string[];
  warnings: string[];
  errors: string[];
}

/**
 * Where each workshop's keys come from, given the tick's workshops. The default lists the account's
 * default workspace once and hands each workshop the keys named after it; a per-workspace listing
 * (one workspace per workshop) fits the same seam.
 */
export type TickKeySource = (records: readonly WorkshopRecord[]) => EnabledKeysOf;

export function sharedListing(deps: Pick<JobDeps, "openrouter">, onListed: (keys: number) => void): TickKeySource {
  return () => {
    let listing: Promise<KeyInfo[]> | undefined;
    return async (record) => {
      listing ??= listAccountKeys(deps.openrouter, { includeDisabled: false }).then((keys) => (onListed(keys.length), keys));
      const isWorkshopKey = workshopKeyMatcher(record.config, record.key_namespace);
      return (await listing).filter((k) => isWorkshopKey(k.name));
    };
  };
}

export async function runTick(deps: JobDeps, limits: RunLimits = {}, keySource?: TickKeySource): Promise<TickSummary> {
  const started = performance.now();
  const at = deps.now();
  const tick: TickSummary = { job: "tick", at: new Date(at).toISOString(), ms: 0, ok: true, runs: [], deferred: [], warnings: [], errors: [] };
  const fail = (step: string, err: unknown) => {
    tick.ok = false;
    if (tick.errors.length < 10) tick.errors.push(redactKeys(`${step}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`).slice(0, 300));
  };
  const finish = () => ({ ...tick, ms: Math.round(performance.now() - started) });

  let records: WorkshopRecord[];
  let index: CatalogEntry[];
  try {
    ({ records, index } = await workshopsDue(deps, at, fail));
  } catch (err) {
    fail("workshops", err);
    return finish();
  }
  if (records.length === 0) return finish();

  const keysOf = (keySource ?? sharedListing(deps, (n) => (tick.keys_listed = n)))(records);
  await forEachLimited(records, TICK_WORKSHOP_CONCURRENCY, async (record) => {
    if (outOfTime(limits)) {
      tick.deferred.push(record.config.slug);
      return;
    }
    const runStarted = performance.now();
    const run = new JobRun({ job: "sync", slug: record.config.slug }, record, deps, limits, keysOf);
    try {
      await syncOrFinish(run);
    } catch (err) {
      // A step everything after it depends on (the listing, the claims) failed: this workshop only.
      run.fail("sync", err);
    }
    tick.runs.push(run.finish(runStarted));
  });
  if (tick.deferred.length > 0) fail("time", new Error(`the invocation ran out of time before syncing ${tick.deferred.join(", ")}; the next tick syncs them`));
  if (tick.runs.some((r) => !r.ok)) tick.ok = false;

  await reportAccountCredits({ deps, summary: tick, fail }, { records, index });
  return finish();
}

/**
 * The workshops whose sync window holds `at` (and the index, which the credit check reuses), from the workshop index (one GetItem) and then the
 * items of those that may be in it. An item that cannot be read is that workshop's failure alone.
 */
async function workshopsDue(deps: JobDeps, at: number, fail: (step: string, err: unknown) => void): Promise<{ records: WorkshopRecord[]; index: CatalogEntry[] }> {
  const { entries } = await deps.store.getCatalog();
  // The index narrows it down (no item read for workshops long over or not open yet); the item's timetable decides.
  const maybe = entries.filter((e) => Date.parse(e.claims_open_at) <= at && (e.key_expires_at === undefined || at <= Date.parse(e.key_expires_at) + SYNC_AFTER_EXPIRE_MS));
  const read = await Promise.allSettled(maybe.map((e) => deps.store.getWorkshop(e.slug)));
  const records: WorkshopRecord[] = [];
  read.forEach((r, i) => {
    if (r.status === "rejected") fail(`workshop ${maybe[i]!.slug}`, r.reason);
    else if (r.value && inSyncWindow(workshopTimetable(r.value.config), at)) records.push(r.value);
  });
  return { records, index: entries };
}
