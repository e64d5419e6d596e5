import { RateLimitedError, isRetryable } from "./errors.js";

/**
 * Bounded retry for calls to OpenRouter. Three limits hold at once: a number of attempts, a timeout per
 * attempt, and a total time budget across attempts and waits. A claim is waiting on the other end, so
 * giving up inside the budget beats a perfect retry that answers after the attendee has left.
 *
 * Waits use full jitter (a random delay up to an exponential ceiling) so a room of claims that failed
 * together does not retry together. A 429's Retry-After is honoured exactly; when it reaches past the
 * budget we give up at once, and the RateLimitedError carries `retryAfterMs` for the caller.
 */
export interface RetryPolicy {
  maxAttempts: number;
  /** Per attempt; an attempt never gets more than what is left of the budget. */
  timeoutMs: number;
  totalBudgetMs: number;
  /** Ceiling of the first wait; doubles per attempt up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Below this, an attempt could not even complete a loopback round trip: don't start one. */
const MIN_ATTEMPT_MS = 25;

export async function retryBounded<T>(attempt: (timeoutMs: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const now = policy.now ?? Date.now;
  const random = policy.random ?? Math.random;
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + policy.totalBudgetMs;

  for (let n = 1; ; n++) {
    const remaining = deadline - now();
    try {
      return await attempt(Math.max(MIN_ATTEMPT_MS, Math.min(policy.timeoutMs, remaining)));
    } catch (err) {
      if (!isRetryable(err) || n >= policy.maxAttempts) throw err;
      const wait =
        err instanceof RateLimitedError && err.retryAfterMs !== undefined
          ? err.retryAfterMs
          : fullJitterDelay(n, policy, random);
      if (now() + wait + MIN_ATTEMPT_MS > deadline) throw err;
      await sleep(wait);
    }
  }
}

export function fullJitterDelay(attemptNumber: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attemptNumber - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After is either delta-seconds or an HTTP date; answers milliseconds from now, or undefined. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
