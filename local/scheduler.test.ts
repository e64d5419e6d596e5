import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { JobInput, TickInput } from "../functions/domain/timetable.js";
import { parseWorkshop } from "../workshops/load.js";
import type { StackClock } from "./clock.js";
import { startScheduler } from "./scheduler.js";

/**
 * The scheduler's bookkeeping: what runs when, and that a restart does not run a one-off twice.
 * The job runner is replaced by a recorder here because the subject is the timing, not the jobs
 * (the stack test runs the real runner on the rehearsal clock).
 */

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const { workshop } = parseWorkshop(
  "sched.yaml",
  `slug: sched
name: Scheduling
event: Test
location: Here
starts_at: 2026-05-01T10:00:00Z
ends_at: 2026-05-01T12:00:00Z
claims_open_at: 2026-05-01T09:00:00Z
claims_close_at: 2026-05-01T12:00:00Z
is_active: true
openrouter:
  budget_usd: 1
  key_label_prefix: sched
  expires_buffer_minutes: 30
  models: [{ id: openai/gpt-5-nano, label: nano }]
  guardrail: { cap_usd: 10, reset_interval: monthly, max_keys: 10 }
`,
);

function manualClock(startIso: string): StackClock & { set(iso: string): void } {
  let now = Date.parse(startIso);
  return { now: () => now, shifted: true, speed: 1, set: (iso) => (now = Date.parse(iso)) };
}

function setup(clock: StackClock, stateFile: string) {
  const ran: (JobInput | TickInput)[] = [];
  const scheduler = startScheduler({
    workshops: () => [workshop!],
    clock,
    runJob: async (input) => {
      ran.push(input);
    },
    runTick: async () => {
      ran.push({ job: "tick" });
    },
    stateFile,
    intervalMs: 60_000,
    log: () => {},
  });
  return { ran, scheduler };
}

describe("the local scheduler", () => {
  it("runs each due job once, remembers the last tick across restarts, and catches up on what fell due while stopped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wkm-sched-"));
    dirs.push(dir);
    const stateFile = join(dir, "scheduler.json");
    const clock = manualClock("2026-05-01T08:59:00Z");

    const first = setup(clock, stateFile);
    expect(await first.scheduler.tick()).toEqual([]);
    clock.set("2026-05-01T09:00:30Z");
    await first.scheduler.tick();
    // Claims open at 09:00, a multiple of 5 minutes: the open job, then the sync tick.
    expect(first.ran).toEqual([{ job: "open", slug: "sched" }, { job: "tick" }]);
    await first.scheduler.tick();
    expect(first.ran).toHaveLength(2);
    await first.scheduler.stop();

    // Restarted a little later: the open job is not run again.
    clock.set("2026-05-01T09:01:00Z");
    const second = setup(clock, stateFile);
    await second.scheduler.tick();
    expect(second.ran).toEqual([]);

    // Between two multiples of 5 minutes: nothing. At the next one, one tick.
    clock.set("2026-05-01T09:04:59Z");
    await second.scheduler.tick();
    expect(second.ran).toEqual([]);
    clock.set("2026-05-01T09:05:00Z");
    await second.scheduler.tick();
    expect(second.ran).toEqual([{ job: "tick" }]);
    await second.scheduler.stop();

    // Stopped across closing and expiry: each runs once at the next start, and one tick.
    clock.set("2026-05-01T12:45:00Z");
    const third = setup(clock, stateFile);
    await third.scheduler.tick();
    expect(third.ran.map((j) => j.job).sort()).toEqual(["close", "expire", "tick"]);
    await third.scheduler.stop();

    // The ticks up to the end of the sync window (expiry 12:30 + 1 h) missed while stopped: one; after it, none.
    clock.set("2026-05-01T13:40:00Z");
    const fourth = setup(clock, stateFile);
    await fourth.scheduler.tick();
    expect(fourth.ran).toEqual([{ job: "tick" }]);
    clock.set("2026-05-01T13:50:00Z");
    await fourth.scheduler.tick();
    expect(fourth.ran).toEqual([{ job: "tick" }]);
    await fourth.scheduler.stop();
  });

  it("runs jobs again when the clock is moved back for another rehearsal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wkm-sched-"));
    dirs.push(dir);
    const stateFile = join(dir, "scheduler.json");
    const late = manualClock("2026-05-01T13:00:00Z");
    const first = setup(late, stateFile);
    await first.scheduler.tick();
    await first.scheduler.stop();

    const early = manualClock("2026-05-01T08:59:59Z");
    const second = setup(early, stateFile);
    early.set("2026-05-01T09:00:01Z");
    await second.scheduler.tick();
    expect(second.ran.map((j) => j.job)).toContain("open");
    await second.scheduler.stop();
  });

  it("keeps going when a job fails, and says which", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wkm-sched-"));
    dirs.push(dir);
    const clock = manualClock("2026-05-01T08:59:00Z");
    const lines: string[] = [];
    const scheduler = startScheduler({
      workshops: () => [workshop!],
      clock,
      runJob: async (input) => {
        if (input.job === "open") throw new Error("upstream said no");
      },
      runTick: async () => {},
      stateFile: join(dir, "s.json"),
      intervalMs: 60_000,
      log: (l) => lines.push(l),
    });
    clock.set("2026-05-01T09:00:00Z");
    const runs = await scheduler.tick();
    expect(runs.map((r) => [r.input.job, r.ok])).toEqual([["open", false], ["tick", true]]);
    expect(lines.join("\n")).toMatch(/open for sched failed .*upstream said no/);
    await scheduler.stop();
  });
});
