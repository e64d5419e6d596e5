import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  DIMENSION,
  JOB_NAMES,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  REFUSAL_REASONS,
  UPSTREAM_TROUBLE,
  type MetricName,
} from "../functions/observability/metrics.js";
import type { Workshop } from "../workshops/schema.js";

/**
 * Alarms, the operator's alert topic, the organizers' per-workshop alerts and one dashboard, built
 * from the metric names the functions emit (functions/observability/metrics.ts), so an alarm can not
 * watch a metric nobody emits. Every alarm names its runbook (docs/runbooks/<runbook>.md) and
 * notifies the topic, also when no address is subscribed yet; missing data is never a breach.
 */

/**
 * Every threshold, in one place, sized for a 300-person room where most claims come in the first
 * ten minutes (about 30 claims a minute at the peak, two OpenRouter calls each).
 */
export const MONITORING_THRESHOLDS = {
  /** API Lambda errors (unhandled, not 4xx/5xx answers) in 5 minutes: one is a bug, five is an outage. */
  apiErrorsPer5Min: 5,
  /** Jobs Lambda errors in 5 minutes: every failed open/close/expire run is worth a look. */
  jobsErrorsPer5Min: 1,
  /** Throttled invocations in 5 minutes (concurrency limit reached). */
  throttlesPer5Min: 1,
  /** Share of API answers that are 5xx, over 5 minutes (percent). */
  api5xxPercent: 5,
  /** API p99 latency, 3 one-minute periods in a row (ms); a claim waits for two OpenRouter calls. */
  apiP99LatencyMs: 3_000,
  /** Failed job runs waiting in the dead-letter queue. */
  deadLetterMessages: 1,
  /** DynamoDB throttle events per table in 5 minutes. */
  dynamoThrottlesPer5Min: 1,
  /** OpenRouter calls failed with 5xx, 429 or no answer in 5 minutes (a peak makes ~300 calls). */
  openrouterFailuresPer5Min: 10,
  /** USD the account's credit is short of what open workshops' keys can spend. */
  creditShortfallUsd: 0,
  /** A workshop's spend as a percentage of its cap_usd. */
  spendWarnPercent: 80,
  spendCriticalPercent: 95,
  /** Keys left UNBOUND in 15 minutes (the sync binds them every few minutes; more means binding is broken). */
  unboundKeysPer15Min: 5,
} as const;

export type MonitoringThresholds = typeof MONITORING_THRESHOLDS;

/** Runbook of each alarm kind: docs/runbooks/<name>.md. */
export const RUNBOOKS = [
  "lambda-errors",
  "lambda-throttles",
  "api-5xx-rate",
  "api-latency-p99",
  "dlq-messages",
  "dynamodb-throttles",
  "openrouter-failures",
  "credit-shortfall",
  "pooled-spend-80",
  "pooled-spend-95",
  "keys-unbound",
] as const;
export type Runbook = (typeof RUNBOOKS)[number];

export const runbookPath = (runbook: Runbook) => `docs/runbooks/${runbook}.md`;

export interface MonitoringArgs {
  workshops: Workshop[];
  functions: { api: aws.lambda.Function; jobs: aws.lambda.Function };
  api: { id: pulumi.Input<string>; stage: pulumi.Input<string> };
  deadLetterQueueName: pulumi.Input<string>;
  tableNames: pulumi.Input<string>[];
  /** The operator's addresses (stack config `alertEmails`); each must confirm the subscription. */
  alertEmails: string[];
  /** With SES configured, each workshop's organizers are emailed its cap and unbound alarms. */
  organizerEmail: boolean;
  region: string;
  thresholds?: Partial<MonitoringThresholds>;
  /** Topics, alarms and the dashboard are named `<namePrefix>…`: the only ones the deploy role may touch (infra/iam). */
  namePrefix: string;
  tags?: Record<string, string>;
}

type MetricQuery = aws.types.input.cloudwatch.MetricAlarmMetricQuery;

