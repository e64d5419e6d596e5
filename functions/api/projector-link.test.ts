import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";

/**
 * The projector link (api.md): an organizer makes it, the room's screen reads the room code with it
 * and nothing else, until it expires; and no route shows a room code once claims are closed. Against
 * dynalite and the emulator, on a clock the test moves.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const START = Math.floor(Date.now() / MIN) * MIN;
let at = START;
let stack: TestStack;
let organizer: string;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const POLICY = { rotate_minutes: 5, grace_minutes: 2 };

beforeAll(async () => {
  stack = await startTestStack({ now: () => at });
  await stack.addWorkshop(testWorkshop("room", START, { claim_code: POLICY }));
  // Claims stay open three days: its links end at the 12-hour cap, not at the closing.
  await stack.addWorkshop(testWorkshop("room-days", START, { claim_code: POLICY, claims_close_at: iso(START + 72 * HOUR), ends_at: iso(START + 73 * HOUR) }));
  await stack.addWorkshop(testWorkshop("plain", START));
  organizer = stack.issuer.tokenFor({ sub: "link-organizer", email: "organizer@example.com" });
});

afterAll(async () => {
  await stack?.close();
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;

async function makeLink(slug: string): Promise<{ path: string; expires_at: string; link: string }> {
  const res = await stack.call("POST", `/api/admin/workshops/${slug}/projector-link`, organizer, {});
  expect(res.status).toBe(201);
  const body = await json(res);
  return { ...(body as { path: string; expires_at: string }), link: new URL(body.path, "http://x").searchParams.get("link")! };
}

describe("a projector link", () => {
  it("shows the room code without a sign-in: the same code the organizers see, until claims close", async () => {
    const { path, expires_at, link } = await makeLink("room");
    expect(path).toBe(`/w/room/projector?link=${link}`);
    expect(expires_at).toBe(new Date(START + 120 * MIN).toISOString());
    const shown = await stack.call("GET", `/api/workshops/room/projector?link=${encodeURIComponent(link)}`);
    expect(shown.status).toBe(200);
    const organizers = await json(await stack.call("GET", "/api/admin/workshops/room/room-code", organizer));
    expect(await json(shown)).toEqual(organizers);
    expect(organizers).toMatchObject({ enabled: true, closed: false, code: expect.stringMatching(/^[2-9A-Z]{6}$/) });
  });

  it("opens nothing else: not as a sign-in, not for another workshop", async () => {
    const { link } = await makeLink("room");
    for (const [method, path] of [
      ["GET", "/api/admin/workshops/room/room-code"],
      ["GET", "/api/admin/workshops/room/claims"],
      ["GET", "/api/admin/workshops/room/attendance.csv"],
      ["POST", "/api/admin/workshops/room/pause"],
      ["POST", "/api/admin/workshops/room/claims/someone/revoke"],
    ] as const) {
      expect((await stack.call(method, path, link)).status, path).toBe(401);
      expect((await stack.call(method, `${path}?link=${encodeURIComponent(link)}`)).status, path).toBe(401);
    }
    const elsewhere = await stack.call("GET", `/api/workshops/room-days/projector?link=${encodeURIComponent(link)}`);
    expect(elsewhere.status).toBe(403);
    expect((await json(elsewhere)).error.code).toBe("projector_link_invalid");
  });

  it("lasts at most 12 hours, and then says it expired", async () => {
    const { expires_at, link } = await makeLink("room-days");
    expect(expires_at).toBe(new Date(START + 12 * HOUR).toISOString());
    at = START + 12 * HOUR - 1000;
    expect((await stack.call("GET", `/api/workshops/room-days/projector?link=${encodeURIComponent(link)}`)).status).toBe(200);
    at = START + 12 * HOUR;
    const expired = await stack.call("GET", `/api/workshops/room-days/projector?link=${encodeURIComponent(link)}`);
    expect(expired.status).toBe(403);
    expect((await json(expired)).error).toMatchObject({ code: "projector_link_expired", expired_at: expires_at, message: expect.stringContaining("Ask an organizer for a new one") });
    at = START;
  });

  it("is refused for a workshop without a room code, which needs none", async () => {
    const res = await stack.call("POST", "/api/admin/workshops/plain/projector-link", organizer, {});
    expect(res.status).toBe(409);
    expect((await json(res)).error.code).toBe("no_room_code");
  });
});

describe("once claims are closed", () => {
  it("no route shows the room code, and no new projector link is made", async () => {
    const { link } = await makeLink("room");
    at = START + 121 * MIN;
    try {
      const organizers = await json(await stack.call("GET", "/api/admin/workshops/room/room-code", organizer));
      expect(organizers).toEqual({ enabled: true, closed: true, now: new Date(at).toISOString() });
      // A link made before the closing expired with it.
      const viaLink = await stack.call("GET", `/api/workshops/room/projector?link=${encodeURIComponent(link)}`);
      expect((await json(viaLink)).error.code).toBe("projector_link_expired");
      const again = await stack.call("POST", "/api/admin/workshops/room/projector-link", organizer, {});
      expect(again.status).toBe(423);
      expect((await json(again)).error.code).toBe("claims_closed");
      // And after the keys expired, still none.
      at = START + 10 * HOUR;
      expect(await json(await stack.call("GET", "/api/admin/workshops/room/room-code", organizer))).toMatchObject({ enabled: true, closed: true });
    } finally {
      at = START;
    }
  });
});
