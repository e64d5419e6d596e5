import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SYNC_EVERY_MINUTES, workshopTimetable, type JobInput, type JobName, type TickInput } from "../functions/domain/timetable.js";
import type { Workshop } from "../workshops/schema.js";

export interface JobSchedulesArgs {
  workshops: Workshop[];
  jobsFunction: aws.lambda.Function;
  /** The jobs function's role: it may send its own failed invocations to the dead-letter queue. */
  jobsRole: aws.iam.Role;
  /** The deploy's clock (ms). Schedules wholly in the past are not declared; see `plannedSchedules`. */
  now: number;
  /** The AWS account deployed into: only its schedules may use the scheduler's role. */
  accountId: string;
  /** The scheduler's role, group and dead-letter queue are named `<rolePrefix>…` (infra/iam). */
  rolePrefix: string;
  /** The permissions boundary the role must carry (infra/iam/role-boundary.json). */
  roleBoundaryArn: string;
  tags?: Record<string, string>;
}

/** One EventBridge schedule the program declares, in plain data (what the tests check). */
export interface PlannedSchedule {
  name: string;
  job: JobName | "tick";
  /** The workshop of a one-off job; none for the deployment-wide sync tick. */
  slug?: string;
  expression: string;
  startDate?: string;
  endDate?: string;
  retry: { maximumRetryAttempts: number; maximumEventAgeInSeconds: number };
}

/**
 * How far ahead of the deploy's clock a time must be to be declared as one. `now` is read when the
 * program starts; the schedule is created minutes later (site build, bundles, every resource
 * before it), and EventBridge Scheduler refuses a start date more than 5 minutes back. A time
 * inside this margin is treated as already past: never an `at()` that has gone by when AWS sees it.
 */
export const DEPLOY_MARGIN_MS = 10 * 60_000;

/**
 * The one-off jobs of a workshop's timetable that still matter at `now`: each one whose time is
 * comfortably ahead (see DEPLOY_MARGIN_MS). A deploy after a workshop drops its spent schedules
 * instead of asking AWS for schedules in the past.
 *
 * A one-off job dropped for being past or too close is not lost: `close` is a sync, and the sync
 * tick (which syncs the workshop until an hour after its expiry) expires and retires its keys
 * itself once the expiry has passed; `open` only prepares what the deploy and the first claim also
 * create (the guardrail, the ledger).
 */
export function plannedSchedules(w: Workshop, now: number): PlannedSchedule[] {
  const t = workshopTimetable(w);
  const ahead = (iso: string) => Date.parse(iso) > now + DEPLOY_MARGIN_MS;
  return t.oneOff.filter((job) => ahead(job.at)).map((job) => ({
    name: `${w.slug}-${job.job}`,
    job: job.job,
    slug: w.slug,
    // at() takes a local time without a zone; the schedule's time zone is UTC.
    expression: `at(${job.at.replace(/Z$/, "")})`,
    // A one-off job is worth running late (an expiry must happen), so it is retried for hours.
    retry: { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 6 * 3600 },
  }));
}

/** The deployment-wide sync tick's schedule name (a slug's schedules all end in -open, -close, -expire). */
export const SYNC_TICK_SCHEDULE = "sync-tick";

/**
 * The one recurring schedule of the deployment: the sync tick (functions/jobs/tick.ts) every
 * SYNC_EVERY_MINUTES, from the first workshop's sync window to the last one's end. The tick itself
 * finds the workshops whose window holds its time, so a tick between two workshops costs one read
 * of the workshop index. None when no workshop's sync window is still ahead.
 */
export function plannedSyncTick(workshops: readonly Workshop[], now: number): PlannedSchedule | undefined {
  const ahead = (iso: string) => Date.parse(iso) > now + DEPLOY_MARGIN_MS;
  const windows = workshops.map((w) => workshopTimetable(w).sync).filter((s) => ahead(s.until));
  if (windows.length === 0) return undefined;
  const from = windows.reduce((a, s) => (Date.parse(s.from) < Date.parse(a) ? s.from : a), windows[0]!.from);
  const until = windows.reduce((a, s) => (Date.parse(s.until) > Date.parse(a) ? s.until : a), windows[0]!.until);
  return {
    name: SYNC_TICK_SCHEDULE,
    job: "tick",
    expression: `rate(${SYNC_EVERY_MINUTES} minutes)`,
    // AWS refuses a start date more than 5 minutes back: a window already begun starts at once.
    startDate: ahead(from) ? from : undefined,
    endDate: until,
    // A missed tick is superseded by the next one a few minutes later.
    retry: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: SYNC_EVERY_MINUTES * 60 },
  };
}

/**
 * EventBridge Scheduler for the housekeeping jobs: one schedule group, a dead-letter queue for
 * invocations that exhausted their retries, a role that may invoke only the jobs function and
 * write only to that queue, per workshop its one-off jobs, and one sync tick for all of them.
 */
