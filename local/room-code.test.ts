import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { createStore } from "../functions/data/store.js";
import { tableNames } from "../functions/data/tables.js";
import { roomCodeAt, roomCodeStep } from "../functions/domain/room-code.js";
import { ensureTables } from "./dynamo.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { signIn, workshopFileAround } from "./testing.js";

/**
 * The room code through the real local stack: the organizers' route shows the code, claims are
 * refused without it, with a made-up one and with one past its grace period, and accepted with the
 * current one and with the previous one within its grace. The stack's clock starts just after a
 * code changed, so "previous" and "expired" are known without waiting.
 */

const ORGANIZER = "room-organizer@example.org";
const ROTATE_MIN = 10;
const PERIOD = ROTATE_MIN * 60_000;
// 20 s after a change: the current code holds for 9 minutes 40, the previous one for 3 minutes 40.
const START = Math.floor(Date.now() / PERIOD) * PERIOD + 20_000;
let stack: LocalStack;
let dir: string;
let secret: Buffer;
let organizerToken: string;
const POLICY = { rotate_minutes: ROTATE_MIN, grace_minutes: 4 };
const STRICT = { rotate_minutes: ROTATE_MIN, grace_minutes: 0 };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "wkm-room-code-"));
  const workshops = join(dir, "workshops");
  mkdirSync(workshops);
  for (const [slug, claimCode] of [["room", POLICY], ["room-strict", STRICT], ["no-room", false]] as const) {
    writeFileSync(join(workshops, `${slug}.yaml`), stringify(workshopFileAround(slug, START, { organizers: [ORGANIZER], claim_code: claimCode })));
  }
  stack = await startLocalStack({ port: 0, dataDir: join(dir, "data"), workshopsDir: workshops, demo: false, quiet: true, at: new Date(START).toISOString() });
  organizerToken = await signIn(stack.url, ORGANIZER);
  secret = await stack.store.roomCodeSecret(stack.clock.now());
});

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(token: string | undefined, method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.url}/api${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Record<string, any> };
}

/** A signed-in attendee who has been through the confirm step. */
async function attendee(): Promise<string> {
  const token = await signIn(stack.url, `room-${randomUUID().slice(0, 8)}@example.com`);
  expect((await call(token, "PUT", "/me", { display_name: "Room Attendee", marketing_opted_in: false })).status).toBe(200);
  return token;
}

const codeAt = (slug: string, policy: typeof POLICY, stepsBack: number) => roomCodeAt(secret, slug, policy, roomCodeStep(policy, stack.clock.now()) - stepsBack);

