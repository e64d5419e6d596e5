import { describe, expect, it } from "vitest";
import { loadWorkshops } from "../workshops/load.js";
import { plannedSchedules } from "./schedules.js";

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

  it("keeps a start date only while it is comfortably ahead", () => {
    expect(plannedSchedules(pycon, at("2026-04-13T15:54:00Z")).find((p) => p.job === "sync")?.startDate).toBe("2026-04-13T16:00:00Z");
    expect(plannedSchedules(pycon, at("2026-04-13T15:56:00Z")).find((p) => p.job === "sync")?.startDate).toBeUndefined();
  });
});
