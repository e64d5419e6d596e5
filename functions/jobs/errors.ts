import type { JobName } from "../domain/timetable.js";
import type { JobSummary } from "./job-run.js";

export class JobError extends Error {
  readonly job: JobName | string;
  readonly slug: string;

  constructor(message: string, context: { job: string; slug: string; cause?: unknown }) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = "JobError";
    this.job = context.job;
    this.slug = context.slug;
  }
}

/** A one-off job finished with failures; thrown by the handler so the scheduler retries it. */
export class JobIncompleteError extends JobError {
  readonly summary: JobSummary;

  constructor(summary: JobSummary) {
    super(`${summary.job} for ${summary.slug} finished with ${summary.errors.length} error(s): ${summary.errors.slice(0, 3).join("; ")}`, summary);
    this.name = "JobIncompleteError";
    this.summary = summary;
  }
}
