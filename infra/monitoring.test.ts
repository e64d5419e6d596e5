import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DIMENSION, METRIC_NAMES, METRICS_NAMESPACE, METRICS_SERVICE } from "../functions/observability/metrics.js";
import type { Workshop } from "../workshops/schema.js";
import { MONITORING_THRESHOLDS, RUNBOOKS, runbookPath } from "./monitoring.js";
import { ACCOUNT, declareStack, revealed, type MockedProgram, type RecordedResource } from "./pulumi-mocks.js";

/**
 * The alarms, alert topics and dashboard as the program declares them under Pulumi's mocks, with the
 * repository's workshops. The metric names and namespace come from the module the functions emit
 * from, so a metric renamed on one side fails here.
 */

const T = {
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  topic: "aws:sns/topic:Topic",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
  dashboard: "aws:cloudwatch/dashboard:Dashboard",
};
const ALERT_EMAILS = ["oncall@example.org", "backup@example.org"];

let program: MockedProgram;
let workshops: Workshop[];
let outputs: Record<string, unknown>;
let alarms: RecordedResource[];
let operatorTopicArn: string;

beforeAll(async () => {
  ({ program, workshops, outputs } = await declareStack({
    "workshop-key-minter:adminEmails": JSON.stringify(["admin@example.org"]),
    "workshop-key-minter:alertEmails": JSON.stringify(ALERT_EMAILS),
    "workshop-key-minter:sesFromEmail": "keys@example.org",
    "workshop-key-minter:sesIdentityArn": `arn:aws:ses:eu-central-1:${ACCOUNT}:identity/example.org`,
  }));
  alarms = program.ofType(T.alarm);
  operatorTopicArn = outputs.alertTopicArn as string;
});

const runbookOf = (a: RecordedResource) => a.inputs.tags.runbook as string;
const metricsOf = (a: RecordedResource): { namespace: string; metricName: string; dimensions: Record<string, string> }[] =>
  a.inputs.metricName ? [a.inputs as never] : (a.inputs.metricQueries ?? []).filter((q: { metric?: unknown }) => q.metric).map((q: { metric: unknown }) => q.metric);

describe("alarms", () => {
  it("cover every kind the issue lists, and each workshop's cap and unbound alarms", () => {
    const count = (runbook: string) => alarms.filter((a) => runbookOf(a) === runbook).length;
    expect(count("lambda-errors")).toBe(2);
    expect(count("lambda-throttles")).toBe(2);
    expect(count("api-5xx-rate")).toBe(1);
    expect(count("api-latency-p99")).toBe(1);
    expect(count("dlq-messages")).toBe(1);
    expect(count("dynamodb-throttles")).toBe(2);
    expect(count("openrouter-failures")).toBe(1);
    expect(count("credit-shortfall")).toBe(1);
    for (const kind of ["pooled-spend-80", "pooled-spend-95", "keys-unbound"]) expect(count(kind)).toBe(workshops.length);
    expect(new Set(alarms.map(runbookOf))).toEqual(new Set(RUNBOOKS));
  });

  it("notify the operator's topic (OK too), treat missing data as fine, and name a runbook that exists", () => {
    expect(operatorTopicArn).toMatch(/^arn:aws:sns:/);
    for (const a of alarms) {
      expect(a.inputs.alarmActions, a.name).toContain(operatorTopicArn);
      expect(a.inputs.okActions, a.name).toContain(operatorTopicArn);
      expect(a.inputs.treatMissingData, a.name).toBe("notBreaching");
      const path = runbookPath(runbookOf(a) as never);
      expect(a.inputs.alarmDescription, a.name).toContain(path);
      expect(existsSync(path), path).toBe(true);
      const text = readFileSync(path, "utf8");
      for (const heading of ["## What it means", "## How to check", "## How to fix", "## When it is safe to ignore"]) expect(text, `${path}: ${heading}`).toContain(heading);
    }
  });

  it("watch the metrics the functions emit, by their shared names, namespace and service dimension", () => {
    const ours = alarms.flatMap(metricsOf).filter((m) => m.namespace === METRICS_NAMESPACE);
    expect(ours.length).toBeGreaterThan(0);
    for (const m of ours) {
      expect(METRIC_NAMES).toContain(m.metricName);
      expect(m.dimensions[DIMENSION.service]).toBe(METRICS_SERVICE);
    }
    const spend80 = alarms.find((a) => a.name.endsWith(`${workshops[0]!.slug}-spend-${MONITORING_THRESHOLDS.spendWarnPercent}`))!;
    expect(spend80.inputs).toMatchObject({ metricName: "PooledSpendShareOfCap", threshold: 80, dimensions: { workshop: workshops[0]!.slug } });
    expect(alarms.find((a) => runbookOf(a) === "openrouter-failures")!.inputs.metricQueries.filter((q: { metric?: unknown }) => q.metric).map((q: { metric: { dimensions: Record<string, string> } }) => q.metric.dimensions.status_class)).toEqual(["5xx", "429", "network"]);
  });

  it("email the operator's addresses, and each workshop's organizers its cap and unbound alarms (SES configured)", () => {
    const subs = program.ofType(T.subscription).map((s) => revealed(s.inputs));
    expect(subs.filter((s) => s.topic === operatorTopicArn).map((s) => s.endpoint)).toEqual(ALERT_EMAILS);
    for (const w of workshops) {
      const topic = program.ofType(T.topic).find((t) => t.name.endsWith(`${w.slug}-organizers`))!;
      const arn = topic.state.arn as string;
      expect(subs.filter((s) => s.topic === arn).map((s) => s.endpoint).sort()).toEqual([...w.organizers].sort());
      const theirs = alarms.filter((a) => a.inputs.alarmActions.includes(arn)).map(runbookOf).sort();
      expect(theirs).toEqual(["keys-unbound", "pooled-spend-80", "pooled-spend-95"]);
    }
  });
});

describe("the dashboard", () => {
  it("charts every metric the functions emit, under their namespace, and each workshop's spend", () => {
    const body = JSON.parse(revealed(program.one(T.dashboard).inputs.dashboardBody)) as { widgets: { properties: { title: string; metrics: unknown[][] } }[] };
    const lines = body.widgets.flatMap((w) => w.properties.metrics);
    const charted = new Set(lines.filter((l) => l[0] === METRICS_NAMESPACE).map((l) => l[1]));
    expect([...charted].sort()).toEqual([...METRIC_NAMES].sort());
    const titles = body.widgets.map((w) => w.properties.title);
    for (const t of ["Claims per minute", "by reason", "p50 / p99", "Errors", "OpenRouter calls failed", "Spend against cap", "credit"]) expect(titles.join("|")).toContain(t);
    const spend = body.widgets.find((w) => w.properties.title.startsWith("Spend against cap"))!;
    expect(spend.properties.metrics.map((l) => l[l.indexOf(DIMENSION.workshop) + 1])).toEqual(workshops.map((w) => w.slug));
  });
});
