import { claimWindow, keyExpiresAt, keysLeft, roundUsd } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import type { ClaimItem, CreditCheck, Ledger, Store, WorkshopRecord } from "../data/store.js";
import type { OpenRouterClient } from "../openrouter/types.js";
import type { JobRun } from "./job-run.js";
import { LIVE_STATUSES } from "./plan.js";

/**
 * The OpenRouter account pays for every key at once: when it runs dry, every attendee of every
 * workshop gets 402 in the same minute. The jobs compare the account's credit with the most the
 * deployment's keys can still spend, and keep the answer where the organizer dashboard reads it.
 *
 * What a workshop can still spend, at most: the budget of every key that can still be claimed
 * (its claim window is open or ahead), plus what each live key has not spent of its limit yet
 * (usage as last synced: it only grows, so an older figure overstates, never understates).
 */
export function remainingWorstCaseUsd(w: Workshop, ledger: Ledger, claims: readonly ClaimItem[], nowMs: number): number {
  if (nowMs >= Date.parse(keyExpiresAt(w))) return 0;
  const claimable = claimWindow(w, nowMs) === "closed" ? 0 : keysLeft(w, ledger) * w.openrouter.budget_usd;
  const unspent = claims.filter((c) => LIVE_STATUSES.includes(c.status)).reduce((sum, c) => sum + Math.max(0, c.limit_usd - (c.usage_usd ?? 0)), 0);
  return roundUsd(claimable + unspent);
}

export interface CreditCheckDeps {
  store: Store;
  openrouter: Pick<OpenRouterClient, "getCredits">;
  now: () => number;
}

/**
 * Checks the account against every workshop whose keys can still spend (from the workshop index,
 * plus `current`, the workshop whose job runs, with the claims it already read) and stores the result.
 */
export async function checkAccountCredits(deps: CreditCheckDeps, current: { record: WorkshopRecord; claims?: readonly ClaimItem[] }): Promise<CreditCheck> {
  const { store, now } = deps;
  const at = now();
  const currentSlug = current.record.config.slug;
  const { entries } = await store.getCatalog();
  const others = entries.filter((e) => e.slug !== currentSlug && (e.key_expires_at === undefined || Date.parse(e.key_expires_at) > at));
  const records = [current.record, ...(await Promise.all(others.map((e) => store.getWorkshop(e.slug)))).filter((r): r is WorkshopRecord => r !== undefined)];
  const ledgers = await store.getLedgers(records.map((r) => r.config.slug));
  const workshops = await Promise.all(
    records.map(async ({ config: w }) => {
      const ledger = ledgers.get(w.slug)!;
      const live = at < Date.parse(keyExpiresAt(w));
      // Only a workshop with slots in use can hold live keys; the running job's claims are at hand.
      const claims = w.slug === currentSlug && current.claims ? current.claims : live && ledger.claimed > 0 ? await store.listClaims(w.slug) : [];
      return { slug: w.slug, worst_case_usd: remainingWorstCaseUsd(w, ledger, claims, at) };
    }),
  );
  const credits = await deps.openrouter.getCredits();
  const available = roundUsd(credits.total_credits - credits.total_usage);
  const worst = roundUsd(workshops.reduce((sum, x) => sum + x.worst_case_usd, 0));
  const check: CreditCheck = {
    checked_at: new Date(at).toISOString(),
    available_usd: available,
    worst_case_usd: worst,
    shortfall_usd: roundUsd(Math.max(0, worst - available)),
    workshops: workshops.filter((x) => x.worst_case_usd > 0).sort((a, b) => b.worst_case_usd - a.worst_case_usd),
  };
  await store.putCreditCheck(check);
  return check;
}

/**
 * The credit step of a job run: the account's credit against what every workshop can still spend,
 * stored for the organizer dashboard and reported in the summary. After a sync it reuses the claims
 * the sync read.
 */
export async function reportAccountCredits(run: JobRun): Promise<void> {
  try {
    const check = await checkAccountCredits(run.deps, { record: run.record, claims: run.claimsRead });
    run.summary.credit_available_usd = check.available_usd;
    run.summary.worst_case_spend_usd = check.worst_case_usd;
    run.summary.credit_shortfall_usd = check.shortfall_usd;
    if (check.shortfall_usd > 0) {
      run.summary.warnings.push(
        `OpenRouter credit ($${check.available_usd}) is below what open and upcoming workshops can still spend ($${check.worst_case_usd}): add at least $${check.shortfall_usd}, or keys will stop with 402 before their budgets are used up`,
      );
    }
  } catch (err) {
    run.fail("credits", err);
  }
}