export class Monitoring extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly alarms: aws.cloudwatch.MetricAlarm[] = [];
  readonly dashboard: aws.cloudwatch.Dashboard;
  /** Per workshop slug, its organizers' topic (only with SES configured). */
  readonly organizerTopics = new Map<string, aws.sns.Topic>();

  constructor(name: string, private readonly args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:ops:Monitoring", name, {}, opts);
    const t = { ...MONITORING_THRESHOLDS, ...args.thresholds };
    this.topic = this.createTopic(name);
    this.lambdaAlarms(name, t);
    this.apiAlarms(name, t);
    this.dataAlarms(name, t);
    this.openrouterAlarms(name, t);
    for (const w of args.workshops) this.workshopAlarms(name, w, t);
    this.dashboard = this.createDashboard(name);
    this.registerOutputs({ topic: this.topic.arn, dashboard: this.dashboard.dashboardName });
  }

  private createTopic(name: string): aws.sns.Topic {
    const topic = new aws.sns.Topic(`${name}-alerts`, { name: `${this.args.namePrefix}alerts`, tags: this.args.tags }, { parent: this });
    this.args.alertEmails.forEach(
      (email, i) => new aws.sns.TopicSubscription(`${name}-alerts-${i}`, { topic: topic.arn, protocol: "email", endpoint: email }, { parent: this }),
    );
    return topic;
  }

  private alarm(name: string, runbook: Runbook, what: string, spec: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmDescription" | "alarmActions" | "okActions" | "treatMissingData">, extraActions: pulumi.Input<string>[] = []) {
    const alarm = new aws.cloudwatch.MetricAlarm(
      name,
      {
        ...spec,
        name: `${this.args.namePrefix}${name}`,
        alarmDescription: `${what} Runbook: ${runbookPath(runbook)}`,
        alarmActions: [this.topic.arn, ...extraActions],
        okActions: [this.topic.arn, ...extraActions],
        treatMissingData: "notBreaching",
        tags: { ...this.args.tags, runbook },
      },
      { parent: this },
    );
    this.alarms.push(alarm);
    return alarm;
  }

  private lambdaAlarms(name: string, t: MonitoringThresholds) {
    for (const [which, fn] of Object.entries(this.args.functions) as ["api" | "jobs", aws.lambda.Function][]) {
      const dims = { FunctionName: fn.name };
      const common = { namespace: "AWS/Lambda", statistic: "Sum", period: 300, evaluationPeriods: 1, comparisonOperator: "GreaterThanOrEqualToThreshold", dimensions: dims };
      this.alarm(`${name}-${which}-errors`, "lambda-errors", `The ${which} Lambda threw errors.`, {
        ...common,
        metricName: "Errors",
        threshold: which === "api" ? t.apiErrorsPer5Min : t.jobsErrorsPer5Min,
      });
      this.alarm(`${name}-${which}-throttles`, "lambda-throttles", `The ${which} Lambda was throttled.`, { ...common, metricName: "Throttles", threshold: t.throttlesPer5Min });
    }
  }

  private apiAlarms(name: string, t: MonitoringThresholds) {
    const dims = { ApiId: this.args.api.id, Stage: this.args.api.stage };
    const apiMetric = (id: string, metricName: string): MetricQuery => ({
      id,
      returnData: false,
      metric: { namespace: "AWS/ApiGateway", metricName, dimensions: dims, period: 300, stat: "Sum" },
    });
    this.alarm(`${name}-api-5xx-rate`, "api-5xx-rate", `More than ${t.api5xxPercent}% of API answers were 5xx.`, {
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      evaluationPeriods: 1,
      threshold: t.api5xxPercent,
      metricQueries: [apiMetric("errors", "5xx"), apiMetric("requests", "Count"), { id: "rate", expression: "100 * errors / MAX([requests, 1])", label: "5xx %", returnData: true }],
    });
    this.alarm(`${name}-api-latency-p99`, "api-latency-p99", `API p99 latency above ${t.apiP99LatencyMs} ms for 3 minutes.`, {
      namespace: "AWS/ApiGateway",
      metricName: "Latency",
      dimensions: dims,
      extendedStatistic: "p99",
      period: 60,
      evaluationPeriods: 3,
      comparisonOperator: "GreaterThanThreshold",
      threshold: t.apiP99LatencyMs,
    });
  }

  private dataAlarms(name: string, t: MonitoringThresholds) {
    this.alarm(`${name}-dlq-messages`, "dlq-messages", "A scheduled job failed every retry and waits in the dead-letter queue.", {
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: this.args.deadLetterQueueName },
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: t.deadLetterMessages,
    });
    this.args.tableNames.forEach((table, i) => {
      const q = (id: string, metricName: string): MetricQuery => ({
        id,
        returnData: false,
        metric: { namespace: "AWS/DynamoDB", metricName, dimensions: { TableName: table }, period: 300, stat: "Sum" },
      });
      this.alarm(`${name}-dynamodb-throttles-${i}`, "dynamodb-throttles", "DynamoDB throttled reads or writes of a table.", {
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        evaluationPeriods: 1,
        threshold: t.dynamoThrottlesPer5Min,
        metricQueries: [q("reads", "ReadThrottleEvents"), q("writes", "WriteThrottleEvents"), { id: "throttles", expression: "reads + writes", label: "throttle events", returnData: true }],
      });
    });
  }

  private openrouterAlarms(name: string, t: MonitoringThresholds) {
    const byClass: MetricQuery[] = UPSTREAM_TROUBLE.map((statusClass, i) => ({
      id: `c${i}`,
      returnData: false,
      metric: custom("OpenRouterCallsFailed", { [DIMENSION.statusClass]: statusClass }, 300, "Sum"),
    }));
    this.alarm(`${name}-openrouter-failures`, "openrouter-failures", `OpenRouter failed ${t.openrouterFailuresPer5Min}+ calls (5xx, 429, no answer) in 5 minutes.`, {
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      evaluationPeriods: 1,
      threshold: t.openrouterFailuresPer5Min,
      metricQueries: [...byClass, { id: "failed", expression: byClass.map((q) => q.id).join(" + "), label: "OpenRouter calls failed", returnData: true }],
    });
    this.alarm(`${name}-credit-shortfall`, "credit-shortfall", "The OpenRouter account's credit is short of what open workshops' keys can spend.", {
      ...customAlarmMetric("CreditShortfallUsd", {}),
      statistic: "Maximum",
      period: 900,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: t.creditShortfallUsd,
    });
  }

  private workshopAlarms(name: string, w: Workshop, t: MonitoringThresholds) {
    const organizers = this.organizerTopic(name, w);
    const spend = (percent: number, runbook: Runbook) =>
      this.alarm(`${name}-${w.slug}-spend-${percent}`, runbook, `Workshop ${w.slug} has spent ${percent}% of its cap_usd ($${w.openrouter.guardrail.cap_usd}).`, {
        ...customAlarmMetric("PooledSpendShareOfCap", { [DIMENSION.workshop]: w.slug }),
        statistic: "Maximum",
        period: 900,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: percent,
      }, organizers);
    spend(t.spendWarnPercent, "pooled-spend-80");
    spend(t.spendCriticalPercent, "pooled-spend-95");
    this.alarm(`${name}-${w.slug}-keys-unbound`, "keys-unbound", `Workshop ${w.slug}: ${t.unboundKeysPer15Min}+ keys went UNBOUND (not on the guardrail) in 15 minutes.`, {
      ...customAlarmMetric("KeysUnbound", { [DIMENSION.workshop]: w.slug }),
      statistic: "Sum",
      period: 900,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: t.unboundKeysPer15Min,
    }, organizers);
  }

  /**
   * The workshop's organizers, subscribed by email to its cap and unbound alarms, on stacks with SES
   * configured (`sesFromEmail`): the operator has set up mail for the organizers there. The mail goes
   * out as SNS email (each organizer confirms once), not through SES itself. Without SES, organizers
   * are not emailed: they see the same figures on the dashboard's health panel.
   */
  private organizerTopic(name: string, w: Workshop): pulumi.Input<string>[] {
    if (!this.args.organizerEmail || w.organizers.length === 0) return [];
    const topic = new aws.sns.Topic(`${name}-${w.slug}-organizers`, { name: `${this.args.namePrefix}${w.slug}-organizers`, tags: this.args.tags }, { parent: this });
    w.organizers.forEach(
      (email, i) => new aws.sns.TopicSubscription(`${name}-${w.slug}-organizers-${i}`, { topic: topic.arn, protocol: "email", endpoint: email }, { parent: this }),
    );
    this.organizerTopics.set(w.slug, topic);
    return [topic.arn];
  }

  private createDashboard(name: string): aws.cloudwatch.Dashboard {
    const body = pulumi
      .all([this.args.functions.api.name, this.args.functions.jobs.name, this.args.api.id, this.args.api.stage])
      .apply(([apiFn, jobsFn, apiId, stage]) => JSON.stringify(dashboardBody({ workshops: this.args.workshops, region: this.args.region, apiFn, jobsFn, apiId, stage })));
    return new aws.cloudwatch.Dashboard(`${name}-dashboard`, { dashboardName: `${this.args.namePrefix}dashboard`, dashboardBody: body }, { parent: this });
  }
}

