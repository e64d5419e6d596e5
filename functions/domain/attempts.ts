import type { Workshop } from "../../workshops/schema.js";
import { ConditionRefusedError } from "../data/errors.js";
import type { AttemptCounts, Store } from "../data/store.js";
import { TooManyAttemptsError } from "./errors.js";
import { roomCodeStep } from "./room-code.js";

/**
 * Attempt limits: what one person may try in one window before every claim of theirs is answered
 * 429 until the window ends. The window of a workshop with a room code is the code's rotation (a
 * new code is a new window, so "try again when the code changes" is exact); without one it is
 * `WINDOW_MINUTES_WITHOUT_CODE`. Counted in DynamoDB with conditional writes (`data/attempts.ts`),
 * so the limit holds across every Lambda container at once.
 *
 * A claim reads the person's counter with its other reads (one BatchGet, `data/claim-reads.ts`) and
 * is refused at a limit (`attemptRefusal`). It writes the counter only off the happy path: every
 * claim that does not end in creating a key (a refusal, a claim found, an error) counts itself with
 * the conditional write (`countClaim`), which refuses past the limit; a wrong room code counts as a
 * claim and a guess in one write (`countWrongRoomCode`). The claim that creates the key writes no
 * counter: it happens once per person and workshop. Racers that all read counts under the limit
 * are still bounded: every answer but that one key passes the conditional write, so one person gets
 * at most `claims` answers plus their key per window, whatever the number of containers.
 *
 * With 30^6 codes and two valid at a time, 10 wrong codes per 5-minute rotation gives one account a
 * chance of about 1 in 36 million per rotation; the claims bound keeps one account from spending the
 * room's share of the API's stage throttle on claims (each one reads and writes DynamoDB and may
 * call OpenRouter).
 */
export const ATTEMPT_LIMITS = { wrongRoomCodes: 10, claims: 30 } as const;
export type AttemptLimits = { wrongRoomCodes: number; claims: number };

export const WINDOW_MINUTES_WITHOUT_CODE = 5;

export interface AttemptWindow {
  /** Names the window in its counter's key: the room code's step, or the plain window's number. */
  id: string;
  /** When the window ends and a person's attempts count from zero again (epoch ms). */
  endsAt: number;
}

export function attemptWindow(w: Pick<Workshop, "claim_code">, nowMs: number): AttemptWindow {
  const minutes = w.claim_code ? w.claim_code.rotate_minutes : WINDOW_MINUTES_WITHOUT_CODE;
  const step = w.claim_code ? roomCodeStep(w.claim_code, nowMs) : Math.floor(nowMs / (minutes * 60_000));
  return { id: `${minutes}m${step}`, endsAt: (step + 1) * minutes * 60_000 };
}

type Counter = Pick<Store, "countAttempt">;

/**
 * 429 until the window ends when the counts read (`data/claim-reads.ts`) are at a limit: `limits.claims`
 * claims, or `limits.wrongRoomCodes` wrong guesses, in this window. Pure: the counts come from the read.
 */
export function attemptRefusal(w: Pick<Workshop, "slug">, counts: Pick<AttemptCounts, "claims" | "wrong_room_codes"> | undefined, window: AttemptWindow, nowMs: number, limits: AttemptLimits = ATTEMPT_LIMITS): TooManyAttemptsError | undefined {
  if ((counts?.wrong_room_codes ?? 0) >= limits.wrongRoomCodes) return new TooManyAttemptsError(w.slug, "room_code", window.endsAt, nowMs);
  if ((counts?.claims ?? 0) >= limits.claims) return new TooManyAttemptsError(w.slug, "claim", window.endsAt, nowMs);
  return undefined;
}

/**
 * Counts a claim by `userId` that did not create a key against this window's limits;
 * TooManyAttemptsError (429 until the window ends) once they made `limits.claims` claims, or
 * `limits.wrongRoomCodes` wrong guesses, in it.
 */
export async function countClaim(store: Counter, w: Pick<Workshop, "slug" | "claim_code">, userId: string, nowMs: number, limits: AttemptLimits = ATTEMPT_LIMITS): Promise<void> {
  const window = attemptWindow(w, nowMs);
  try {
    await store.countAttempt(w.slug, userId, window, ["claims"], { claims: limits.claims, wrong_room_codes: limits.wrongRoomCodes });
  } catch (err) {
    if (!(err instanceof ConditionRefusedError)) throw err;
    const counts = err.existing as AttemptCounts | undefined;
    const guessing = (counts?.wrong_room_codes ?? 0) >= limits.wrongRoomCodes;
    throw new TooManyAttemptsError(w.slug, guessing ? "room_code" : "claim", window.endsAt, nowMs);
  }
}

/**
 * Counts a wrong room code, and the claim that carried it, in one write. The guess that reaches the
 * limit is still answered as wrong; one that would pass it (racing requests that all read counts
 * under it) is answered 429 instead.
 */
export async function countWrongRoomCode(store: Counter, w: Pick<Workshop, "slug" | "claim_code">, userId: string, nowMs: number, limits: AttemptLimits = ATTEMPT_LIMITS): Promise<void> {
  const window = attemptWindow(w, nowMs);
  try {
    await store.countAttempt(w.slug, userId, window, ["claims", "wrong_room_codes"], { wrong_room_codes: limits.wrongRoomCodes });
  } catch (err) {
    if (!(err instanceof ConditionRefusedError)) throw err;
    throw new TooManyAttemptsError(w.slug, "room_code", window.endsAt, nowMs);
  }
}
