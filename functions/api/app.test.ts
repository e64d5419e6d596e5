import { generateKeyPairSync } from "node:crypto";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, testWorkshop, TEST_CLIENT_ID, type TestStack } from "../../local/test-stack.js";
import { createHousekeeping } from "../data/housekeeping.js";
import { createJobRunner } from "../jobs/run.js";

/** The HTTP contract (api.md) against dynalite, the emulator and a loopback JWKS. */

let stack: TestStack;
const ORGANIZER = { sub: "organizer-sub", email: "organizer@example.com" };

beforeAll(async () => {
  stack = await startTestStack();
  const now = stack.now();
  const guardrail = await stack.openrouter.ensureGuardrail({ name: "workshop-open", description: "t", allowed_models: ["openai/gpt-5-nano"], limit_usd: 800, reset_interval: "monthly" });
  await stack.addWorkshop(testWorkshop("open", now), guardrail.id);
  await stack.addWorkshop(testWorkshop("later", now, { claims_open_at: new Date(now + 3_600_000).toISOString(), claims_close_at: new Date(now + 7_200_000).toISOString() }));
  await stack.addWorkshop(testWorkshop("over", now, { claims_open_at: new Date(now - 7_200_000).toISOString(), claims_close_at: new Date(now - 3_600_000).toISOString() }));
});

afterAll(async () => {
  await stack?.close();
});

const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;

describe("sign-in verification", () => {
  const claimsFor = (over: Record<string, unknown>) => ({ sub: "token-user", email: "token-user@example.com", email_verified: true, ...over });

  it("accepts a valid ID token", async () => {
    const res = await stack.call("GET", "/api/me", stack.issuer.sign(claimsFor({})));
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ user_id: "token-user", email: "token-user@example.com", email_verified: true, confirmed: false, is_admin: false, organizer_of: [] });
  });

  const header = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const cases: [string, () => string | undefined][] = [
    ["missing", () => undefined],
    ["expired", () => stack.issuer.sign(claimsFor({ iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }))],
    ["wrong issuer", () => stack.issuer.sign(claimsFor({ iss: "http://127.0.0.1:1/other-issuer" }))],
    ["wrong client", () => stack.issuer.sign(claimsFor({ aud: "someone-elses-client" }))],
    ["access token (token_use access)", () => stack.issuer.sign(claimsFor({ token_use: "access" }))],
    ["no token_use", () => stack.issuer.sign(claimsFor({ token_use: undefined }))],
    ["alg none", () => `${header({ alg: "none", typ: "JWT" })}.${header({ iss: stack.issuer.issuer, aud: TEST_CLIENT_ID, token_use: "id", sub: "x", exp: Math.floor(Date.now() / 1000) + 600 })}.`],
    [
      "tampered payload",
      () => {
        const [h, , s] = stack.issuer.sign(claimsFor({})).split(".");
        const forged = header({ ...claimsFor({ sub: "someone-else" }), iss: stack.issuer.issuer, aud: TEST_CLIENT_ID, token_use: "id", exp: Math.floor(Date.now() / 1000) + 600 });
        return `${h}.${forged}.${s}`;
      },
    ],
    ["unsigned (signature stripped)", () => stack.issuer.sign(claimsFor({})).split(".").slice(0, 2).join(".") + "."],
    ["signed by another key", () => stack.issuer.sign(claimsFor({}), { key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey })],
    ["not a JWT", () => "definitely-not-a-token"],
  ];

  it.each(cases)("refuses %s with 401", async (_name, token) => {
    for (const path of ["/api/me", "/api/workshops/open/key", "/api/admin/workshops"]) {
      const res = await stack.call("GET", path, token());
      expect(res.status).toBe(401);
      expect((await json<{ error: { code: string } }>(res)).error.code).toBe("unauthorized");
    }
  });

  it("gives an email only when it is verified", async () => {
    const res = await stack.call("GET", "/api/me", stack.issuer.sign(claimsFor({ sub: "unverified", email: "u@example.com", email_verified: false })));
    expect(await json(res)).toMatchObject({ email: null, email_verified: false });
    const claim = await stack.call("POST", "/api/workshops/open/claim", stack.issuer.sign(claimsFor({ sub: "unverified", email_verified: false })));
    expect(claim.status).toBe(409);
    expect((await json<{ error: { code: string } }>(claim)).error.code).toBe("email_not_verified");
  });
});

