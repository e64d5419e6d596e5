import type { Workshop } from "../../workshops/schema.js";
import { keyExpiresAt } from "../../workshops/derive.js";

/**
 * A workshop's timetable: the housekeeping jobs and when they run. Infrastructure turns it into
 * EventBridge Scheduler schedules; the local stack runs it on its own clock. Claims are checked
 * against the window at request time, so a late schedule never lets a claim through.
 */

export type JobName = "open" | "close" | "sync" | "expire";

export interface JobInput {
  job: JobName;
  slug: string;
}

export interface OneOffJob {
  job: "open" | "close" | "expire";
  /** UTC with seconds. */
  at: string;
}

export interface RecurringJob {
  job: "sync";
  everyMinutes: number;
  /** First run, UTC with seconds. */
  from: string;
  /** Last possible run, UTC with seconds. */
  until: string;
}

export interface Timetable {
  slug: string;
  oneOff: OneOffJob[];
  sync: RecurringJob;
}

export const SYNC_EVERY_MINUTES = 5;
/** Sync keeps running this long after expiry, to record the final usage of late requests. */
export const SYNC_AFTER_EXPIRE_MS = 60 * 60_000;

const utc = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function workshopTimetable(w: Workshop): Timetable {
  const expire = keyExpiresAt(w);
  return {
    slug: w.slug,
    oneOff: [
      { job: "open", at: utc(Date.parse(w.claims_open_at)) },
      { job: "close", at: utc(Date.parse(w.claims_close_at)) },
      { job: "expire", at: expire },
    ],
    sync: {
      job: "sync",
      everyMinutes: SYNC_EVERY_MINUTES,
      from: utc(Date.parse(w.claims_open_at)),
      until: utc(Date.parse(expire) + SYNC_AFTER_EXPIRE_MS),
    },
  };
}

/**
 * The jobs due in (after, upTo]: what a scheduler that last ticked at `after` must run now.
 * One-off jobs run once; sync runs at every multiple of its period from `from` that falls inside.
 */
export function jobsDue(t: Timetable, after: number, upTo: number): JobInput[] {
  const due: JobInput[] = [];
  for (const j of t.oneOff) {
    const at = Date.parse(j.at);
    if (at > after && at <= upTo) due.push({ job: j.job, slug: t.slug });
  }
  const from = Date.parse(t.sync.from);
  const until = Date.parse(t.sync.until);
  const period = t.sync.everyMinutes * 60_000;
  if (upTo >= from && after < until) {
    const lastTick = from + Math.floor((Math.min(upTo, until) - from) / period) * period;
    if (lastTick > after) due.push({ job: "sync", slug: t.slug });
  }
  return due;
}