function custom(metricName: MetricName, dimensions: Record<string, string>, period: number, stat: string) {
  return { namespace: METRICS_NAMESPACE, metricName, dimensions: { [DIMENSION.service]: METRICS_SERVICE, ...dimensions }, period, stat };
}

function customAlarmMetric(metricName: MetricName, dimensions: Record<string, string>) {
  return { namespace: METRICS_NAMESPACE, metricName, dimensions: { [DIMENSION.service]: METRICS_SERVICE, ...dimensions } };
}

/** One metric line of a dashboard widget: [namespace, name, dim, value, ..., {options}]. */
function line(namespace: string, metric: string, dims: Record<string, string>, options: Record<string, unknown> = {}): unknown[] {
  return [namespace, metric, ...Object.entries(dims).flat(), options];
}

const ours = (metric: MetricName, dims: Record<string, string> = {}, options: Record<string, unknown> = {}) =>
  line(METRICS_NAMESPACE, metric, { [DIMENSION.service]: METRICS_SERVICE, ...dims }, options);

export function dashboardBody(p: { workshops: Workshop[]; region: string; apiFn: string; jobsFn: string; apiId: string; stage: string }) {
  const widget = (title: string, metrics: unknown[][], extra: Record<string, unknown> = {}) => ({
    type: "metric",
    width: 12,
    height: 6,
    properties: { title, region: p.region, view: "timeSeries", stacked: false, period: 60, metrics, ...extra },
  });
  const api = { ApiId: p.apiId, Stage: p.stage };
  return {
    widgets: [
      widget("Claims per minute (keys minted)", p.workshops.map((w) => ours("ClaimsMinted", { [DIMENSION.workshop]: w.slug }, { stat: "Sum", label: w.slug }))),
      widget("Claims without a key, by reason", REFUSAL_REASONS.map((r) => ours("ClaimsRefused", { [DIMENSION.reason]: r }, { stat: "Sum", label: r }))),
      widget("Latency p50 / p99 (ms)", [
        ours("ClaimLatency", {}, { stat: "p50", label: "claim p50" }),
        ours("ClaimLatency", {}, { stat: "p99", label: "claim p99" }),
        line("AWS/ApiGateway", "Latency", api, { stat: "p50", label: "API p50" }),
        line("AWS/ApiGateway", "Latency", api, { stat: "p99", label: "API p99" }),
      ]),
      widget("Errors", [
        line("AWS/Lambda", "Errors", { FunctionName: p.apiFn }, { stat: "Sum", label: "API Lambda errors" }),
        line("AWS/Lambda", "Errors", { FunctionName: p.jobsFn }, { stat: "Sum", label: "jobs Lambda errors" }),
        line("AWS/ApiGateway", "5xx", api, { stat: "Sum", label: "API 5xx" }),
        ours("JobsFailed", { [DIMENSION.job]: "sync" }, { stat: "Sum", label: "sync runs failed" }),
      ]),
      widget("OpenRouter calls failed, by status class", ["5xx", "429", "network", "4xx", "bad_answer"].map((c) => ours("OpenRouterCallsFailed", { [DIMENSION.statusClass]: c }, { stat: "Sum", label: c }))),
      widget(
        "Spend against cap, per workshop (%)",
        p.workshops.map((w) => ours("PooledSpendShareOfCap", { [DIMENSION.workshop]: w.slug }, { stat: "Maximum", label: w.slug })),
        { period: 300, annotations: { horizontal: [{ value: MONITORING_THRESHOLDS.spendWarnPercent, label: "80%" }, { value: MONITORING_THRESHOLDS.spendCriticalPercent, label: "95%" }] }, yAxis: { left: { min: 0, max: 100 } } },
      ),
      widget("OpenRouter credit shortfall (USD)", [ours("CreditShortfallUsd", {}, { stat: "Maximum", label: "shortfall" })], { period: 300 }),
      widget("Job runs: run, failed, duration (ms, right)", [
        ...JOB_NAMES.map((j) => ours("JobsRun", { [DIMENSION.job]: j }, { stat: "Sum", label: `${j} runs` })),
        ...JOB_NAMES.map((j) => ours("JobsFailed", { [DIMENSION.job]: j }, { stat: "Sum", label: `${j} failed` })),
        ...JOB_NAMES.map((j) => ours("JobDuration", { [DIMENSION.job]: j }, { stat: "Maximum", label: `${j} duration`, yAxis: "right" })),
      ], { period: 300 }),
      widget("Keys unbound, usage synced", [
        ...p.workshops.map((w) => ours("KeysUnbound", { [DIMENSION.workshop]: w.slug }, { stat: "Sum", label: `${w.slug} unbound` })),
        ...p.workshops.map((w) => ours("UsageSynced", { [DIMENSION.workshop]: w.slug }, { stat: "Sum", label: `${w.slug} usage synced` })),
      ]),
    ],
  };
}
