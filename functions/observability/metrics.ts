/**
 * The metrics the functions emit (CloudWatch Embedded Metric Format, through Powertools Metrics) and
 * infra builds its alarms and dashboard from (infra/monitoring.ts): one list, so a renamed metric
 * or dimension breaks the build of both at once instead of leaving an alarm on a metric nobody emits.
 *
 * No imports: infra and the web bundle's tests read it without pulling Powertools in.
 *
 * Every record carries `service` (METRICS_SERVICE, the same for both Lambdas) plus the dimensions of
 * one of its `dimensionSets`; CloudWatch keeps one metric per set. Dimensions stay bounded: a
 * workshop slug, a refusal reason, an OpenRouter operation, a status class, a job name; never a user,
 * a claim or a key.
 */

export const METRICS_NAMESPACE = "WorkshopKeyMinter";
/** The `service` dimension of every metric (both Lambdas and the local stack). */
export const METRICS_SERVICE = "workshop-key-minter";

export const DIMENSION = {
  service: "service",
  workshop: "workshop",
  reason: "reason",
  operation: "operation",
  statusClass: "status_class",
  job: "job",
} as const;
export type DimensionName = (typeof DIMENSION)[Exclude<keyof typeof DIMENSION, "service">];

export type MetricUnitName = "Count" | "Milliseconds" | "Percent" | "None";

export interface MetricDefinition {
  unit: MetricUnitName;
  /** Each set is emitted (service added to it); an empty set is the metric across everything. */
  dimensionSets: readonly (readonly DimensionName[])[];
  /** What one data point counts, for the dashboard and the runbooks. */
  meaning: string;
}

export const METRICS = {
  ClaimsMinted: { unit: "Count", dimensionSets: [["workshop"], []], meaning: "a claim that got a new key (201)" },
  ClaimsRefused: { unit: "Count", dimensionSets: [["workshop", "reason"], ["reason"]], meaning: "a claim answered without a key, by reason" },
  ClaimLatency: { unit: "Milliseconds", dimensionSets: [[]], meaning: "how long the claim engine took to answer a claim" },
  OpenRouterCallsFailed: { unit: "Count", dimensionSets: [["status_class"], ["operation", "status_class"]], meaning: "an OpenRouter management call that failed after its retries" },
  KeysUnbound: { unit: "Count", dimensionSets: [["workshop"]], meaning: "a claim whose key works but is not on the workshop's guardrail (UNBOUND)" },
  JobsRun: { unit: "Count", dimensionSets: [["job"]], meaning: "a scheduled job run that finished" },
  JobsFailed: { unit: "Count", dimensionSets: [["job"]], meaning: "a job run that threw or finished with errors" },
  JobDuration: { unit: "Milliseconds", dimensionSets: [["job"]], meaning: "how long a job run took" },
  UsageSynced: { unit: "Count", dimensionSets: [["workshop"]], meaning: "claims whose usage a job wrote" },
  CreditShortfallUsd: { unit: "None", dimensionSets: [[]], meaning: "USD the account's credit is short of every live workshop's worst-case spend (0 when enough)" },
  PooledSpendShareOfCap: { unit: "Percent", dimensionSets: [["workshop"]], meaning: "a workshop's spend as a percentage of its cap_usd, at the last sync" },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/**
 * Why a claim got no key (the `reason` dimension). `upstream` is not a refusal but a failure
 * (OpenRouter or the store could not do its part, 503); it is counted here so the panel and the
 * dashboard show every claim that left without a key.
 */
export const REFUSAL_REASONS = ["sold_out", "paused", "room_code", "one_per_person", "not_open", "closed", "too_many_attempts", "upstream", "other"] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The `status_class` of a failed OpenRouter call. */
export const STATUS_CLASSES = ["5xx", "429", "4xx", "network", "bad_answer"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];
/** The classes that mean OpenRouter (not our request) is in trouble: the failure alarm counts these. */
export const UPSTREAM_TROUBLE: readonly StatusClass[] = ["5xx", "429", "network"];

/** `tick`: the deployment-wide sync tick; each workshop synced in it also counts as a `sync` run. */
export const JOB_NAMES = ["open", "close", "sync", "expire", "tick"] as const;

export type MetricDimensions = Partial<Record<DimensionName, string>>;

/** One data point, as the functions record it (observer.ts) and the EMF writer prints it. */
export interface MetricRecord {
  name: MetricName;
  value: number;
  dimensions: MetricDimensions;
}