describe("public status", () => {
  it("lists the open and upcoming workshops with their window and keys left; a closed one is asked for by name", async () => {
    const res = await stack.call("GET", "/api/workshops");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const body = await json<{ workshops: { slug: string; state: string; window: string }[]; now: string }>(res);
    const bySlug = Object.fromEntries(body.workshops.map((w) => [w.slug, w]));
    expect(bySlug.open).toMatchObject({ window: "open", state: "open", capacity: 300, keys_left: 300 });
    expect(bySlug.later).toMatchObject({ window: "upcoming", state: "upcoming" });
    // Past workshops are not read by the poll: the page shows them closed from its own catalog.
    expect(Object.keys(bySlug).sort()).toEqual(["later", "open"]);
    expect(await json(await stack.call("GET", "/api/workshops/over"))).toMatchObject({ slug: "over", window: "closed", state: "closed" });
    expect((await stack.call("GET", "/api/workshops/nope")).status).toBe(404);
  });

  it("lets caches keep the public status for 5 seconds; errors and every other answer are never stored", async () => {
    for (const path of ["/api/workshops", "/api/workshops/open", "/api/workshops/over"]) {
      const res = await stack.call("GET", path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("cache-control"), path).toBe("public, max-age=5, s-maxage=5");
    }
    const missing = await stack.call("GET", "/api/workshops/nope");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("cache-control")).toBe("no-store");
    const signedIn = await stack.attendee("cache@example.com", { sub: "cache-check" });
    for (const [method, path] of [["GET", "/api/me"], ["GET", "/api/workshops/open/key"], ["POST", "/api/workshops/open/claim"], ["GET", "/api/nothing-here"]] as const) {
      const res = await stack.call(method, path, signedIn.token);
      expect(res.headers.get("cache-control"), `${method} ${path}`).toBe("no-store");
    }
  });

  it("reads the workshop index and the live workshops' own items, never the past ones'", async () => {
    const reads: string[] = [];
    stack.dynamo.client.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { Key?: { pk?: unknown; sk?: unknown }; RequestItems?: Record<string, { Keys: { pk?: unknown }[] }>; TableName?: string };
        const target = String((args.request as { headers?: Record<string, string> }).headers?.["x-amz-target"] ?? "").split(".").pop();
        const pk = (v: unknown) => String((v as { S?: string } | undefined)?.S ?? v);
        if (input.Key) reads.push(`${target} ${pk(input.Key.pk)}`);
        for (const r of Object.values(input.RequestItems ?? {})) for (const k of r.Keys) reads.push(`${target} ${pk(k.pk)}`);
        if (!input.Key && !input.RequestItems) reads.push(`${target}`);
        return next(args);
      },
      { step: "build", name: "statusReadWatch" },
    );
    try {
      stack.workshops.invalidate();
      await stack.call("GET", "/api/workshops");
    } finally {
      stack.dynamo.client.middlewareStack.remove("statusReadWatch");
    }
    expect(reads.some((r) => r.startsWith("Scan"))).toBe(false);
    expect(reads.filter((r) => r.endsWith(" over"))).toEqual([]);
    expect(reads).toContain("GetItem #catalog");
  });
});

