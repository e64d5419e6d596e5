import type { JobInput, JobName, TickInput } from "../domain/timetable.js";
import { WorkshopNotFoundError } from "../domain/errors.js";
import { JobError } from "./errors.js";
import { JobRun, type JobDeps, type JobSummary, type RunLimits } from "./job-run.js";
import { reportAccountCredits } from "./credits.js";
import { expireWorkshop } from "./expire.js";
import { openWorkshop } from "./open.js";
import { syncOrFinish, syncWorkshop } from "./sync.js";

import { runTick, type TickSummary } from "./tick.js";

export { JobError, JobIncompleteError } from "./errors.js";
export type { JobDeps, JobSummary, RunLimits } from "./job-run.js";
export { runTick, type TickSummary } from "./tick.js";

/**
 * The scheduled jobs of one workshop: open, close, sync and expire (`runJob`), and the
 * deployment-wide sync tick (`runTick`, tick.ts) that syncs every workshop in its sync window. The
 * jobs Lambda and the local scheduler both call them.
 *
 * Every job is idempotent and safe to overlap with itself: each write is conditional on the state
 * the job read (see data/housekeeping.ts), upstream deletes and disables answer the same the
 * second time, and a bulk guardrail assignment may be repeated. A job does not stop at the first
 * failed key: it finishes what it can, reports the rest in its summary, and the next sync repairs.
 */

const JOBS: readonly JobName[] = ["open", "close", "sync", "expire"];

export function isJobInput(input: unknown): input is JobInput {
  const i = input as Partial<JobInput> | null;
  return (
    typeof i === "object" && i !== null && typeof i.slug === "string" && i.slug.length > 0 && JOBS.includes(i.job as JobName)
  );
}

export function isTickInput(input: unknown): input is TickInput {
  return typeof input === "object" && input !== null && (input as Partial<TickInput>).job === "tick";
}

export function createJobRunner(deps: JobDeps): (input: JobInput, limits?: RunLimits) => Promise<JobSummary> {
  return (input, limits) => runJob(input, deps, limits);
}

export function createTickRunner(deps: JobDeps): (limits?: RunLimits) => Promise<TickSummary> {
  return (limits) => runTick(deps, limits);
}

export async function runJob(input: JobInput, deps: JobDeps, limits: RunLimits = {}): Promise<JobSummary> {
  if (!isJobInput(input)) {
    throw new JobError(`not a job input: expected {job: ${JOBS.join("|")}, slug}`, { job: String((input as { job?: unknown })?.job), slug: String((input as { slug?: unknown })?.slug) });
  }
  const started = performance.now();
  const record = await deps.store.getWorkshop(input.slug);
  if (!record) throw new WorkshopNotFoundError(input.slug);
  const run = new JobRun(input, record, deps, limits);
  try {
    switch (input.job) {
      case "open":
        await openWorkshop(run);
        await reportAccountCredits(run, { record: run.record });
        break;
      case "close":
        await syncWorkshop(run);
        await reportAccountCredits(run, { record: run.record });
        break;
      case "sync":
        if ((await syncOrFinish(run)) === "synced") await reportAccountCredits(run, { record: run.record });
        break;
      case "expire":
        await expireWorkshop(run);
        break;
    }
  } catch (err) {
    // A step that everything after it depends on (reading the keys, the claims) failed.
    run.fail(input.job, err);
  }
  return run.finish(started);
}