export class JobSchedules extends pulumi.ComponentResource {
  readonly group: aws.scheduler.ScheduleGroup;
  readonly deadLetters: aws.sqs.Queue;
  readonly role: aws.iam.Role;
  readonly schedules: aws.scheduler.Schedule[] = [];

  constructor(name: string, args: JobSchedulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:schedules:JobSchedules", name, {}, opts);
    // Named under the stack's prefix, like its roles: the deploy role manages no other group or queue.
    this.group = new aws.scheduler.ScheduleGroup(`${name}-group`, { namePrefix: `${args.rolePrefix}jobs-`, tags: args.tags }, { parent: this });
    this.deadLetters = new aws.sqs.Queue(
      `${name}-dead-letters`,
      { namePrefix: `${args.rolePrefix}dead-letters-`, sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600, tags: args.tags },
      { parent: this },
    );
    this.role = this.createInvokerRole(name, args);
    this.catchFailedRuns(name, args);
    for (const w of args.workshops) {
      for (const plan of plannedSchedules(w, args.now)) this.schedules.push(this.createSchedule(name, plan, args.jobsFunction));
    }
    const tick = plannedSyncTick(args.workshops, args.now);
    if (tick) this.schedules.push(this.createSchedule(name, tick, args.jobsFunction));
    this.registerOutputs({ group: this.group.name, deadLetterQueue: this.deadLetters.url });
  }

  private createInvokerRole(name: string, args: JobSchedulesArgs): aws.iam.Role {
    const role = new aws.iam.Role(
      `${name}-invoker`,
      {
        namePrefix: `${args.rolePrefix}scheduler-`,
        permissionsBoundary: args.roleBoundaryArn,
        description: "Lets EventBridge Scheduler invoke the Workshop Key Minter jobs function",
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "scheduler.amazonaws.com" },
              Action: "sts:AssumeRole",
              // Only schedules of this account may use the role (confused-deputy guard).
              Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
            },
          ],
        }),
        tags: args.tags,
      },
      // The deploy role may not rewrite a trust policy (iam:UpdateAssumeRolePolicy is denied, infra/iam):
      // a changed one means a new role.
      { parent: this, replaceOnChanges: ["assumeRolePolicy"] },
    );
    new aws.iam.RolePolicy(
      `${name}-invoker-access`,
      {
        role: role.id,
        policy: pulumi.all([args.jobsFunction.arn, this.deadLetters.arn]).apply(([fnArn, queueArn]) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              { Sid: "InvokeJobs", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [fnArn, `${fnArn}:*`] },
              { Sid: "DeadLetters", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [queueArn] },
            ],
          }),
        ),
      },
      { parent: this },
    );
    return role;
  }

  /**
   * The scheduler hands a job to Lambda asynchronously, so its retry policy and dead-letter queue
   * cover delivery only. A job that throws is retried by Lambda's own async retries; when those
   * are spent the event goes to the same dead-letter queue, so no failed run disappears silently.
   */
  private catchFailedRuns(name: string, args: JobSchedulesArgs): void {
    const mayReportFailures = new aws.iam.RolePolicy(
      `${name}-jobs-failures`,
      {
        role: args.jobsRole.id,
        policy: this.deadLetters.arn.apply((queueArn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Sid: "FailedRuns", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [queueArn] }],
          }),
        ),
      },
      { parent: this },
    );
    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-jobs-async`,
      {
        functionName: args.jobsFunction.name,
        maximumRetryAttempts: 2,
        maximumEventAgeInSeconds: 6 * 3600,
        destinationConfig: { onFailure: { destination: this.deadLetters.arn } },
      },
      // Lambda checks that the role may send to the destination when the config is created.
      { parent: this, dependsOn: [mayReportFailures] },
    );
  }

  private createSchedule(name: string, plan: PlannedSchedule, jobsFunction: aws.lambda.Function): aws.scheduler.Schedule {
    const input: JobInput | TickInput = plan.job === "tick" ? { job: "tick" } : { job: plan.job, slug: plan.slug! };
    return new aws.scheduler.Schedule(
      `${name}-${plan.name}`,
      {
        name: plan.name,
        groupName: this.group.name,
        description: plan.slug ? `${plan.job} job of workshop ${plan.slug}` : "sync tick: every workshop in its sync window",
        scheduleExpression: plan.expression,
        scheduleExpressionTimezone: "UTC",
        startDate: plan.startDate,
        endDate: plan.endDate,
        flexibleTimeWindow: { mode: "OFF" },
        state: "ENABLED",
        target: {
          arn: jobsFunction.arn,
          roleArn: this.role.arn,
          input: JSON.stringify(input),
          retryPolicy: plan.retry,
          deadLetterConfig: { arn: this.deadLetters.arn },
        },
      },
      { parent: this },
    );
  }
}
