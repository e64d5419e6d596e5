import { Metrics } from "@aws-lambda-powertools/metrics";
import { METRICS, METRICS_NAMESPACE, METRICS_SERVICE, type MetricDimensions } from "./metrics.js";
import type { Observer } from "./observer.js";

/**
 * Prints every data point at once as one CloudWatch Embedded Metric Format record on stdout
 * (Powertools Metrics' single-metric mode): CloudWatch Logs turns it into the metric, no API call.
 * Flushed per data point, so nothing waits for a Lambda wrapper's end-of-invocation flush; the
 * local stack, which has no such wrapper, prints the same records as they happen.
 *
 * One instance in single-metric mode for the container, not `singleMetric()` per data point: each
 * Metrics instance builds its own Console and reads its settings from the environment, a cost paid
 * twice per claim before. A point's dimensions and its metric are added with no await between them,
 * and the publish that the metric triggers clears the dimensions again, so points never mix.
 */
export function createEmfObserver(): Observer {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, logger: withoutOverlapWarnings, singleMetric: true });
  return ({ name, value, dimensions }) => {
    for (const set of METRICS[name].dimensionSets) {
      const values = dimensionValues(dimensions, set);
      if (values) metrics.addDimensions(values);
    }
    metrics.addMetric(name, METRICS[name].unit, value);
  };
}

/** The set's dimensions with their values; undefined when the record lacks one of them. */
function dimensionValues(dimensions: MetricDimensions, set: readonly (keyof MetricDimensions)[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const d of set) {
    const v = dimensions[d];
    if (v === undefined || v === "") return undefined;
    out[d] = v;
  }
  return out;
}

/**
 * Powertools warns when two dimension sets of one record share a key ("status_class is defined as
 * both a dimension set and dimension set"); ours overlap on purpose (the same value in both), so that
 * one warning is dropped and every other one printed.
 */
const withoutOverlapWarnings = {
  trace: console.trace,
  debug: console.debug,
  info: console.info,
  error: console.error,
  warn: (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].includes("is defined as both a dimension set and dimension set")) return;
    console.warn(...args);
  },
};