describe("attendee", () => {
  it("must confirm the profile before claiming; consent is stored for the workshop, with its time", async () => {
    const token = stack.issuer.tokenFor({ sub: "newcomer", email: "newcomer@example.com", name: "New Comer" });
    const refused = await stack.call("POST", "/api/workshops/open/claim", token);
    expect(refused.status).toBe(409);
    expect((await json<{ error: { code: string } }>(refused)).error.code).toBe("profile_not_confirmed");

    const put = await stack.call("PUT", "/api/me", token, { display_name: "  Newcomer  ", marketing_opted_in: true, workshop: "open" });
    expect(put.status).toBe(200);
    expect(await json(put)).toMatchObject({ user_id: "newcomer", display_name: "Newcomer", confirmed: true, consent: { workshop: "open", decided: true, marketing_opted_in: true } });
    expect(await stack.store.getAttendee("newcomer")).toMatchObject({ email: "newcomer@example.com", display_name: "Newcomer" });
    const consent = await stack.store.getConsent("open", "newcomer");
    expect(consent).toMatchObject({ user_id: "newcomer", marketing_opted_in: true });
    expect(Date.parse(consent!.opted_in_at!)).toBeGreaterThan(0);

    const claimed = await stack.call("POST", "/api/workshops/open/claim", token, {});
    expect(claimed.status).toBe(201);
    const { key } = await json<{ key: Record<string, unknown> }>(claimed);
    expect(key).toMatchObject({ slug: "open", status: "ACTIVE", budget_usd: 2, usage_usd: 0, limit_remaining: 2, usage_synced_at: null, base_url: stack.upstream.url });
    expect(key.models).toEqual([{ id: "openai/gpt-5-nano", label: "GPT-5 nano", note: null, price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 }]);
    expect(String(key.expires_at)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const mine = await stack.call("GET", "/api/workshops/open/key", token);
    expect(await json(mine)).toMatchObject({ key: key.key, status: "ACTIVE" });
  });

  it("user B never sees user A's key", async () => {
    const a = await stack.attendee("alice@example.com", { sub: "alice" });
    const b = await stack.attendee("bob@example.com", { sub: "bob" });
    const { key } = await json<{ key: { key: string } }>(await stack.call("POST", "/api/workshops/open/claim", a.token));
    // Bob has no key yet: 204, nothing in the body (not Alice's key, not an error).
    const asB = await stack.call("GET", "/api/workshops/open/key", b.token);
    expect(asB.status).toBe(204);
    expect(await asB.text()).toBe("");
    // No route takes a user id from an attendee: query strings and bodies naming Alice change nothing.
    const named = await stack.call("GET", "/api/workshops/open/key?user_id=alice", b.token);
    expect(named.status).toBe(204);
    expect(await named.text()).not.toContain(key.key);
    expect((await stack.call("POST", "/api/workshops/open/claim", b.token, { user_id: "alice" })).status).toBe(400);
    // Bob's own claim is his own key.
    const bobs = await json<{ key: { key: string } }>(await stack.call("POST", "/api/workshops/open/claim", b.token));
    expect(bobs.key.key).not.toBe(key.key);
    // Nor do the organizer views ever carry a key.
    const admin = await stack.call("GET", "/api/admin/workshops/open/claims", stack.issuer.tokenFor(ORGANIZER));
    expect(await admin.text()).not.toMatch(/sk-or-/);
  });

  it("reads the key's usage live from OpenRouter on ?usage=live, at most every 30 s per attendee", async () => {
    const u = await stack.attendee("spender@example.com", { sub: "spender" });
    const { key } = await json<{ key: { key: string } }>(await stack.call("POST", "/api/workshops/open/claim", u.token));
    const spend = async () => {
      const res = await fetch(`${stack.upstream.url}/chat/completions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key.key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ model: "openai/gpt-5-nano", max_tokens: 1_500_000, messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    };
    await spend(); // $0.60 of output at $0.40 per million tokens

    // Without the query: the stored figure (no sync has run).
    expect(await json(await stack.call("GET", "/api/workshops/open/key", u.token))).toMatchObject({ usage_usd: 0, usage_synced_at: null });
    const reads = () => stack.upstream.emulator.stats().calls["keys.get"] ?? 0;
    const before = reads();
    const live = await json<{ usage_usd: number; limit_remaining: number; usage_synced_at: string }>(await stack.call("GET", "/api/workshops/open/key?usage=live", u.token));
    expect(live.usage_usd).toBeCloseTo(0.6, 4);
    expect(live.limit_remaining).toBeCloseTo(1.4, 4);
    expect(Date.parse(live.usage_synced_at)).toBeGreaterThan(Date.now() - 10_000);
    expect(reads()).toBe(before + 1);

    // Within 30 s the page gets the stored figure, and OpenRouter is not asked again.
    await spend();
    const again = await json<{ usage_usd: number }>(await stack.call("GET", "/api/workshops/open/key?usage=live", u.token));
    expect(again.usage_usd).toBeCloseTo(0.6, 4);
    expect(reads()).toBe(before + 1);
    // Ten tabs at once: still no read (the limit is a conditional write on the claim).
    await Promise.all(Array.from({ length: 10 }, () => stack.call("GET", "/api/workshops/open/key?usage=live", u.token)));
    expect(reads()).toBe(before + 1);

    // Someone without a key gets the same 204 (no key yet) as without the query.
    const none = await stack.attendee("keyless@example.com");
    expect((await stack.call("GET", "/api/workshops/open/key?usage=live", none.token)).status).toBe(204);
  });

  it("refuses a claim before opening and after closing, with the time", async () => {
    const u = await stack.attendee("early@example.com");
    const early = await stack.call("POST", "/api/workshops/later/claim", u.token);
    expect(early.status).toBe(423);
    const earlyBody = await json<{ error: { code: string; opens_at: string } }>(early);
    expect(earlyBody.error.code).toBe("claims_not_open");
    expect(Date.parse(earlyBody.error.opens_at)).toBe(Date.parse((await stack.store.getWorkshop("later"))!.config.claims_open_at));

    const late = await stack.call("POST", "/api/workshops/over/claim", u.token);
    expect(late.status).toBe(423);
    const lateBody = await json<{ error: { code: string; closed_at: string } }>(late);
    expect(lateBody.error.code).toBe("claims_closed");
    expect(Date.parse(lateBody.error.closed_at)).toBe(Date.parse((await stack.store.getWorkshop("over"))!.config.claims_close_at));
  });

  it("validates bodies strictly: unknown fields, wrong types, oversize, not JSON → 400", async () => {
    const { token } = await stack.attendee("validator@example.com");
    const bad: unknown[] = [
      { display_name: "x", marketing_opted_in: true, extra: 1 },
      { display_name: "", marketing_opted_in: true },
      { display_name: "x".repeat(81), marketing_opted_in: true },
      { display_name: "x", marketing_opted_in: "yes" },
      { display_name: "x" },
      { display_name: "x", marketing_opted_in: false, workshop: "../etc" },
      // Consent belongs to one workshop's organizers: a yes must say which.
      { display_name: "x", marketing_opted_in: true },
      "{not json",
      { display_name: "x".repeat(5000), marketing_opted_in: true },
    ];
    for (const body of bad) {
      const res = await stack.call("PUT", "/api/me", token, body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect((await json<{ error: { code: string; message: string } }>(res)).error.message).toBeTruthy();
    }
    expect((await stack.call("POST", "/api/workshops/open/claim", token, { anything: true })).status).toBe(400);
  });
});

describe("consent per workshop, and the CSV export", () => {
  // Workshops of their own organizer, so the other tests' lists of workshops stay as they are.
  const organizers = ["privacy-organizer@example.com"];
  const org = () => stack.issuer.tokenFor({ sub: "privacy-organizer", email: organizers[0] });
  const csvLines = async (slug: string) => {
    const res = await stack.call("GET", `/api/admin/workshops/${slug}/marketing.csv`, org());
    expect(res.status).toBe(200);
    return (await res.text()).trim().split("\r\n");
  };
  const put = (token: string, body: Record<string, unknown>) => stack.call("PUT", "/api/me", token, body);

  it("asks each workshop for itself, and exports only that workshop's consenting attendees", async () => {
    await stack.addWorkshop(testWorkshop("consent-a", stack.now(), { organizers }));
    await stack.addWorkshop(testWorkshop("consent-b", stack.now(), { organizers }));
    const kim = { sub: "consent-kim", token: stack.issuer.tokenFor({ sub: "consent-kim", email: "kim@example.com" }) };
    const lou = { sub: "consent-lou", token: stack.issuer.tokenFor({ sub: "consent-lou", email: "lou@example.com" }) };

    // Kim says yes to A's organizers; A's confirm step is answered, B's is not.
    expect((await put(kim.token, { display_name: "Kim", marketing_opted_in: true, workshop: "consent-a" })).status).toBe(200);
    expect(await json(await stack.call("GET", "/api/me?workshop=consent-a", kim.token))).toMatchObject({ confirmed: true, consent: { workshop: "consent-a", decided: true, marketing_opted_in: true } });
    expect(await json(await stack.call("GET", "/api/me?workshop=consent-b", kim.token))).toMatchObject({ confirmed: true, consent: { workshop: "consent-b", decided: false, marketing_opted_in: false } });
    expect(await json(await stack.call("GET", "/api/me", kim.token))).toMatchObject({ consent: null });
    expect((await stack.call("GET", "/api/me?workshop=no-such-workshop", kim.token)).status).toBe(404);

    // On B's confirm step Kim says no; Lou says yes to B only. Both claim keys in both workshops.
    expect((await put(kim.token, { display_name: "Kim", marketing_opted_in: false, workshop: "consent-b" })).status).toBe(200);
    expect((await put(lou.token, { display_name: "Lou", marketing_opted_in: true, workshop: "consent-b" })).status).toBe(200);
    for (const who of [kim, lou]) for (const slug of ["consent-a", "consent-b"]) expect((await stack.call("POST", `/api/workshops/${slug}/claim`, who.token)).status).toBe(201);

    expect((await csvLines("consent-a")).slice(1)).toEqual([expect.stringMatching(/^"kim@example\.com","Kim","\d{4}-/)]);
    expect((await csvLines("consent-b")).slice(1)).toEqual([expect.stringMatching(/^"lou@example\.com","Lou","\d{4}-/)]);

    // Withdrawing on A's confirm step takes Kim out of A's export.
    expect((await put(kim.token, { display_name: "Kim", marketing_opted_in: false, workshop: "consent-a" })).status).toBe(200);
    expect(await csvLines("consent-a")).toEqual(['"email","display_name","opted_in_at"']);
  });

  it("reads a profile's old global consent as consent for the workshop it was given for, and no other", async () => {
    await stack.addWorkshop(testWorkshop("legacy-a", stack.now(), { organizers }));
    await stack.addWorkshop(testWorkshop("legacy-b", stack.now(), { organizers }));
    const legacy = await stack.attendee("legacy@example.com", { sub: "legacy-sub", name: "Old Timer" });
    // What the confirm step wrote before consent was kept per workshop.
    await DynamoDBDocumentClient.from(stack.dynamo.client).send(
      new UpdateCommand({
        TableName: stack.store.tableNames.attendees,
        Key: { user_id: "legacy-sub" },
        UpdateExpression: "SET marketing_opted_in = :yes, marketing_opted_in_at = :at, marketing_opted_in_workshop = :w",
        ExpressionAttributeValues: { ":yes": true, ":at": "2026-01-02T03:04:05.000Z", ":w": "legacy-a" },
      }),
    );
    for (const slug of ["legacy-a", "legacy-b"]) expect((await stack.call("POST", `/api/workshops/${slug}/claim`, legacy.token)).status).toBe(201);
    expect((await csvLines("legacy-a")).slice(1)).toEqual(['"legacy@example.com","Old Timer","2026-01-02T03:04:05.000Z"']);
    expect((await csvLines("legacy-b")).slice(1)).toEqual([]);
    expect(await json(await stack.call("GET", "/api/me?workshop=legacy-b", legacy.token))).toMatchObject({ consent: { decided: false } });
    // An answer given on the workshop's confirm step since then replaces the old one.
    expect((await put(legacy.token, { display_name: "Old Timer", marketing_opted_in: false, workshop: "legacy-a" })).status).toBe(200);
    expect((await csvLines("legacy-a")).slice(1)).toEqual([]);
  });

  it("cleans display names when they are saved and keeps every CSV cell from running as a formula", async () => {
    await stack.addWorkshop(testWorkshop("csv", stack.now(), { organizers }));
    const names: [string, string, string][] = [
      // sent, stored, as the CSV cell carries it
      ["=HYPERLINK(\"http://x.example\")", "=HYPERLINK(\"http://x.example\")", '"\'=HYPERLINK(""http://x.example"")"'],
      ["Eve;=cmd|' /C calc'!A0", "Eve;=cmd|' /C calc'!A0", `"Eve;'=cmd|' /C calc'!A0"`],
      ["Tab\t=1+1", "Tab =1+1", '"Tab =1+1"'],
      ["\u202Egnp.exe\u2066 Mallory\u2069\u202C", "gnp.exe Mallory", '"gnp.exe Mallory"'],
      ["+49 Ada\r\n@Lovelace", "+49 Ada @Lovelace", `"'+49 Ada @Lovelace"`],
      ["-Bob\u0000", "-Bob", `"'-Bob"`],
    ];
    for (const [i, [sent, stored]] of names.entries()) {
      const token = stack.issuer.tokenFor({ sub: `csv-${i}`, email: `csv${i}@example.com` });
      const res = await put(token, { display_name: sent, marketing_opted_in: true, workshop: "csv" });
      expect(res.status).toBe(200);
      expect((await json<{ display_name: string }>(res)).display_name).toBe(stored);
      expect((await stack.store.getAttendee(`csv-${i}`))!.display_name).toBe(stored);
    }
    // Nothing but controls and overrides is no name at all.
    expect((await put(stack.issuer.tokenFor({ sub: "csv-empty", email: "e@example.com" }), { display_name: "\u202E\t\u2066", marketing_opted_in: false })).status).toBe(400);

    const lines = await csvLines("csv");
    expect(lines[0]).toBe('"email","display_name","opted_in_at"');
    const cells = new Map(lines.slice(1).map((l) => [l.split(",")[0], l.slice(l.indexOf(",") + 1, l.lastIndexOf(","))]));
    for (const [i, [, , cell]] of names.entries()) expect(cells.get(`"csv${i}@example.com"`)).toBe(cell);
  });
});

describe("organizer", () => {
  const routes = (slug: string, userId: string): [string, string][] => [
    ["GET", `/api/admin/workshops/${slug}/claims`],
    ["POST", `/api/admin/workshops/${slug}/claims/${userId}/retry-binding`],
    ["POST", `/api/admin/workshops/${slug}/claims/${userId}/revoke`],
    ["POST", `/api/admin/workshops/${slug}/pause`],
    ["POST", `/api/admin/workshops/${slug}/resume`],
    ["GET", `/api/admin/workshops/${slug}/marketing.csv`],
    ["GET", "/api/admin/workshops"],
  ];

  it("lists each workshop's spend as the last sync's total, with when that sync ran", async () => {
    const organizer = stack.issuer.tokenFor(ORGANIZER);
    type Row = { slug: string; usage_usd: number; usage_synced_at: string | null };
    const row = async () => (await json<{ workshops: Row[] }>(await stack.call("GET", "/api/admin/workshops", organizer))).workshops.find((w) => w.slug === "later")!;
    // Claims there open in an hour: no sync has run.
    expect(await row()).toMatchObject({ usage_usd: 0, usage_synced_at: null });
    // The sync job, as the scheduler runs it: the list then says what it found, and when.
    const runJob = createJobRunner({ store: stack.store, housekeeping: createHousekeeping({ client: stack.dynamo.client, tableNames: stack.store.tableNames }), engine: stack.engine, openrouter: stack.openrouter, now: stack.now });
    await runJob({ job: "sync", slug: "later" });
    const sample = await stack.store.latestSpendSample("later");
    expect(sample).toBeDefined();
    expect(await row()).toMatchObject({ usage_usd: sample!.usage_usd, usage_synced_at: sample!.at });
  });

  it("a non-organizer gets 403 on every organizer route, and changes nothing", async () => {
    const victim = await stack.attendee("victim@example.com", { sub: "victim" });
    await stack.call("POST", "/api/workshops/open/claim", victim.token);
    const outsiders = [
      stack.issuer.tokenFor({ sub: "outsider", email: "outsider@example.com" }),
      // An organizer's address that the provider has not verified grants nothing.
      stack.issuer.tokenFor({ sub: "spoofer", email: "organizer@example.com", emailVerified: false }),
      stack.issuer.tokenFor({ sub: "grouped", email: "g@example.com", groups: ["users", "Admins"] }),
    ];
    for (const token of outsiders) {
      for (const [method, path] of routes("open", "victim")) {
        const res = await stack.call(method, path, token);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect((await json<{ error: { code: string } }>(res)).error.code).toBe("forbidden");
      }
    }
    expect((await stack.store.getClaim("open", "victim"))!.status).toBe("ACTIVE");
    expect((await stack.store.getLedger("open")).paused).toBe(false);
  });

  it("an organizer (listed email, any case) sees claims, pauses and resumes, exports consenting attendees", async () => {
    const org = stack.issuer.tokenFor({ sub: ORGANIZER.sub, email: "ORGANIZER@example.com" });
    const me = await json<{ organizer_of: string[] }>(await stack.call("GET", "/api/me", org));
    expect(me.organizer_of.sort()).toEqual(["later", "open", "over"]);

    const list = await json<{ workshops: { slug: string; committed_usd: number; cap_usd: number }[] }>(await stack.call("GET", "/api/admin/workshops", org));
    expect(list.workshops.find((w) => w.slug === "open")).toMatchObject({ cap_usd: 800 });

    const claims = await json<{ claims: { user_id: string; status: string; email: string }[]; totals: Record<string, number>; spend: unknown[] }>(
      await stack.call("GET", "/api/admin/workshops/open/claims", org),
    );
    expect(claims.claims.length).toBeGreaterThan(0);
    expect(claims.totals).toMatchObject({ claimed: claims.claims.filter((c) => c.status !== "RELEASED").length, capacity: 300, cap_usd: 800 });
    expect(claims.totals.committed_usd).toBe(claims.totals.claimed * 2);

    const paused = await stack.call("POST", "/api/admin/workshops/open/pause", org);
    expect(await json(paused)).toMatchObject({ slug: "open", paused: true, state: "paused" });
    const u = await stack.attendee("during-pause@example.com");
    const refused = await stack.call("POST", "/api/workshops/open/claim", u.token);
    expect(refused.status).toBe(423);
    expect((await json<{ error: { code: string } }>(refused)).error.code).toBe("claims_paused");
    const resumed = await stack.call("POST", "/api/admin/workshops/open/resume", org);
    expect(await json(resumed)).toMatchObject({ paused: false, state: "open" });
    expect((await stack.call("POST", "/api/workshops/open/claim", u.token)).status).toBe(201);

    const csv = await stack.call("GET", "/api/admin/workshops/open/marketing.csv", org);
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toBe('"email","display_name","opted_in_at"');
    // Only "newcomer" opted in for this workshop (in the attendee test above).
    expect(lines.slice(1)).toHaveLength(1);
    expect(lines[1]).toMatch(/^"newcomer@example\.com","Newcomer","\d{4}-/);

    // Attendance: every claim, whatever its state, consent or not, and never a key.
    const victim = await stack.attendee("to-revoke@example.com", { name: "=HYPERLINK(evil)" });
    expect((await stack.call("POST", "/api/workshops/open/claim", victim.token)).status).toBe(201);
    expect((await stack.call("POST", `/api/admin/workshops/open/claims/${victim.sub}/revoke`, org)).status).toBe(200);
    const attendance = await stack.call("GET", "/api/admin/workshops/open/attendance.csv", org);
    expect(attendance.status).toBe(200);
    expect(attendance.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(attendance.headers.get("content-disposition")).toContain("open-attendance.csv");
    const text = await attendance.text();
    expect(text).not.toMatch(/sk-or-/);
    const rows = text.trim().split("\r\n");
    expect(rows[0]).toBe('"email","display_name","status","claimed_at","spent_usd","budget_usd"');
    const stored = (await stack.store.listClaims("open")).length;
    expect(rows.slice(1)).toHaveLength(stored);
    expect(rows.find((r) => r.startsWith('"to-revoke@example.com"'))).toMatch(/^"to-revoke@example\.com","'=HYPERLINK\(evil\)","REVOKED","\d{4}-[^,]+","0","2"$/);
    expect(rows.some((r) => r.startsWith('"newcomer@example.com","Newcomer","ACTIVE",'))).toBe(true);

    // The totals show revoked keys apart; the revoked key's slot is back in the pool.
    const after = await json<{ totals: { claimed: number; committed_usd: number; revoked: { keys: number; usage_usd: number } } }>(
      await stack.call("GET", "/api/admin/workshops/open/claims", org),
    );
    expect(after.totals.revoked).toEqual({ keys: 1, usage_usd: 0 });
    expect(after.totals.claimed).toBe(stored - 1);
  });

  it("organizers of one workshop are not organizers of another", async () => {
    await stack.addWorkshop(testWorkshop("elsewhere", stack.now(), { organizers: ["other@example.org"] }));
    const org = stack.issuer.tokenFor({ sub: ORGANIZER.sub, email: ORGANIZER.email });
    expect((await stack.call("GET", "/api/admin/workshops/elsewhere/claims", org)).status).toBe(403);
    const admin = stack.issuer.tokenFor({ sub: "admin", email: "admin@example.org", groups: ["admins"] });
    expect((await stack.call("GET", "/api/admin/workshops/elsewhere/claims", admin)).status).toBe(200);
  });
});
