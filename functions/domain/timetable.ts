import type { Workshop } from "../../workshops/schema.js";
import { keyExpiresAt } from "../../workshops/derive.js";

/**
 * A workshop's timetable: the housekeeping jobs and when they run. Infrastructure turns it into
 * EventBridge Scheduler schedules; the local stack runs it on its own clock. Claims are checked
 * against the window at request time, so a late schedule never lets a claim through.
 *
 * The one-off jobs (open, close, expire) are the workshop's own schedules. Its recurring sync is
 * not: one deployment-wide tick every SYNC_EVERY_MINUTES syncs every workshop whose sync window
 * (`sync.from`..`sync.until`) holds the tick's time, from one listing of the account's keys
 * (functions/jobs/tick.ts).
 */

export type JobName = "open" | "close" | "sync" | "expire";

export interface JobInput {
  job: JobName;
  slug: string;
}

/** The deployment-wide sync tick (functions/jobs/tick.ts): no slug, it finds the workshops due itself. */
export interface TickInput {
  job: "tick";
}

export interface OneOffJob {
  job: "open" | "close" | "expire";
  /** UTC with seconds. */
  at: string;
}

export interface RecurringJob {
  job: "sync";
  everyMinutes: number;
  /** The first tick at or after it syncs the workshop; UTC with seconds. */
  from: string;
  /** The last tick at or before it does; UTC with seconds. */
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

/** Whether a sync tick at `nowMs` syncs this workshop. */
export function inSyncWindow(t: Timetable, nowMs: number): boolean {
  return nowMs >= Date.parse(t.sync.from) && nowMs <= Date.parse(t.sync.until);
}

/** The one-off jobs due in (after, upTo]: what a scheduler that last ran at `after` must run now. */
export function jobsDue(t: Timetable, after: number, upTo: number): JobInput[] {
  return t.oneOff.filter((j) => Date.parse(j.at) > after && Date.parse(j.at) <= upTo).map((j) => ({ job: j.job, slug: t.slug }));
}

/**
 * Whether a sync tick is due in (after, upTo]: a multiple of SYNC_EVERY_MINUTES (from the epoch)
 * falls inside and some workshop's sync window holds it.
 */
export function tickDue(timetables: readonly Timetable[], after: number, upTo: number): boolean {
  const period = SYNC_EVERY_MINUTES * 60_000;
  for (let tick = Math.floor(upTo / period) * period; tick > after; tick -= period) {
    if (timetables.some((t) => inSyncWindow(t, tick))) return true;
  }
  return false;
}
