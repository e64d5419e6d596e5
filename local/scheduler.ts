import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { jobsDue, tickDue, workshopTimetable, type JobInput, type TickInput } from "../functions/domain/timetable.js";
import type { Workshop } from "../workshops/schema.js";
import type { StackClock } from "./clock.js";

/**
 * The local stand-in for EventBridge Scheduler: every few seconds it asks each workshop's
 * timetable which one-off jobs (open, close, expire) fell due since the last tick on the stack's
 * clock, and whether a deployment-wide sync tick did (every 5 minutes of the stack's clock while
 * some workshop is in its sync window), and runs them one at a time through the same runners the
 * jobs Lambda uses: the one-offs first, then at most one sync tick. The last tick is kept in the
 * data folder, so a restart does not run a one-off job a second time; jobs that fell due while the
 * stack was stopped run once at the first tick.
 */

export interface SchedulerOptions {
  workshops: () => Workshop[];
  clock: StackClock;
  runJob: (input: JobInput) => Promise<unknown>;
  /** The deployment-wide sync tick (functions/jobs/tick.ts). */
  runTick: () => Promise<unknown>;
  /** Where the last tick is remembered. */
  stateFile: string;
  /** Real milliseconds between ticks. */
  intervalMs?: number;
  log?: (line: string) => void;
}

export interface JobRun {
  input: JobInput | TickInput;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface LocalScheduler {
  /** Runs whatever is due now (also what the interval calls); resolves with what ran. */
  tick(): Promise<JobRun[]>;
  /** The stack-clock time up to which jobs have been run. */
  lastTickMs(): number;
  /** The last 100 job runs, oldest first. */
  recentRuns(): JobRun[];
  stop(): Promise<void>;
}

interface SchedulerState {
  last_tick_ms: number;
}

function readState(file: string): SchedulerState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, "utf8")) as SchedulerState;
    return Number.isFinite(state.last_tick_ms) ? state : undefined;
  } catch {
    return undefined;
  }
}

function writeState(file: string, state: SchedulerState): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  renameSync(tmp, file);
}

export function startScheduler(opts: SchedulerOptions): LocalScheduler {
  const log = opts.log ?? ((line: string) => console.log(line));
  const now = () => opts.clock.now();
  const kept = readState(opts.stateFile);
  // First start: nothing in the past is due (there is nothing to open, close or expire yet).
  let lastTick = kept?.last_tick_ms ?? now();
  if (lastTick > now()) {
    // The clock was moved back (`--at` earlier than the last run): a rehearsal. Jobs run again as
    // the clock passes them; every job is idempotent, so a repeat is harmless.
    log(`scheduler: the clock is before the last run (${new Date(lastTick).toISOString()}); jobs run again as the clock reaches them`);
    lastTick = now();
  }
  writeState(opts.stateFile, { last_tick_ms: lastTick });

  let running: Promise<JobRun[]> | undefined;
  const history: JobRun[] = [];
  let stopped = false;

  async function runDue(): Promise<JobRun[]> {
    const upTo = now();
    const timetables = opts.workshops().map(workshopTimetable);
    const due: (JobInput | TickInput)[] = timetables.flatMap((t) => jobsDue(t, lastTick, upTo));
    if (tickDue(timetables, lastTick, upTo)) due.push({ job: "tick" });
    const runs: JobRun[] = [];
    for (const input of due) {
      if (stopped) break;
      const what = input.job === "tick" ? "the sync tick" : `${input.job} for ${input.slug}`;
      const started = performance.now();
      try {
        await (input.job === "tick" ? opts.runTick() : opts.runJob(input));
        const ms = Math.round(performance.now() - started);
        runs.push({ input, ok: true, ms });
        log(`scheduler: ran ${what} (${ms} ms)`);
      } catch (err) {
        const ms = Math.round(performance.now() - started);
        const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        runs.push({ input, ok: false, ms, error });
        // A failed one-off is not retried by the scheduler; the next tick repairs what it can.
        log(`scheduler: ${what} failed after ${ms} ms: ${error}`);
      }
    }
    history.push(...runs);
    history.splice(0, Math.max(0, history.length - 100));
    if (!stopped) {
      lastTick = upTo;
      writeState(opts.stateFile, { last_tick_ms: lastTick });
    }
    return runs;
  }

  function tick(): Promise<JobRun[]> {
    // Ticks never overlap: a slow job delays the next tick instead of running beside it.
    running ??= runDue().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    void tick();
  }, opts.intervalMs ?? 3_000);
  timer.unref();

  return {
    tick,
    lastTickMs: () => lastTick,
    recentRuns: () => [...history],
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