describe("the room code through the local stack", () => {
  it("organizers read the current code and when it changes; attendees and public routes never see it", async () => {
    const res = await call(organizerToken, "GET", "/admin/workshops/room/room-code");
    expect(res.status).toBe(200);
    const step = roomCodeStep(POLICY, START);
    expect(res.body).toMatchObject({
      enabled: true,
      code: roomCodeAt(secret, "room", POLICY, step),
      rotate_minutes: ROTATE_MIN,
      grace_minutes: 4,
      valid_from: new Date(step * PERIOD).toISOString(),
      rotates_at: new Date((step + 1) * PERIOD).toISOString(),
      claim_path: `/w/room?code=${roomCodeAt(secret, "room", POLICY, step)}`,
    });
    expect(res.body.code).toMatch(/^[2-9A-HJKMNP-TV-Z]{6}$/);
    expect((await call(organizerToken, "GET", "/admin/workshops/no-room/room-code")).body).toEqual({ enabled: false });

    const someone = await attendee();
    const refused = await call(someone, "GET", "/admin/workshops/room/room-code");
    expect(refused.status).toBe(403);
    expect(refused.text).not.toContain(res.body.code);

    const secretText = secret.toString("base64url");
    for (const path of ["/api/workshops", "/api/workshops/room", "/catalog.json", "/config.json", "/w/room", "/w/room/projector", "/healthz"]) {
      const page = await (await fetch(`${stack.url}${path}`)).text();
      expect(page, path).not.toContain(res.body.code);
      expect(page, path).not.toContain(secretText);
    }
    const catalog = JSON.parse(await (await fetch(`${stack.url}/catalog.json`)).text()) as { workshops: { slug: string; room_code: boolean }[] };
    expect(Object.fromEntries(catalog.workshops.map((w) => [w.slug, w.room_code]))).toEqual({ room: true, "room-strict": true, "no-room": false });
  });

  it("refuses a claim without a code, with a made-up one and with one past its grace period, and changes nothing", async () => {
    const token = await attendee();
    const before = { ledger: await stack.store.getLedger("room"), keys: stack.emulator!.state.keys.length };
    const forged = ["ZZZZZZ", "23456A"].find((c) => c !== codeAt("room", POLICY, 0) && c !== codeAt("room", POLICY, 1))!;
    const cases: [string, string, Record<string, unknown> | undefined, string][] = [
      ["no code", "room", undefined, "room_code_required"],
      ["an empty code", "room", { code: "  " }, "room_code_required"],
      ["a made-up code", "room", { code: forged }, "room_code_invalid"],
      ["a code two changes old", "room", { code: codeAt("room", POLICY, 2) }, "room_code_invalid"],
      ["the previous code where there is no grace period", "room-strict", { code: codeAt("room-strict", STRICT, 1) }, "room_code_invalid"],
      ["another workshop's current code", "room-strict", { code: codeAt("room", POLICY, 0) }, "room_code_invalid"],
    ];
    for (const [what, slug, body, code] of cases) {
      const res = await call(token, "POST", `/workshops/${slug}/claim`, body);
      expect(res.status, what).toBe(403);
      expect(res.body.error.code, what).toBe(code);
      expect(res.body.error.message, what).toMatch(code === "room_code_required" ? /scan the QR code on the screen, or enter the room code/ : /Enter the room code shown on the screen/);
    }
    expect(await stack.store.getLedger("room")).toEqual(before.ledger);
    expect(await stack.store.listClaims("room-strict")).toEqual([]);
    expect(stack.emulator!.state.keys.length).toBe(before.keys);
  });

  it("accepts the current code (any case, with a dash) and the previous one within its grace; the holder then needs no code", async () => {
    const current = codeAt("room", POLICY, 0);
    const withCurrent = await attendee();
    const first = await call(withCurrent, "POST", "/workshops/room/claim", { code: `${current.slice(0, 3).toLowerCase()}-${current.slice(3)}` });
    expect(first.status).toBe(201);
    expect(first.body.key.status).toBe("ACTIVE");

    const withPrevious = await attendee();
    const second = await call(withPrevious, "POST", "/workshops/room/claim", { code: codeAt("room", POLICY, 1) });
    expect(second.status).toBe(201);

    // Someone who holds a key gets it back without the code (a reload, another device).
    const again = await call(withCurrent, "POST", "/workshops/room/claim");
    expect(again.status).toBe(200);
    expect(again.body.key.key).toBe(first.body.key.key);
    expect((await call(withCurrent, "GET", "/workshops/room/key")).body.key).toBe(first.body.key.key);

    // A workshop without claim_code takes claims without one, as before.
    expect((await call(await attendee(), "POST", "/workshops/no-room/claim")).status).toBe(201);
  });

  it("containers starting at once agree on one secret, kept in the workshops table", async () => {
    const names = tableNames(`room-${randomUUID().slice(0, 8)}`);
    await ensureTables(stack.dynamo.client, names);
    const containers = Array.from({ length: 8 }, () => createStore({ client: stack.dynamo.client, tableNames: names }));
    const secrets = await Promise.all(containers.map((s) => s.roomCodeSecret(Date.now())));
    expect(new Set(secrets.map((s) => s.toString("hex"))).size).toBe(1);
    expect(secrets[0]!.length).toBe(32);
    // And a container started later reads the same one.
    expect((await createStore({ client: stack.dynamo.client, tableNames: names }).roomCodeSecret(Date.now())).equals(secrets[0]!)).toBe(true);
  });
});
