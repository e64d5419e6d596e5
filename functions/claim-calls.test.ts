import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchWorkshop } from "../local/bench/claims.js";
import { startBenchRig, type BenchRig } from "../local/bench/rig.js";
import { ATTEMPT_LIMITS } from "./domain/attempts.js";

/**
 * The claim path's DynamoDB calls at their floor (issue #24), counted on the DynamoDB client of the
 * real local stack (the bench rig's counter: dynalite, the emulator, the API over loopback HTTP): a
 * first claim reads once (attendee, ledger and attempt counter in one BatchGet) and writes four times
 * (claim, slot, email lock, the ACTIVE key); the attempt counter is written only by claims that do not
 * create a key, which still end in 429 at the limit, however they race.
 */

let rig: BenchRig;

beforeAll(async () => {
  rig = await startBenchRig({ seed: 24 });
});
afterAll(async () => {
  await rig?.close();
});

const claim = (slug: string, token: string) => rig.request("POST", `/api/workshops/${slug}/claim`, token);
const codeOf = (text: string) => (JSON.parse(text) as { error?: { code: string } }).error?.code;

describe("a first claim", () => {
  it("makes 5 DynamoDB calls: one BatchGet, then the claim, the slot, the email lock and the ACTIVE key", { timeout: 60_000 }, async () => {
    const w = benchWorkshop("calls-first", 20);
    await rig.openWorkshop(w);
    // Warm the workshop cache and the token verifier, as any container that served a request has.
    const [warm] = await rig.attendees("calls-warm", 1);
    expect((await claim(w.slug, warm!.token)).status).toBe(201);

    const users = await rig.attendees("calls-first", 5);
    rig.resetCounters();
    for (const u of users) {
      const res = await claim(w.slug, u.token);
      expect(res.status, res.text).toBe(201);
    }
    const perClaim = (rig.counters.reads + rig.totalWrites()) / users.length;
    expect(perClaim).toBe(5);
    expect(rig.counters.reads / users.length).toBe(1);
    const calls = [...rig.counters.dynamoMs].map(([label, times]) => [label, times.length / users.length]);
    expect(Object.fromEntries(calls)).toEqual({ "BatchGetItem": 1, "PutItem CLAIM": 1, "UpdateItem LEDGER": 1, "PutItem EMAIL": 1, "UpdateItem CLAIM": 1 });
    expect((await rig.store.getLedger(w.slug)).claimed).toBe(users.length + 1);
  });
});

describe("repeated claims by one person", () => {
  it(`get their key back ${ATTEMPT_LIMITS.claims} times after it was created, then 429`, { timeout: 60_000 }, async () => {
    const w = benchWorkshop("calls-repeat", 5);
    await rig.openWorkshop(w);
    const [u] = await rig.attendees("calls-repeat", 1);
    expect((await claim(w.slug, u!.token)).status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < ATTEMPT_LIMITS.claims + 5; i++) statuses.push((await claim(w.slug, u!.token)).status);
    expect(statuses.slice(0, ATTEMPT_LIMITS.claims)).toEqual(Array(ATTEMPT_LIMITS.claims).fill(200));
    expect(statuses.slice(ATTEMPT_LIMITS.claims)).toEqual(Array(5).fill(429));
    expect((await rig.store.getLedger(w.slug)).claimed).toBe(1);
  });

  it("racing each other, with counts all read under the limit, still get at most the limit answered", { timeout: 60_000 }, async () => {
    const w = benchWorkshop("calls-race", 5);
    await rig.openWorkshop(w);
    const [u] = await rig.attendees("calls-race", 1);
    const answers = await Promise.all(Array.from({ length: 3 * ATTEMPT_LIMITS.claims }, () => claim(w.slug, u!.token)));
    const statuses = answers.map((a) => a.status);
    // One creates the key; every other answer passed the counter's conditional write, or is 429.
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(ATTEMPT_LIMITS.claims);
    expect(statuses.filter((s) => s !== 200 && s !== 201).every((s) => s === 429)).toBe(true);
    expect(answers.filter((a) => a.status === 429).map((a) => codeOf(a.text))).toContain("too_many_claims");
    expect((await rig.store.getLedger(w.slug)).claimed).toBe(1);
  });

  it("refused ones (sold out) count too: 429 after the limit", { timeout: 60_000 }, async () => {
    const w = benchWorkshop("calls-sold-out", 1);
    await rig.openWorkshop(w);
    const [first, second] = await rig.attendees("calls-sold-out", 2);
    expect((await claim(w.slug, first!.token)).status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i <= ATTEMPT_LIMITS.claims; i++) statuses.push((await claim(w.slug, second!.token)).status);
    expect(statuses.slice(0, ATTEMPT_LIMITS.claims).every((s) => s === 409)).toBe(true);
    expect(statuses[ATTEMPT_LIMITS.claims]).toBe(429);
  });
});
