import { claimIdFor, type ClaimEngine } from "../domain/claims.js";
import type { JobInput } from "../domain/timetable.js";
import type { JobSummary, RunLimits, TickSummary } from "../jobs/run.js";
import type { OpenRouterClient } from "../openrouter/types.js";
import { setCorrelationId } from "./log.js";
import { JOB_NAMES } from "./metrics.js";
import { point, refusalReasonOf, statusClassOf, type Observer } from "./observer.js";

/**
 * The three places that know what happened, observed from outside so the engine, the client and the
 * job runner stay as they are: the claim engine's answer to a claim, every OpenRouter call's failure,
 * every job run's summary.
 */

/** The engine, with each claim counted (minted, refused by reason, unbound) and timed. */
export function observeClaims(engine: ClaimEngine, observe: Observer): ClaimEngine {
  return {
    ...engine,
    async claim(slug, who, read) {
      setCorrelationId(claimIdFor(slug, who.userId));
      const started = performance.now();
      try {
        const outcome = await engine.claim(slug, who, read);
        if (outcome.created) observe(point("ClaimsMinted", 1, { workshop: slug }));
        if (outcome.created && outcome.claim.status === "UNBOUND") observe(point("KeysUnbound", 1, { workshop: slug }));
        return outcome;
      } catch (err) {
        observe(point("ClaimsRefused", 1, { workshop: slug, reason: refusalReasonOf(err) }));
        throw err;
      } finally {
        observe(point("ClaimLatency", Math.round(performance.now() - started)));
      }
    },
  };
}

/**
 * The client, with every call that failed (after its own retries) counted by operation (the method)
 * and status class. A 404 the caller expects (a key already gone) is counted too, as `4xx`: the
 * failure alarm counts only 5xx, 429 and network failures.
 */
export function observeOpenRouter(client: OpenRouterClient, observe: Observer): OpenRouterClient {
  const observed = {} as Record<string, unknown>;
  for (const [operation, fn] of Object.entries(client) as [string, unknown][]) {
    if (typeof fn !== "function") {
      observed[operation] = fn;
      continue;
    }
    observed[operation] = (...args: unknown[]) =>
      (fn as (...a: unknown[]) => Promise<unknown>).apply(client, args).catch((err: unknown) => {
        const statusClass = statusClassOf(err);
        if (statusClass) observe(point("OpenRouterCallsFailed", 1, { operation, status_class: statusClass }));
        throw err;
      });
  }
  return observed as unknown as OpenRouterClient;
}

export type RunJob = (input: JobInput, limits?: RunLimits) => Promise<JobSummary>;

/**
 * The job runner, with each run counted and timed, and what its summary says about usage, credit
 * and the pooled cap recorded. `capUsdOf` gives the workshop's cap_usd (spend as its share).
 */
export function observeJobs(runJob: RunJob, observe: Observer, capUsdOf: (slug: string) => Promise<number | undefined>): RunJob {
  return async (input, limits) => {
    // Bounded: a malformed input is counted as `invalid`, never under a name it made up.
    const job = (JOB_NAMES as readonly string[]).includes(String(input?.job)) ? String(input.job) : "invalid";
    const started = performance.now();
    let summary: JobSummary | undefined;
    try {
      summary = await runJob(input, limits);
      return summary;
    } finally {
      observe(point("JobsRun", 1, { job }));
      observe(point("JobDuration", Math.round(performance.now() - started), { job }));
      if (!summary?.ok) observe(point("JobsFailed", 1, { job }));
      if (summary) await recordSummary(summary, observe, capUsdOf);
    }
  };
}

export type RunTick = (limits?: RunLimits) => Promise<TickSummary>;

/**
 * The sync tick, counted as a `tick` run, and each workshop's sync in it as a `sync` run with its
 * summary recorded as the sync job's (the per-workshop metrics and alarms read the same points).
 */
export function observeTick(runTick: RunTick, observe: Observer, capUsdOf: (slug: string) => Promise<number | undefined>): RunTick {
  return async (limits) => {
    const started = performance.now();
    let summary: TickSummary | undefined;
    try {
      summary = await runTick(limits);
      return summary;
    } finally {
      observe(point("JobsRun", 1, { job: "tick" }));
      observe(point("JobDuration", Math.round(performance.now() - started), { job: "tick" }));
      if (!summary?.ok) observe(point("JobsFailed", 1, { job: "tick" }));
      if (summary?.credit_available_usd !== undefined) observe(point("CreditShortfallUsd", summary.credit_shortfall_usd ?? 0));
      for (const run of summary?.runs ?? []) {
        observe(point("JobsRun", 1, { job: run.job }));
        observe(point("JobDuration", run.ms, { job: run.job }));
        if (!run.ok) observe(point("JobsFailed", 1, { job: run.job }));
        await recordSummary(run, observe, capUsdOf);
      }
    }
  };
}

async function recordSummary(summary: JobSummary, observe: Observer, capUsdOf: (slug: string) => Promise<number | undefined>) {
  const workshop = summary.slug;
  if (summary.usage_written !== undefined) observe(point("UsageSynced", summary.usage_written, { workshop }));
  if (summary.credit_available_usd !== undefined) observe(point("CreditShortfallUsd", summary.credit_shortfall_usd ?? 0));
  if (summary.spend) {
    const cap = await capUsdOf(workshop).catch(() => undefined);
    if (cap) observe(point("PooledSpendShareOfCap", Math.round((summary.spend.usage_usd / cap) * 1000) / 10, { workshop }));
  }
}
