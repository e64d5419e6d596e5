/**
 * The stack's clock. Organizers rehearse a workshop by starting the stack at another moment
 * (`--at`) and, optionally, running time faster (`--speed`); the API, the claim engine and the
 * scheduler all read this clock, so opening, closing and expiry happen as they would on the day.
 * (Tokens from the local OpenID provider keep real time: their lifetime is about the browser.)
 */

export class ClockOptionError extends Error {
  override name = "ClockOptionError";
}

export interface StackClock {
  /** Epoch ms on the stack's timeline. */
  now(): number;
  /** True when the stack does not run on wall-clock time. */
  readonly shifted: boolean;
  readonly speed: number;
}

export function createStackClock(opts: { at?: string; speed?: number; realNow?: () => number } = {}): StackClock {
  const realNow = opts.realNow ?? Date.now;
  const speed = opts.speed ?? 1;
  if (!Number.isFinite(speed) || speed <= 0) {
    throw new ClockOptionError(`--speed must be a number above 0 (got ${opts.speed}); 60 runs an hour a minute`);
  }
  let startMs = realNow();
  if (opts.at !== undefined) {
    startMs = Date.parse(opts.at);
    if (Number.isNaN(startMs) || !/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(opts.at)) {
      throw new ClockOptionError(`--at must be an ISO 8601 time like 2026-04-14T11:30:00+02:00 (got ${opts.at})`);
    }
  }
  const realStart = realNow();
  return {
    now: () => Math.floor(startMs + (realNow() - realStart) * speed),
    shifted: opts.at !== undefined || speed !== 1,
    speed,
  };
}
