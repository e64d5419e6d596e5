import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { ATTEMPT_LIMITS, attemptWindow } from "./attempts.js";
import { roomCodeAt, roomCodeStep } from "./room-code.js";

/**
 * Attempt limits through the API app, against dynalite and the emulator, with the clock in the
 * test's hands: 10 wrong room codes and then 429 until the code changes, whatever code comes next;
 * a key and 30 more claims and then 429; a new window counts from zero; racing requests cannot count
 * past a limit.
 */

const ROTATE_MIN = 5;
const POLICY = { rotate_minutes: ROTATE_MIN, grace_minutes: 2 };
const PERIOD = ROTATE_MIN * 60_000;
// 30 s into a rotation, so a window's end is known.
let clock = Math.floor(Date.now() / PERIOD) * PERIOD + 30_000;
let stack: TestStack;
let secret: Buffer;

beforeAll(async () => {
  stack = await startTestStack({ now: () => clock });
  const guardrail = await stack.openrouter.ensureGuardrail({ name: "workshop-attempts", description: "t", allowed_models: ["openai/gpt-5-nano"], limit_usd: 800, reset_interval: "monthly" });
  await stack.addWorkshop(testWorkshop("coded", clock, { claim_code: POLICY }), guardrail.id);
  await stack.addWorkshop(testWorkshop("open-door", clock), guardrail.id);
  secret = await stack.store.roomCodeSecret(clock);
});

afterAll(async () => {
  await stack?.close();
});

const claim = (token: string, slug: string, code?: string) => stack.call("POST", `/api/workshops/${slug}/claim`, token, code === undefined ? {} : { code });
const current = () => roomCodeAt(secret, "coded", POLICY, roomCodeStep(POLICY, clock));
const wrong = () => (current() === "ZZZZZZ" ? "YYYYYY" : "ZZZZZZ");
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; retry_after_seconds?: number } }).error;

describe("wrong room codes", () => {
  it("are refused with 403 ten times, then every claim is 429 with Retry-After until the code changes", async () => {
    const { token, sub } = await stack.attendee(`guesser-${clock}@example.com`);
    for (let i = 1; i <= ATTEMPT_LIMITS.wrongRoomCodes; i++) {
      const res = await claim(token, "coded", wrong());
      expect(res.status, `attempt ${i}`).toBe(403);
      expect((await errorOf(res)).code).toBe("room_code_invalid");
    }
    const windowEnd = attemptWindow({ claim_code: POLICY }, clock).endsAt;
    const blocked = await claim(token, "coded", wrong());
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toBe(String(Math.ceil((windowEnd - clock) / 1000)));
    expect(await errorOf(blocked)).toMatchObject({ code: "too_many_room_codes", retry_after_seconds: Math.ceil((windowEnd - clock) / 1000) });

    // The right code changes nothing now: a guess that hits tells the guesser nothing either.
    const right = await claim(token, "coded", current());
    expect(right.status).toBe(429);
    expect((await stack.store.getLedger("coded")).claimed).toBe(0);

    // The counter: under the workshop's partition, with a ttl an hour after its window.
    const window = attemptWindow({ claim_code: POLICY }, clock);
    const doc = DynamoDBDocumentClient.from(stack.dynamo.client);
    const item = (await doc.send(new GetCommand({ TableName: stack.names.workshops, Key: { pk: "coded", sk: `ATTEMPTS#${sub}#${window.id}` }, ConsistentRead: true }))).Item;
    expect(item).toMatchObject({ user_id: sub, wrong_room_codes: ATTEMPT_LIMITS.wrongRoomCodes, window_ends_at: window.endsAt, ttl: Math.floor(window.endsAt / 1000) + 3600 });

    // The code changes: a new window, and the code on the screen gets the key.
    clock = windowEnd + 1_000;
    const next = await claim(token, "coded", current());
    expect(next.status).toBe(201);
  });

  it("racing guesses cannot count past the limit: exactly 10 are judged, the rest are 429", async () => {
    const { token } = await stack.attendee(`racer-${clock}@example.com`);
    const answers = await Promise.all(Array.from({ length: 40 }, () => claim(token, "coded", wrong())));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 403).length).toBe(ATTEMPT_LIMITS.wrongRoomCodes);
    expect(statuses.filter((s) => s === 429).length).toBe(40 - ATTEMPT_LIMITS.wrongRoomCodes);
  });

  it("someone who holds a key gets it back with any code, and their wrong codes are not counted", async () => {
    const { token } = await stack.attendee(`holder-${clock}@example.com`);
    expect((await claim(token, "coded", current())).status).toBe(201);
    for (let i = 0; i < ATTEMPT_LIMITS.wrongRoomCodes + 2; i++) expect((await claim(token, "coded", wrong())).status).toBe(200);
  });
});

describe("claims per person", () => {
  it("are bounded per window on every workshop, with or without a room code", async () => {
    const { token } = await stack.attendee(`reloader-${clock}@example.com`);
    // The claim that creates the key is not counted (it happens once); each one after it is.
    expect((await claim(token, "open-door")).status).toBe(201);
    for (let i = 1; i <= ATTEMPT_LIMITS.claims; i++) expect((await claim(token, "open-door")).status, `repeat ${i}`).toBe(200);
    const windowEnd = attemptWindow({}, clock).endsAt;
    const blocked = await claim(token, "open-door");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBe(Math.ceil((windowEnd - clock) / 1000));
    expect((await errorOf(blocked)).code).toBe("too_many_claims");
    // The key itself stays readable: only claiming is bounded.
    expect((await stack.call("GET", "/api/workshops/open-door/key", token)).status).toBe(200);

    clock = windowEnd;
    expect((await claim(token, "open-door")).status).toBe(200);
  });
});
