import { claimWindow, keyExpiresAt, keysLeft, roundUsd } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import type { CatalogEntry } from "../data/tables.js";
import type { ClaimItem, CreditCheck, Ledger, LedgerSpendFigures, Store, WorkshopRecord } from "../data/store.js";
import type { OpenRouterClient } from "../openrouter/types.js";
import type { CreditFigures } from "./job-run.js";
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
  return worstCaseUsd(w, ledger, liveUnspentUsd(claims), nowMs);
}

/** Σ max(0, limit − usage) of the live claims: what their keys can still spend. */
export function liveUnspentUsd(claims: readonly ClaimItem[]): number {
  return roundUsd(claims.filter((c) => LIVE_STATUSES.includes(c.status)).reduce((sum, c) => sum + Math.max(0, c.limit_usd - (c.usage_usd ?? 0)), 0));
}

/** The keys still to claim (while the window is open or ahead) plus `unspentUsd` of the live ones; 0 once the keys expired. */
function worstCaseUsd(w: Workshop, ledger: Ledger, unspentUsd: number, nowMs: number): number {
  if (nowMs >= Date.parse(keyExpiresAt(w))) return 0;
  const claimable = claimWindow(w, nowMs) === "closed" ? 0 : keysLeft(w, ledger) * w.openrouter.budget_usd;
  return roundUsd(claimable + unspentUsd);
}

/**
 * What a workshop's live keys can still spend, at most, from its ledger alone (no claim read):
 *
 *   sync reads ledger (ever = E0) ─► reads claims ─► stores {usd: U, committed_ever_usd: E0}
 *   later: a claim or top-up adds its amount to committed_ever_usd (E) ─► bound = U + (E − E0)
 *
 * U overstates what the keys it counted can still spend (their usage only grows; a revoke or an
 * expiry only removes keys), and every amount committed after E0 was read is added in full, so the
 * bound never undercounts a key claimed or topped up since the sync (one claimed between the two
 * reads is counted twice: the safe side). That needs every amount to reach the claim item no later
 * than the counter: a new claim's item is written before its slot is reserved; a top-up and a
 * re-allowed claim add to the counter only once their claim shows the amount (data/ledger.ts
 * reserveSlot). Before any sync stored a figure, the ledger's committed USD: it holds the limit of
 * every live key (and what revoked ones spent), so it is never lower.
 */
export function liveUnspentBoundUsd(f: LedgerSpendFigures): number {
  if (!f.live_unspent) return f.ledger.committed_usd;
  return roundUsd(f.live_unspent.usd + Math.max(0, f.committed_ever_usd - f.live_unspent.committed_ever_usd));
}

export interface CreditCheckDeps {
  store: Store;
  openrouter: Pick<OpenRouterClient, "getCredits">;
  now: () => number;
}

/**
 * Workshop items the caller already read: the running job's (`record`), or a tick's (`records`,
 * with the workshop index it read them from, so the check does not read the index again).
 */
export type KnownWorkshops = { record: WorkshopRecord } | { records: readonly WorkshopRecord[]; index?: readonly CatalogEntry[] };

/**
 * Checks the account against every workshop whose keys can still spend (from the workshop index,
 * with the items the caller already read) and stores the result. Reads one BatchGet of ledgers for
 * all of them and never a claim: each sync keeps its workshop's figure on its ledger.
 */
export async function checkAccountCredits(deps: CreditCheckDeps, read: KnownWorkshops = { records: [] }): Promise<CreditCheck> {
  const { store, now } = deps;
  const at = now();
  const known = "record" in read ? [read.record] : read.records;
  const entries = "index" in read && read.index ? read.index : (await store.getCatalog()).entries;
  const knownSlugs = new Set(known.map((r) => r.config.slug));
  const others = entries.filter((e) => !knownSlugs.has(e.slug) && (e.key_expires_at === undefined || Date.parse(e.key_expires_at) > at));
  const records = [...known, ...(await Promise.all(others.map((e) => store.getWorkshop(e.slug)))).filter((r): r is WorkshopRecord => r !== undefined)];
  const figures = await store.getLedgerSpendFigures(records.map((r) => r.config.slug));
  const workshops = records.map(({ config: w }) => {
    const f = figures.get(w.slug)!;
    return { slug: w.slug, worst_case_usd: worstCaseUsd(w, f.ledger, liveUnspentBoundUsd(f), at) };
  });
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
 * The credit step of a job run (or of a tick, once for every workshop it synced): the account's
 * credit against what every workshop can still spend, stored for the organizer dashboard and
 * reported in the summary.
 */
export async function reportAccountCredits(run: { deps: CreditCheckDeps; summary: CreditFigures; fail(step: string, err: unknown): void }, known: KnownWorkshops): Promise<void> {
  try {
    const check = await checkAccountCredits(run.deps, known);
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
