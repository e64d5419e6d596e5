import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { workshopTimetable } from "../functions/domain/timetable.js";
import { loadWorkshops } from "../workshops/load.js";
import { DEPLOY_MARGIN_MS, plannedSchedules, plannedSyncTick } from "./schedules.js";

// The origin post's workshop: claims 2026-04-13T16:00Z..2026-04-14T13:00Z, keys expire 13:15Z,
// sync runs until 14:15Z.
const pycon = loadWorkshops().find((w) => w.slug === "pyconde-2026-darmstadt-sql-agents")!;
const at = (iso: string) => Date.parse(iso);
/** What a deploy of the origin post's workshop alone declares: its one-off jobs and the sync tick. */
const planned = (now: number) => [...plannedSchedules(pycon, now), ...[plannedSyncTick([pycon], now)].filter((p) => p !== undefined)];
const jobs = (now: number) => planned(now).map((p) => p.job);

describe("plannedSchedules", () => {
  it("plans the three one-off jobs before the workshop, and the sync tick over its sync window", () => {
    const all = planned(at("2026-04-01T00:00:00Z"));
    expect(all.map((p) => [p.name, p.expression])).toEqual([
      ["pyconde-2026-darmstadt-sql-agents-open", "at(2026-04-13T16:00:00)"],
      ["pyconde-2026-darmstadt-sql-agents-close", "at(2026-04-14T13:00:00)"],
      ["pyconde-2026-darmstadt-sql-agents-expire", "at(2026-04-14T13:15:00)"],
      ["sync-tick", "rate(5 minutes)"],
    ]);
    expect(all[3]!.slug).toBeUndefined();
    expect(all[3]).toMatchObject({ job: "tick", startDate: "2026-04-13T16:00:00Z", endDate: "2026-04-14T14:15:00Z" });
    for (const p of all) expect(p.name.length).toBeLessThanOrEqual(64);
  });

  it("drops one-off jobs already run and the tick's past start date during the workshop", () => {
    const all = planned(at("2026-04-14T12:00:00Z"));
    expect(all.map((p) => p.job)).toEqual(["close", "expire", "tick"]);
    // AWS refuses a start date more than 5 minutes back; the tick simply runs from now on.
    expect(all[2].startDate).toBeUndefined();
    expect(all[2].endDate).toBe("2026-04-14T14:15:00Z");
  });

  it("keeps only the tick between expiry and the end of the sync window, and nothing after", () => {
    expect(jobs(at("2026-04-14T13:30:00Z"))).toEqual(["tick"]);
    expect(jobs(at("2026-04-14T14:15:00Z"))).toEqual([]);
    expect(jobs(at("2026-11-27T00:00:00Z"))).toEqual([]);
  });

  it("keeps a start date only while it is more than 10 minutes ahead", () => {
    expect(plannedSyncTick([pycon], at("2026-04-13T15:49:00Z"))?.startDate).toBe("2026-04-13T16:00:00Z");
    expect(plannedSyncTick([pycon], at("2026-04-13T15:51:00Z"))?.startDate).toBeUndefined();
  });

  it("treats a job due within 10 minutes of the deploy as past, and keeps the tick that covers it", () => {
    // Expiry at 13:15Z; a deploy at 13:08Z would otherwise ask for at(13:15) minutes before it passes.
    const all = planned(at("2026-04-14T13:08:00Z"));
    expect(all.map((p) => p.job)).toEqual(["tick"]);
    // The tick syncs the workshop past its expiry and expires and retires the keys itself (functions/jobs/sync.ts).
    expect(Date.parse(all[0].endDate!)).toBeGreaterThan(at("2026-04-14T13:15:00Z"));
    // Ten minutes and one second ahead is still declared as itself.
    expect(jobs(at("2026-04-14T13:04:59Z"))).toEqual(["expire", "tick"]);
  });

  it("plans one tick for all workshops, from the first sync window's start to the last one's end", () => {
    const later = { ...pycon, slug: "later", claims_open_at: "2026-05-01T08:00:00Z", claims_close_at: "2026-05-01T12:00:00Z", starts_at: "2026-05-01T09:00:00Z", ends_at: "2026-05-01T12:00:00Z" };
    const tick = plannedSyncTick([later, pycon], at("2026-04-01T00:00:00Z"));
    expect(tick).toMatchObject({ name: "sync-tick", startDate: "2026-04-13T16:00:00Z", endDate: workshopTimetable(later).sync.until });
    // Once the first workshop is over, the tick runs on for the other one.
    expect(plannedSyncTick([later, pycon], at("2026-04-20T00:00:00Z"))).toMatchObject({ startDate: "2026-05-01T08:00:00Z" });
    expect(plannedSyncTick([later, pycon], at("2026-06-01T00:00:00Z"))).toBeUndefined();
  });

  it("never declares a time that is less than 10 minutes ahead of the deploy's clock", () => {
    const t = workshopTimetable(pycon);
    const first = at(t.oneOff[0].at) - 3 * 3600_000;
    const last = at(t.sync.until) + 3600_000;
    fc.assert(
      fc.property(fc.integer({ min: first, max: last }), (now) => {
        for (const p of planned(now)) {
          const times = [p.startDate, p.endDate, /^at\((.*)\)$/.exec(p.expression)?.[1]?.concat("Z")].filter((x): x is string => Boolean(x));
          for (const time of times) expect(at(time), `${p.name} at ${new Date(now).toISOString()}`).toBeGreaterThan(now + DEPLOY_MARGIN_MS);
        }
      }),
    );
  });
});
