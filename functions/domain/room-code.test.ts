import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { currentRoomCode, isRoomCodeValid, normalizeRoomCode, ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH, roomCodeAt, roomCodeStep } from "./room-code.js";

/** The room code rules, as pure functions of a secret, a workshop and the clock. */

const secret = randomBytes(32);
const policy = { rotate_minutes: 5, grace_minutes: 2 };
const MIN = 60_000;
// A step boundary: the code changes here.
const boundary = 1_900_000_000_000 - (1_900_000_000_000 % (5 * MIN));

describe("room codes", () => {
  it("are six characters of an alphabet without look-alikes", () => {
    expect(ROOM_CODE_ALPHABET).not.toMatch(/[01ILOU]/);
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom("a", "workshop-b", "pyconde-2026"), (step, slug) => {
        const code = roomCodeAt(secret, slug, policy, step);
        expect(code).toHaveLength(ROOM_CODE_LENGTH);
        for (const ch of code) expect(ROOM_CODE_ALPHABET).toContain(ch);
      }),
    );
  });

  it("differ by workshop, by time step and by deployment secret", () => {
    const step = roomCodeStep(policy, boundary);
    const code = roomCodeAt(secret, "w", policy, step);
    expect(roomCodeAt(secret, "w", policy, step)).toBe(code);
    const others = [roomCodeAt(secret, "w2", policy, step), roomCodeAt(secret, "w", policy, step + 1), roomCodeAt(randomBytes(32), "w", policy, step)];
    for (const other of others) expect(other).not.toBe(code);
  });

  it("accept the current code, the previous one only within its grace, and nothing else", () => {
    const now = boundary + 60_000; // one minute after a change; grace is two
    const step = roomCodeStep(policy, now);
    const current = roomCodeAt(secret, "w", policy, step);
    const previous = roomCodeAt(secret, "w", policy, step - 1);
    expect(currentRoomCode(secret, "w", policy, now)).toEqual({ code: current, validFrom: boundary, rotatesAt: boundary + 5 * MIN });
    expect(isRoomCodeValid(secret, "w", policy, current, now)).toBe(true);
    expect(isRoomCodeValid(secret, "w", policy, previous, now)).toBe(true);
    // Past the grace period the previous code is refused; the current one still works.
    expect(isRoomCodeValid(secret, "w", policy, previous, boundary + 2 * MIN)).toBe(false);
    expect(isRoomCodeValid(secret, "w", policy, current, boundary + 5 * MIN - 1)).toBe(true);
    // Older codes, the next code (not shown yet), another workshop's code and a made-up one.
    expect(isRoomCodeValid(secret, "w", policy, roomCodeAt(secret, "w", policy, step - 2), now)).toBe(false);
    expect(isRoomCodeValid(secret, "w", policy, roomCodeAt(secret, "w", policy, step + 1), now)).toBe(false);
    expect(isRoomCodeValid(secret, "w", policy, roomCodeAt(secret, "other", policy, step), now)).toBe(false);
    expect(isRoomCodeValid(secret, "w", policy, "ZZZZZZ", now)).toBe(current === "ZZZZZZ");
    expect(isRoomCodeValid(secret, "w", policy, "", now)).toBe(false);
    expect(isRoomCodeValid(secret, "w", policy, `${current}X`, now)).toBe(false);
  });

  it("without a grace period, a code stops at its change", () => {
    const strict = { rotate_minutes: 5, grace_minutes: 0 };
    const previous = roomCodeAt(secret, "w", strict, roomCodeStep(strict, boundary) - 1);
    expect(isRoomCodeValid(secret, "w", strict, previous, boundary - 1)).toBe(true);
    expect(isRoomCodeValid(secret, "w", strict, previous, boundary)).toBe(false);
  });

  it("compare without regard to case, spaces or dashes", () => {
    const code = currentRoomCode(secret, "w", policy, boundary).code;
    for (const typed of [code.toLowerCase(), `${code.slice(0, 3)} ${code.slice(3)}`, `${code.slice(0, 3)}-${code.slice(3).toLowerCase()}`, ` ${code}\n`]) {
      expect(normalizeRoomCode(typed)).toBe(code);
      expect(isRoomCodeValid(secret, "w", policy, typed, boundary)).toBe(true);
    }
  });
});
