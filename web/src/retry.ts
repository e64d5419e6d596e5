/**
 * When the API is busy, ask again later: the policy the attendee page follows for the calls of a
 * claim (the claim, the confirm step, the profile and key reads, the status poll), and the bench
 * and tests that prove a room of 1,000 gets through (local/bench/room.ts).
 *
 * "Busy" is API Gateway's stage throttle (429 `{"message":"Too Many Requests"}`, no error code of
 * ours) and any 503 (a Lambda at its concurrency limit, a cold gateway, OpenRouter not answering,
 * the local stack starting). Our own 429s (`too_many_attempts`, the person tried too often) are an
 * answer for the person and are never repeated. Repeating is safe: every call here is a read or is
 * idempotent per person (a repeated claim answers the same claim, never a second key).
 *
 * The waits are exponential with full jitter (each wait is random between 0 and base × 2^n, capped),
 * so a room that was refused together does not come back together; a Retry-After is a floor; the
 * whole retrying stops once the next wait would pass the time budget ("a key within a minute").
 */

export interface RetryPolicy {
  /** The first retry waits up to this long. */
  baseMs: number;
  /** No single wait drawn by the backoff is longer (a Retry-After may be). */
  capMs: number;
  /** No retry starts later than this after the first attempt. */
  budgetMs: number;
}

export const BUSY_RETRY: RetryPolicy = { baseMs: 1_000, capMs: 10_000, budgetMs: 60_000 };

/** Whether an answer means "the API is busy, ask again later" (see above). `ourCode`: the body's `error.code`, if any. */
export function isBusy(status: number, ourCode: string | undefined): boolean {
  return status === 503 || (status === 429 && ourCode === undefined);
}

/** A Retry-After header (seconds or an HTTP date) in milliseconds from `nowMs`; undefined without a usable one. */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its day and month in letters ("Sun, 10 Jan 2027 10:00:07 GMT").
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The wait before retry number `retry` (0 for the first): full jitter, at least `retryAfterMs`. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random, retryAfterMs = 0): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** retry);
  return Math.max(retryAfterMs, Math.floor(random() * ceiling));
}

/** What a busy answer carries; the page's ApiError has both. */
export interface BusyAnswer {
  busy: boolean;
  retryAfterMs?: number;
}

export interface RetryHooks {
  /** Called before each wait with its length; the page says the person is queued. */
  onWait?: (waitMs: number, retry: number) => void;
  /** Called once the call is tried again (the page clears the queued message). */
  onRetry?: (retry: number) => void;
  policy?: RetryPolicy;
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call`; while it fails with a busy answer, waits and runs it again, within the policy's
 * budget. Any other failure, and the busy answer that ends the budget, is thrown as it came.
 */
export async function retryWhileBusy<T>(call: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  const { policy = BUSY_RETRY, random = Math.random, now = Date.now, sleep = sleepFor } = hooks;
  const started = now();
  for (let retry = 0; ; retry++) {
    try {
      return await call();
    } catch (err) {
      const answer = err as Partial<BusyAnswer> | null;
      if (!answer?.busy) throw err;
      const wait = backoffMs(retry, policy, random, answer.retryAfterMs);
      if (now() + wait - started > policy.budgetMs) throw err;
      hooks.onWait?.(wait, retry);
      await sleep(wait);
      hooks.onRetry?.(retry + 1);
    }
  }
}

/** What the page says while a call waits to be tried again (and, at 0, while it is being tried). */
export function queuedMessage(secondsLeft: number): string {
  return `Lots of people are claiming right now — you're in the queue, trying again ${secondsLeft > 0 ? `in ${secondsLeft} s` : "now"}…`;
}
