import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeRoom, ROOM_SLUG, runRoom, startRoomStack, type RoomStack } from "./bench/room.js";

/**
 * A room through a throttle far tighter than its demand, as CI can afford it (the 1,000-attendee run
 * with the default throttle is `npm run bench`): 150 attendees within 3 s, 5 API requests each
 * (750), on 130 keys, behind 25 requests a second with bursts of 25: below what the local stack
 * answers on a busy machine, so the throttle, not the stack, is what holds the room back. The simulated attendees follow
 * the page's own retry policy (web/src/retry.ts) over HTTP against the local stack; each of them
 * gets a key or a clean "sold out", nobody an error, and every 429 the throttle sent was absorbed.
 */

const ATTENDEES = 150;
const KEYS = 130;
const THROTTLE = { ratePerSecond: 25, burst: 25 };

let room: RoomStack;
beforeAll(async () => {
  room = await startRoomStack({ keys: KEYS, throttle: THROTTLE });
}, 120_000);
afterAll(async () => {
  await room?.close();
});

describe("a room claiming at once behind a tight API throttle", () => {
  it("gives every attendee a key or a clean sold out, none an error, absorbing the throttle's 429s", async () => {
    const r = await runRoom(room, { attendees: ATTENDEES, windowMs: 3_000 });
    console.log(describeRoom(r, THROTTLE, 3_000).join("\n"));
    expect(r.errorSamples).toEqual([]);
    expect(r.errors).toBe(0);
    expect(r.keys).toBe(KEYS);
    expect(r.soldOut).toBe(ATTENDEES - KEYS);
    expect(r.duplicateKeys).toBe(0);
    // 750 requests through 25 a second: the throttle refused many, and each refusal was asked again
    // (or was a live usage read the page does without).
    expect(r.retried429).toBeGreaterThan(100);
    expect(room.stack.throttle!.throttled).toBe(r.retried429 + r.liveReadsRefused);
    // The pool agrees: exactly the capacity claimed, one upstream key each.
    expect((await room.stack.store.getLedger(ROOM_SLUG)).claimed).toBe(KEYS);
    expect(room.stack.emulator!.state.keys.filter((k) => k.name.includes(ROOM_SLUG)).length).toBe(KEYS);
  }, 120_000);
});
