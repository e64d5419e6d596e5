import { DomainError } from "../domain/errors.js";
import { OpenRouterError, UpstreamUnavailableError } from "../openrouter/errors.js";
import type { MetricDimensions, MetricName, MetricRecord, RefusalReason, StatusClass } from "./metrics.js";

/**
 * Where the functions record what happened: one data point at a time, by metric name (metrics.ts).
 * The Lambdas print each as an EMF record (emf.ts); the local stack also keeps in-process counters
 * for the organizer's health panel (health.ts). Parts take an Observer that defaults to `noObserver`,
 * so code and tests that do not care pass nothing.
 */
export type Observer = (record: MetricRecord) => void;

export const noObserver: Observer = () => {};

/** Several observers as one. An observer that throws never breaks a claim or a job. */
export function observers(...list: Observer[]): Observer {
  return (record) => {
    for (const o of list) {
      try {
        o(record);
      } catch {
        // Metrics are best effort: the answer to the attendee matters more.
      }
    }
  };
}

export const point = (name: MetricName, value: number, dimensions: MetricDimensions = {}): MetricRecord => ({ name, value, dimensions });

/** The `reason` a claim left without a key, from the engine's error (anything else: `other`). */
export function refusalReasonOf(err: unknown): RefusalReason {
  if (!(err instanceof DomainError)) return "other";
  switch (err.code) {
    case "sold_out":
      return "sold_out";
    case "claims_paused":
      return "paused";
    case "room_code_required":
    case "room_code_invalid":
      return "room_code";
    case "email_already_claimed":
      return "one_per_person";
    case "claims_not_open":
      return "not_open";
    case "claims_closed":
      return "closed";
    case "too_many_room_codes":
    case "too_many_claims":
      return "too_many_attempts";
    case "upstream_unavailable":
      return "upstream";
    default:
      return "other";
  }
}

/** The `status_class` of a failed OpenRouter call (undefined: not an OpenRouter failure). */
export function statusClassOf(err: unknown): StatusClass | undefined {
  if (!(err instanceof OpenRouterError)) return undefined;
  const s = err.status;
  if (s === 429) return "429";
  if (s !== undefined && (s >= 500 || s === 408)) return "5xx";
  if (s === undefined && err instanceof UpstreamUnavailableError) return "network";
  if (s !== undefined && s >= 400 && s < 500) return "4xx";
  // A 2xx in a shape we do not know, or a body that is not JSON.
  return "bad_answer";
}
