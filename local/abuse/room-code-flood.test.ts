import { spawn } from "node:child_process";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomCodeAt, roomCodeStep } from "../../functions/domain/room-code.js";
import { startLocalStack, type LocalStack } from "../stack.js";
import { callApi, signIn, tempDirs, workshopFileAround, writeWorkshopFiles } from "../testing.js";
import type { FloodReport } from "./room-code-flood.js";

/**
 * The flood of issue 23, run as an attacker would: `room-code-flood.ts` in its own process, over
 * HTTP, against the local stack, 1,000 wrong room codes from one account. After 10 wrong codes every
 * answer is 429 with `Retry-After` until the code changes; meanwhile the room's other attendees
 * claim with the code on the screen as if nothing were happening.
 */

const SLUG = "flooded-room";
const ROTATE_MIN = 10;
const PERIOD = ROTATE_MIN * 60_000;
// 20 s after a code changed: the window the flood falls in ends 9 minutes 40 later.
const START = Math.floor(Date.now() / PERIOD) * PERIOD + 20_000;
const POLICY = { rotate_minutes: ROTATE_MIN, grace_minutes: 2 };
const FLOODER = "flooder@example.com";
const tempDir = tempDirs();
let stack: LocalStack;

beforeAll(async () => {
  const dir = tempDir("wkm-flood-");
  const workshops = writeWorkshopFiles(join(dir, "workshops"), [workshopFileAround(SLUG, START, { claim_code: POLICY })]);
  stack = await startLocalStack({ port: 0, dataDir: join(dir, "data"), workshopsDir: workshops, demo: false, quiet: true, at: new Date(START).toISOString() });
});

afterAll(async () => {
  await stack?.close();
});

/** Runs the script as a person would, and answers its report and when it ended. */
function runFlood(attempts: number): Promise<{ report: FloodReport; endedAt: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "room-code-flood.ts"), "--url", stack.url, "--slug", SLUG, "--email", FLOODER, "--attempts", String(attempts)], {
    cwd: join(import.meta.dirname, "../.."),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => {
      const endedAt = Date.now();
      if (code !== 0) return reject(new Error(`the flood script exited ${code}: ${err.slice(-1500)}`));
      resolve({ report: JSON.parse(out.trim().split("\n").at(-1)!) as FloodReport, endedAt });
    }),
  );
}

async function attendee(): Promise<string> {
  const token = await signIn(stack.url, `room-${randomUUID().slice(0, 8)}@example.com`);
  expect((await callApi(stack.url, token, "PUT", "/api/me", { display_name: "In The Room", marketing_opted_in: false })).status).toBe(200);
  return token;
}

describe("1,000 wrong room codes from one account", () => {
  it("get 429 with Retry-After after the 10th, while the room's other attendees claim", async () => {
    const secret = await stack.store.roomCodeSecret(stack.clock.now());
    const code = roomCodeAt(secret, SLUG, POLICY, roomCodeStep(POLICY, stack.clock.now()));
    const others = await Promise.all(Array.from({ length: 5 }, attendee));

    const flood = runFlood(1000);
    // The others claim one after another while the flood runs, as a room would.
    const claims: { status: number; at: number }[] = [];
    await new Promise((r) => setTimeout(r, 1500));
    for (const token of others) {
      const res = await callApi(stack.url, token, "POST", `/api/workshops/${SLUG}/claim`, { code });
      claims.push({ status: res.status, at: Date.now() });
    }
    const { report, endedAt } = await flood;

    expect(report.failed).toBe(0);
    expect(report.keys).toBe(0);
    expect(report.statuses).toEqual({ "403": 10, "429": 990 });
    expect(report.codes).toEqual({ room_code_invalid: 10, too_many_room_codes: 990 });
    expect(report.first429).toBe(11);
    // Until the code changes: 9 minutes 40 after the stack's start.
    const windowLeftS = (START - 20_000 + PERIOD - stack.clock.now()) / 1000;
    for (const after of report.retryAfter) {
      expect(after).toBeGreaterThanOrEqual(Math.floor(windowLeftS));
      expect(after).toBeLessThanOrEqual((PERIOD - 20_000) / 1000);
    }

    // Everyone else got a key, and got it while the flood was under way.
    expect(claims.map((c) => c.status)).toEqual([201, 201, 201, 201, 201]);
    expect(claims.every((c) => c.at < endedAt)).toBe(true);
    expect((await stack.store.getLedger(SLUG)).claimed).toBe(5);

    // The flooder holding the right code now changes nothing: still 429 until the code changes.
    const flooder = await signIn(stack.url, FLOODER);
    const res = await fetch(`${stack.url}/api/workshops/${SLUG}/claim`, {
      method: "POST",
      headers: { authorization: `Bearer ${flooder}`, "content-type": "application/json" },
      body: JSON.stringify({ code }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Too many wrong room codes.*when the code on the screen changes/);
    expect((await stack.store.getLedger(SLUG)).claimed).toBe(5);
  }, 180_000);
});
