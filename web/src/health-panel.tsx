import { useEffect, useState } from "preact/hooks";
import { api, errorMessage } from "./api.js";
import { formatUsd, formatWhen } from "./time.js";
import type { CreditCheck } from "./types.js";
import type { HealthSnapshot } from "../../functions/observability/health.js";

/**
 * The health panel of a workshop's dashboard: what the metrics count, in the room's words. On the
 * local stack the API answers live counters of its one process; in the cloud it has none (each
 * Lambda container holds its own), so the panel shows the last credit check and says where the live
 * figures are: the operator's CloudWatch dashboard and alarms.
 */

const HEALTH_REFRESH_MS = 10_000;

interface Health {
  live: HealthSnapshot | null;
  credits: CreditCheck | null;
}

const REASON_LABEL: Record<string, string> = {
  sold_out: "sold out",
  paused: "paused",
  room_code: "room code",
  one_per_person: "email already used",
  not_open: "not open yet",
  closed: "closed",
  too_many_attempts: "too many tries",
  upstream: "OpenRouter or store failed",
  other: "other",
};

export function HealthPanel({ slug }: { slug: string }) {
  const [health, setHealth] = useState<Health | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = async () => {
      try {
        setHealth(await api<Health>(`/admin/workshops/${slug}/health`, { auth: true }));
        setError(null);
      } catch (err) {
        setError(errorMessage(err));
      }
    };
    void load();
    const id = setInterval(() => document.visibilityState === "visible" && void load(), HEALTH_REFRESH_MS);
    return () => clearInterval(id);
  }, [slug]);

  if (!health) return error ? <p class="small muted">Health: {error}</p> : null;
  const { live, credits } = health;
  const refusals = live ? Object.entries(live.refusals) : [];
  const failures = live?.openrouter_failures;
  const trouble = (failures?.in_window ?? 0) > 0 || (live?.jobs.failed ?? 0) > 0 || (credits?.shortfall_usd ?? 0) > 0;
  return (
    <section class="health" aria-label="Health" data-testid="health-panel" data-trouble={trouble ? "yes" : "no"}>
      <h2 class="h3">Health</h2>
      {live ? (
        <dl class="health-figures">
          <dt>Keys per minute</dt>
          <dd data-testid="health-claims-per-minute">
            {live.claims_per_minute} <span class="muted small">(last {live.window_minutes} min; {live.claims_minted} in all)</span>
          </dd>
          <dt>Claims without a key</dt>
          <dd data-testid="health-refusals">{refusals.length ? refusals.map(([r, n]) => `${REASON_LABEL[r] ?? r}: ${n}`).join(" · ") : "none"}</dd>
          <dt>OpenRouter failures</dt>
          <dd data-testid="health-openrouter-failures">
            {failures!.total === 0
              ? "none"
              : `${failures!.in_window} in the last ${live.window_minutes} min (${Object.entries(failures!.by_operation)
                  .map(([op, n]) => `${op}: ${n}`)
                  .join(", ")})`}
          </dd>
          <dt>Failed jobs</dt>
          <dd data-testid="health-failed-jobs">
            {live.jobs.failed === 0 ? "none" : `${live.jobs.failed} of ${live.jobs.run}, last: ${live.jobs.last_failure?.job} at ${formatWhen(live.jobs.last_failure!.at)}`}
          </dd>
          <dt>Keys not on the guardrail</dt>
          <dd>{live.keys_unbound}</dd>
        </dl>
      ) : (
        <p class="small muted">
          Live counters (keys per minute, refusals, OpenRouter failures, failed jobs) are on the operator's CloudWatch dashboard; its alarms email
          the operator.
        </p>
      )}
      <p class="small" data-testid="health-credit">
        {credits
          ? `OpenRouter credit: ${formatUsd(credits.available_usd)} left, ${credits.shortfall_usd > 0 ? `${formatUsd(credits.shortfall_usd)} short` : "enough"} for every open workshop (checked ${formatWhen(credits.checked_at)}).`
          : "OpenRouter credit: not checked yet (the scheduled jobs check it)."}
      </p>
    </section>
  );
}
