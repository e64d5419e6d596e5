import { REFUSAL_REASONS, type MetricRecord } from "./metrics.js";
import type { Observer } from "./observer.js";

/**
 * In-process counters fed by the same data points the metrics are (observer.ts), for the organizer
 * dashboard's health panel on the local stack. In the cloud every Lambda container would hold its
 * own slice of them, so the API there answers without live counters and points at the CloudWatch
 * dashboard instead (health-routes.ts).
 */

export const HEALTH_WINDOW_MINUTES = 5;

export interface HealthSnapshot {
  source: "this-process";
  since: string;
  window_minutes: number;
  /** Keys minted per minute over the window. */
  claims_per_minute: number;
  /** Since `since`. */
  claims_minted: number;
  refusals: Record<string, number>;
  keys_unbound: number;
  openrouter_failures: { total: number; in_window: number; by_operation: Record<string, number> };
  jobs: { run: number; failed: number; last_failure?: { job: string; at: string } };
  /** The last credit check (the jobs): null before one ran in this process. */
  credit_shortfall_usd: number | null;
  spend_share_of_cap_pct: number | null;
}

interface WorkshopCounters {
  minted: number[];
  mintedTotal: number;
  refusals: Record<string, number>;
  unbound: number;
  spendSharePct: number | null;
}

export interface HealthCounters {
  observer: Observer;
  snapshot(slug: string): HealthSnapshot;
}

export function createHealthCounters(now: () => number = Date.now): HealthCounters {
  const since = new Date(now()).toISOString();
  const windowMs = HEALTH_WINDOW_MINUTES * 60_000;
  const workshops = new Map<string, WorkshopCounters>();
  const failures: { at: number; key: string }[] = [];
  const failuresByOperation: Record<string, number> = {};
  let failuresTotal = 0;
  const jobs = { run: 0, failed: 0, last_failure: undefined as { job: string; at: string } | undefined };
  let creditShortfall: number | null = null;

  const of = (slug: string) => {
    let w = workshops.get(slug);
    if (!w) workshops.set(slug, (w = { minted: [], mintedTotal: 0, refusals: {}, unbound: 0, spendSharePct: null }));
    return w;
  };
  const prune = (times: { length: number; shift(): unknown }, first: () => number | undefined) => {
    const cutoff = now() - windowMs;
    while (times.length && (first() ?? Infinity) < cutoff) times.shift();
  };

  function record({ name, value, dimensions: d }: MetricRecord) {
    switch (name) {
      case "ClaimsMinted":
        if (d.workshop) {
          of(d.workshop).minted.push(now());
          of(d.workshop).mintedTotal += value;
        }
        break;
      case "ClaimsRefused":
        if (d.workshop && d.reason) of(d.workshop).refusals[d.reason] = (of(d.workshop).refusals[d.reason] ?? 0) + value;
        break;
      case "KeysUnbound":
        if (d.workshop) of(d.workshop).unbound += value;
        break;
      case "OpenRouterCallsFailed": {
        const key = `${d.operation ?? "?"} ${d.status_class ?? "?"}`;
        failuresTotal += value;
        failuresByOperation[key] = (failuresByOperation[key] ?? 0) + value;
        failures.push({ at: now(), key });
        break;
      }
      case "JobsRun":
        jobs.run += value;
        break;
      case "JobsFailed":
        jobs.failed += value;
        jobs.last_failure = { job: d.job ?? "?", at: new Date(now()).toISOString() };
        break;
      case "CreditShortfallUsd":
        creditShortfall = value;
        break;
      case "PooledSpendShareOfCap":
        if (d.workshop) of(d.workshop).spendSharePct = value;
        break;
      default:
        break;
    }
  }

  return {
    observer: record,
    snapshot(slug) {
      const w = of(slug);
      prune(w.minted, () => w.minted[0]);
      prune(failures, () => failures[0]?.at);
      return {
        source: "this-process",
        since,
        window_minutes: HEALTH_WINDOW_MINUTES,
        claims_per_minute: Math.round((w.minted.length / HEALTH_WINDOW_MINUTES) * 10) / 10,
        claims_minted: w.mintedTotal,
        refusals: Object.fromEntries(REFUSAL_REASONS.filter((r) => w.refusals[r]).map((r) => [r, w.refusals[r]!])),
        keys_unbound: w.unbound,
        openrouter_failures: { total: failuresTotal, in_window: failures.length, by_operation: { ...failuresByOperation } },
        jobs: { run: jobs.run, failed: jobs.failed, ...(jobs.last_failure ? { last_failure: jobs.last_failure } : {}) },
        credit_shortfall_usd: creditShortfall,
        spend_share_of_cap_pct: w.spendSharePct,
      };
    },
  };
}
