import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { workshopTimetable } from "../functions/domain/timetable.js";
import { loadWorkshops } from "../workshops/load.js";
import { DEPLOY_MARGIN_MS, plannedSchedules } from "./schedules.js";

// The origin post's workshop: claims 2026-04-13T16:00Z..2026-04-14T13:00Z, keys expire 13:15Z,
// sync runs until 14:15Z.
const pycon = loadWorkshops().find((w) => w.slug === "pyconde-2026-darmstadt-sql-agents")!;
const at = (iso: string) => Date.parse(iso);
const jobs = (now: number) => plannedSchedules(pycon, now).map((p) => p.job);

describe("plannedSchedules", () => {
  it("plans all four schedules before the workshop, with the sync window's start and end", () => {
    const planned = plannedSchedules(pycon, at("2026-04-01T00:00:00Z"));
    expect(planned.map((p) => [p.name, p.expression])).toEqual([
      ["pyconde-2026-darmstadt-sql-agents-open", "at(2026-04-13T16:00:00)"],
      ["pyconde-2026-darmstadt-sql-agents-close", "at(2026-04-14T13:00:00)"],
      ["pyconde-2026-darmstadt-sql-agents-expire", "at(2026-04-14T13:15:00)"],
      ["pyconde-2026-darmstadt-sql-agents-sync", "rate(5 minutes)"],
    ]);
    expect(planned[3]).toMatchObject({ startDate: "2026-04-13T16:00:00Z", endDate: "2026-04-14T14:15:00Z" });
    for (const p of planned) expect(p.name.length).toBeLessThanOrEqual(64);
  });

  it("drops one-off jobs already run and the sync's past start date during the workshop", () => {
    const planned = plannedSchedules(pycon, at("2026-04-14T12:00:00Z"));
    expect(planned.map((p) => p.job)).toEqual(["close", "expire", "sync"]);
    // AWS refuses a start date more than 5 minutes back; the sync simply runs from now on.
    expect(planned[2].startDate).toBeUndefined();
    expect(planned[2].endDate).toBe("2026-04-14T14:15:00Z");
  });

  it("keeps only the sync between expiry and the last sync, and nothing after", () => {
    expect(jobs(at("2026-04-14T13:30:00Z"))).toEqual(["sync"]);
    expect(jobs(at("2026-04-14T14:15:00Z"))).toEqual([]);
    expect(jobs(at("2026-11-27T00:00:00Z"))).toEqual([]);
  });

  it("keeps a start date only while it is more than 10 minutes ahead", () => {
    expect(plannedSchedules(pycon, at("2026-04-13T15:49:00Z")).find((p) => p.job === "sync")?.startDate).toBe("2026-04-13T16:00:00Z");
    expect(plannedSchedules(pycon, at("2026-04-13T15:51:00Z")).find((p) => p.job === "sync")?.startDate).toBeUndefined();
  });

  it("treats a job due within 10 minutes of the deploy as past, and keeps the sync that covers it", () => {
    // Expiry at 13:15Z; a deploy at 13:08Z would otherwise ask for at(13:15) minutes before it passes.
    const planned = plannedSchedules(pycon, at("2026-04-14T13:08:00Z"));
    expect(planned.map((p) => p.job)).toEqual(["sync"]);
    // The sync runs on past the expiry and retires the keys itself (functions/jobs/run.ts).
    expect(Date.parse(planned[0].endDate!)).toBeGreaterThan(at("2026-04-14T13:15:00Z"));
    // Ten minutes and one second ahead is still declared as itself.
    expect(jobs(at("2026-04-14T13:04:59Z"))).toEqual(["expire", "sync"]);
  });

  it("never declares a time that is less than 10 minutes ahead of the deploy's clock", () => {
    const t = workshopTimetable(pycon);
    const first = at(t.oneOff[0].at) - 3 * 3600_000;
    const last = at(t.sync.until) + 3600_000;
    fc.assert(
      fc.property(fc.integer({ min: first, max: last }), (now) => {
        for (const p of plannedSchedules(pycon, now)) {
          const times = [p.startDate, p.endDate, /^at\((.*)\)$/.exec(p.expression)?.[1]?.concat("Z")].filter((x): x is string => Boolean(x));
          for (const time of times) expect(at(time), `${p.name} at ${new Date(now).toISOString()}`).toBeGreaterThan(now + DEPLOY_MARGIN_MS);
        }
      }),
    );
  });
});
