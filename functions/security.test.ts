import { createHmac, createPublicKey, generateKeyPairSync, type JsonWebKey } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ensureTables } from "../local/dynamo.js";
import { KEY_PATTERN } from "../local/log-guard.js";
import { startLocalStack, type LocalStack } from "../local/stack.js";
import { apiGatewayEvent, startTestStack, testWorkshop, TEST_CLIENT_ID, type TestStack } from "../local/test-stack.js";
import { createStore } from "./data/store.js";
import { captureStdout } from "../local/stdout-records.js";
import { tableNames } from "./data/tables.js";

/**
 * The security promises, checked against the real parts (dynalite, the OpenRouter emulator, a JWKS
 * on loopback, the local stack): a bad token opens no authenticated route, an attendee opens no
 * organizer route and never sees another attendee's key, bad bodies change nothing, the local
 * stack sends its security headers, and no key ever appears in an error answer or a Lambda log.
 *
 * Routes are read from the app itself, so a route added later is covered without editing this file;
 * the public routes are listed here on purpose, so a new public route is a visible decision.
 */

const PUBLIC_ROUTES = ["GET /api/workshops", "GET /api/workshops/:slug"];
// No sign-in either: a signed projector link (`?link=`, made by an organizer) is what opens them.
const LINK_ROUTES = ["GET /api/workshops/:slug/projector"];
const SLUG = "guarded";
const ORGANIZER = { sub: "sec-organizer", email: "organizer@example.com" };

let stack: TestStack;
let alice: { sub: string; token: string };
let bob: { sub: string; token: string };
let aliceKey: string;
let organizerToken: string;

interface Route {
  method: string;
  path: string;
}

/** Every route the app serves (middleware entries excluded), as "METHOD /path/:param". */
function appRoutes(): Route[] {
  const seen = new Set<string>();
  const routes: Route[] = [];
  for (const r of stack.app.routes) {
    if (r.method === "ALL" || !r.path.startsWith("/api/")) continue;
    const id = `${r.method} ${r.path}`;
    if (seen.has(id)) continue;
    seen.add(id);
    routes.push({ method: r.method, path: r.path });
  }
  return routes;
}

const routeId = (r: Route) => `${r.method} ${r.path}`;
const authenticated = () => appRoutes().filter((r) => !PUBLIC_ROUTES.includes(routeId(r)) && !LINK_ROUTES.includes(routeId(r)));
const organizerRoutes = () => appRoutes().filter((r) => r.path.startsWith("/api/admin/"));
const withBody = () => authenticated().filter((r) => r.method === "POST" || r.method === "PUT");

/** A concrete URL for a route: the guarded workshop, and `userId` for routes that name a user. */
function concrete(r: Route, userId: string): string {
  return r.path.replace(":slug", SLUG).replace(":userId", encodeURIComponent(userId));
}

const json = async <T = { error: { code: string; message: string } }>(res: Response) => (await res.json()) as T;

beforeAll(async () => {
  stack = await startTestStack();
  const guardrail = await stack.openrouter.ensureGuardrail({ name: `workshop-${SLUG}`, description: "t", allowed_models: ["openai/gpt-5-nano"], limit_usd: 800, reset_interval: "monthly" });
  await stack.addWorkshop(testWorkshop(SLUG, stack.now()), guardrail.id);
  alice = await stack.attendee("alice@example.com", { sub: "sec-alice" });
  bob = await stack.attendee("bob@example.com", { sub: "sec-bob" });
  organizerToken = stack.issuer.tokenFor(ORGANIZER);
  const claimed = await stack.call("POST", `/api/workshops/${SLUG}/claim`, alice.token);
  expect(claimed.status).toBe(201);
  aliceKey = (await json<{ key: { key: string } }>(claimed)).key.key;
  expect(aliceKey).toMatch(KEY_PATTERN);
});

afterAll(async () => {
  await stack?.close();
});

/** What the guarded workshop looks like; a refused request must leave it exactly so. */
async function guardedState() {
  const claims = await stack.store.listClaims(SLUG);
  return {
    ledger: await stack.store.getLedger(SLUG),
    claims: claims.map((c) => ({ user: c.user_id, status: c.status, key_hash: c.key_hash })).sort((a, b) => a.user.localeCompare(b.user)),
    upstream: stack.upstream.emulator.state.keys.map((k) => ({ hash: k.hash, disabled: k.disabled })),
  };
}

describe("the routes under test", () => {
  it("are every route of the contract, and only the listed ones are public", () => {
    const ids = appRoutes().map(routeId);
    for (const expected of [
      ...PUBLIC_ROUTES,
      ...LINK_ROUTES,
      "GET /api/me",
      "PUT /api/me",
      "POST /api/workshops/:slug/claim",
      "GET /api/workshops/:slug/key",
      "GET /api/admin/workshops",
      "GET /api/admin/workshops/:slug/claims",
      "POST /api/admin/workshops/:slug/claims/:userId/retry-binding",
      "POST /api/admin/workshops/:slug/claims/:userId/revoke",
      "POST /api/admin/workshops/:slug/pause",
      "POST /api/admin/workshops/:slug/resume",
      "GET /api/admin/workshops/:slug/marketing.csv",
      "GET /api/admin/workshops/:slug/room-code",
      "POST /api/admin/workshops/:slug/projector-link",
    ]) {
      expect(ids).toContain(expected);
    }
    expect(authenticated().length).toBe(ids.length - PUBLIC_ROUTES.length - LINK_ROUTES.length);
  });

  it("link routes refuse a request without a valid link (no token opens them either), and carry no key", async () => {
    for (const r of appRoutes().filter((x) => LINK_ROUTES.includes(routeId(x)))) {
      for (const query of ["", "?link=", "?link=1.abc", `?link=${"9".repeat(10)}.${"A".repeat(43)}`]) {
        for (const token of [undefined, organizerToken]) {
          const res = await stack.call(r.method, concrete(r, alice.sub) + query, token);
          expect(res.status, `${routeId(r)}${query}`).toBe(403);
          const text = await res.text();
          expect(JSON.parse(text).error.code).toBe("projector_link_invalid");
          expect(text).not.toMatch(KEY_PATTERN);
        }
      }
    }
  });

  it("public routes answer without a token, and carry no key", async () => {
    for (const r of appRoutes().filter((x) => PUBLIC_ROUTES.includes(routeId(x)))) {
      const res = await stack.call(r.method, concrete(r, alice.sub));
      expect(res.status, routeId(r)).toBe(200);
      expect(await res.text()).not.toMatch(KEY_PATTERN);
    }
  });
});

describe("the token matrix on every authenticated route", () => {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const nowS = () => Math.floor(Date.now() / 1000);
  // Every bad token claims to be an admin and the listed organizer: if any check were skipped,
  // the request would succeed instead of answering 401.
  const powerful = () => ({ sub: ORGANIZER.sub, email: ORGANIZER.email, email_verified: true, "cognito:groups": ["admins"] });
  // The issuer's public key as PEM: what an attacker would use as an HMAC secret.
  let publicPem = "";
  const strangerKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  beforeAll(async () => {
    const jwks = (await (await fetch(stack.issuer.jwksUri)).json()) as { keys: JsonWebKey[] };
    publicPem = createPublicKey({ key: jwks.keys[0]!, format: "jwk" }).export({ type: "spki", format: "pem" }).toString();
  });
  const goodClaims = () => ({ ...powerful(), iss: stack.issuer.issuer, aud: TEST_CLIENT_ID, token_use: "id", iat: nowS(), exp: nowS() + 600 });

  const cases: [string, () => { authorization?: string }][] = [
    ["no Authorization header", () => ({})],
    ["an empty bearer", () => ({ authorization: "Bearer " })],
    ["another scheme (Basic)", () => ({ authorization: `Basic ${Buffer.from("organizer:secret").toString("base64")}` })],
    ["expired", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), iat: nowS() - 7200, exp: nowS() - 3600 })}` })],
    ["no expiry (exp left out)", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), exp: undefined })}` })],
    ["issued in the future (iat an hour ahead)", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), iat: nowS() + 3600, exp: nowS() + 7200 })}` })],
    ["not yet valid (nbf in the future)", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), nbf: nowS() + 3600 })}` })],
    ["wrong issuer", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), iss: "http://127.0.0.1:1/elsewhere" })}` })],
    ["wrong client (audience)", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), aud: "another-client" })}` })],
    ["access token (token_use access)", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), token_use: "access" })}` })],
    ["no token_use", () => ({ authorization: `Bearer ${stack.issuer.sign({ ...powerful(), token_use: undefined })}` })],
    ["alg none", () => ({ authorization: `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64(goodClaims())}.` })],
    [
      "HS256 signed with the public key (algorithm confusion)",
      () => {
        const input = `${b64({ alg: "HS256", typ: "JWT", kid: "test-key-1" })}.${b64(goodClaims())}`;
        return { authorization: `Bearer ${input}.${createHmac("sha256", publicPem).update(input).digest("base64url")}` };
      },
    ],
    [
      "tampered payload (an attendee's token made admin)",
      () => {
        const [h, , s] = stack.issuer.tokenFor({ sub: "sec-mallory", email: "mallory@example.com" }).split(".");
        return { authorization: `Bearer ${h}.${b64(goodClaims())}.${s}` };
      },
    ],
    ["unsigned (signature stripped)", () => ({ authorization: `Bearer ${stack.issuer.sign(powerful()).split(".").slice(0, 2).join(".")}.` })],
    ["signed by another key under the same kid", () => ({ authorization: `Bearer ${stack.issuer.sign(powerful(), { key: strangerKey })}` })],
    ["an unknown kid", () => ({ authorization: `Bearer ${stack.issuer.sign(powerful(), { kid: "not-a-known-key" })}` })],
    ["not a JWT", () => ({ authorization: "Bearer definitely-not-a-token" })],
    ["an OpenRouter key pasted as the token", () => ({ authorization: `Bearer ${aliceKey}` })],
  ];

  it.each(cases)("%s: 401 with WWW-Authenticate on every authenticated route, and nothing changes", async (_name, headersFor) => {
    const before = await guardedState();
    for (const r of authenticated()) {
      const headers: Record<string, string> = { ...headersFor() } as Record<string, string>;
      const res = await stack.app.request(concrete(r, alice.sub), { method: r.method, headers });
      expect(res.status, routeId(r)).toBe(401);
      expect(res.headers.get("www-authenticate"), routeId(r)).toMatch(/^Bearer/);
      const text = await res.text();
      expect(JSON.parse(text).error.code, routeId(r)).toBe("unauthorized");
      expect(text, routeId(r)).not.toMatch(KEY_PATTERN);
    }
    expect(await guardedState()).toEqual(before);
  });
});

describe("organizer routes", () => {
  it("refuse attendees with 403 on every organizer route, and change nothing", async () => {
    const before = await guardedState();
    const attendees = [
      alice.token,
      bob.token,
      // The organizer's address, not verified by the provider, grants nothing.
      stack.issuer.tokenFor({ sub: "sec-spoofer", email: ORGANIZER.email, emailVerified: false }),
      // Groups that merely look like the admin group grant nothing.
      stack.issuer.tokenFor({ sub: "sec-grouped", email: "grouped@example.com", groups: ["Admins", "admins ", "users"] }),
    ];
    for (const token of attendees) {
      for (const r of organizerRoutes()) {
        const res = await stack.call(r.method, concrete(r, alice.sub), token);
        expect(res.status, routeId(r)).toBe(403);
        const text = await res.text();
        expect(JSON.parse(text).error.code).toBe("forbidden");
        expect(text).not.toMatch(KEY_PATTERN);
      }
    }
    expect(await guardedState()).toEqual(before);
  });

  it("answer the workshop's organizer, and never with a key", async () => {
    for (const r of organizerRoutes().filter((x) => x.method === "GET")) {
      const res = await stack.call(r.method, concrete(r, alice.sub), organizerToken);
      expect(res.status, routeId(r)).toBe(200);
      expect(await res.text(), routeId(r)).not.toMatch(KEY_PATTERN);
    }
  });
});

describe("one attendee's key", () => {
  it("is never in any answer to another attendee, whatever route, parameter or body names its owner", async () => {
    const probes: { r: Route; url: string; body?: unknown }[] = [];
    for (const r of appRoutes()) {
      const url = concrete(r, alice.sub);
      probes.push({ r, url }, { r, url: `${url}?user_id=${alice.sub}&sub=${alice.sub}&email=alice@example.com` });
      if (r.method !== "GET") probes.push({ r, url, body: { user_id: alice.sub } }, { r, url, body: { sub: alice.sub, email: "alice@example.com" } });
    }
    for (const p of probes) {
      const res = await stack.call(p.r.method, p.url, bob.token, p.body);
      const text = await res.text();
      expect(text, `${p.r.method} ${p.url}`).not.toContain(aliceKey);
    }
    // Bob's own view of the workshop: no claim of his, and a claim of his own is a different key.
    const mine = await stack.call("GET", `/api/workshops/${SLUG}/key`, bob.token);
    expect(mine.status === 204 || mine.status === 200).toBe(true);
    const bobs = await stack.call("POST", `/api/workshops/${SLUG}/claim`, bob.token);
    expect([200, 201]).toContain(bobs.status);
    expect((await json<{ key: { key: string } }>(bobs)).key.key).not.toBe(aliceKey);
    // Alice still holds hers.
    expect((await json<{ key: string }>(await stack.call("GET", `/api/workshops/${SLUG}/key`, alice.token))).key).toBe(aliceKey);
  });
});

describe("request bodies", () => {
  const tokenFor = (r: Route) => (r.path.startsWith("/api/admin/") ? organizerToken : alice.token);

  it("oversize (> 4 KB) and unknown-field bodies are refused with 400 on every route that takes a body, and change nothing", async () => {
    const before = await guardedState();
    const profileBefore = await stack.store.getAttendee(alice.sub);
    expect(withBody().length).toBeGreaterThanOrEqual(6);
    const bodies: [string, string][] = [
      ["oversize", JSON.stringify({ display_name: "x".repeat(5000), marketing_opted_in: true })],
      ["oversize, only padding", JSON.stringify({ padding: " ".repeat(4097) })],
      ["unknown field", JSON.stringify({ display_name: "Alice", marketing_opted_in: false, is_admin: true })],
      ["only an unknown field", JSON.stringify({ user_id: bob.sub })],
      ["not JSON", "{display_name: Alice"],
      ["a JSON array", "[]"],
    ];
    for (const r of withBody()) {
      for (const [what, body] of bodies) {
        const res = await stack.call(r.method, concrete(r, alice.sub), tokenFor(r), body);
        expect(res.status, `${routeId(r)} ${what}`).toBe(400);
        const err = (await json(res)).error;
        expect(err.message.length, `${routeId(r)} ${what}`).toBeGreaterThan(0);
      }
    }
    expect(await guardedState()).toEqual(before);
    expect(await stack.store.getAttendee(alice.sub)).toEqual(profileBefore);
  });
});

describe("secrets in error answers and Lambda logs", () => {
  /**
   * The API Lambda itself (functions/api/handler.ts), configured through its environment and driven
   * with API Gateway events, while the emulator fails the upstream calls a claim, a binding retry
   * and a revoke make. Every error answer and every log line is scanned for anything shaped like
   * an OpenRouter key (the management key included).
   */
  const names = tableNames("sec-lambda");
  const saved = { ...process.env };
  const lines: string[] = [];
  let printedLines: string[] = [];
  let invoke: (method: string, path: string, token?: string, body?: string) => Promise<{ statusCode: number; body: string }>;
  const keysSeen: string[] = [];

  beforeAll(async () => {
    await ensureTables(stack.dynamo.client, names);
    const store = createStore({ client: stack.dynamo.client, tableNames: names });
    await store.putWorkshop("lambda-sec", { config: testWorkshop("lambda-sec", Date.now()) }, Date.now());
    for (const u of ["lam-a", "lam-b", "lam-c", "lam-d"]) await store.confirmProfile(u, { displayName: u }, Date.now());
    Object.assign(process.env, {
      ATTENDEES_TABLE: names.attendees,
      WORKSHOPS_TABLE: names.workshops,
      OPENROUTER_BASE_URL: stack.upstream.url,
      OPENROUTER_MANAGEMENT_KEY: stack.upstream.managementKey,
      AUTH_ISSUER: stack.issuer.issuer,
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_JWKS_URI: stack.issuer.jwksUri,
      AWS_ENDPOINT_URL_DYNAMODB: stack.dynamo.endpoint,
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
    });
    // The handler's logger and metrics print JSON records on stdout and stderr; anything else it may
    // print through console is captured too.
    const printed = captureStdout();
    printedLines = printed.lines;
    for (const method of ["log", "error", "warn", "info"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map((a) => (typeof a === "string" ? a : a instanceof Error ? `${a.message} ${a.stack}` : JSON.stringify(a))).join(" ")));
    }
    const { handler } = (await import("./api/handler.js")) as unknown as { handler: (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string }> };
    invoke = (method, path, token, body) =>
      handler(apiGatewayEvent(method, path, { token, body }), {});
  });

  afterAll(() => {
    vi.restoreAllMocks();
    stack.upstream.emulator.setFaults({});
    process.env = saved;
  });

  const token = (sub: string) => stack.issuer.tokenFor({ sub, email: `${sub}@example.com` });
  const organizer = () => stack.issuer.tokenFor({ sub: "lam-org", email: ORGANIZER.email });

  it("errors after a claim, upstream failures and a store that vanished mid-claim never show a key", async () => {
    const errorBodies: string[] = [];
    const expectError = async (status: number, call: Promise<{ statusCode: number; body: string }>) => {
      const res = await call;
      expect(res.statusCode, res.body).toBe(status);
      errorBodies.push(res.body);
      return res;
    };

    // A claim that works: its owner gets the key (the one answer allowed to carry it).
    const a = await invoke("POST", "/api/workshops/lambda-sec/claim", token("lam-a"), "{}");
    expect(a.statusCode).toBe(201);
    keysSeen.push(JSON.parse(a.body).key.key);

    // Upstream refuses to disable the key: the revoke fails with 503.
    stack.upstream.emulator.setFaults({ "keys.update": { errorRate: 1, errorStatus: 502 } });
    await expectError(503, invoke("POST", "/api/admin/workshops/lambda-sec/claims/lam-a/revoke", organizer(), "{}"));

    // The assignment fails: B's key works but stays UNBOUND; the organizer's retry fails with 503.
    stack.upstream.emulator.setFaults({ "guardrails.assign": { errorRate: 1, errorStatus: 503 } });
    const b = await invoke("POST", "/api/workshops/lambda-sec/claim", token("lam-b"), "{}");
    expect(b.statusCode).toBe(201);
    expect(JSON.parse(b.body).key.status).toBe("UNBOUND");
    keysSeen.push(JSON.parse(b.body).key.key);
    await expectError(503, invoke("POST", "/api/admin/workshops/lambda-sec/claims/lam-b/retry-binding", organizer(), "{}"));

    // The mint fails (rate limited, then 5xx): C is told to try again, nothing is used up.
    stack.upstream.emulator.setFaults({ "keys.create": { rateLimitRate: 0.5, errorRate: 1, retryAfterSeconds: 0.05 } });
    await expectError(503, invoke("POST", "/api/workshops/lambda-sec/claim", token("lam-c"), "{}"));
    stack.upstream.emulator.setFaults({});

    // Asking for someone else's claim (D has none: "no key yet", 204 and nothing else), bad bodies, a key pasted as the token.
    const none = await invoke("GET", "/api/workshops/lambda-sec/key", token("lam-d"));
    expect(none.statusCode).toBe(204);
    expect(none.body).toBe("");
    await expectError(400, invoke("POST", "/api/workshops/lambda-sec/claim", token("lam-a"), JSON.stringify({ key: "please" })));
    await expectError(401, invoke("GET", "/api/workshops/lambda-sec/key", keysSeen[0]));

    // The store vanishes while D's key is being minted: the key exists upstream, the write that
    // would store it fails, and the answer is a 500. (A deleted table is the local DynamoDB's
    // way to fail a write that a real outage would fail.)
    stack.upstream.emulator.setFaults({ "keys.create": { latencyMs: 600 } });
    const keysBefore = stack.upstream.emulator.state.keys.length;
    const mintsBefore = stack.upstream.emulator.stats().calls["keys.create"] ?? 0;
    const pending = invoke("POST", "/api/workshops/lambda-sec/claim", token("lam-d"), "{}");
    // The table goes once the mint is on its way (the emulator has the call, and holds it 600 ms).
    await vi.waitFor(() => expect(stack.upstream.emulator.stats().calls["keys.create"] ?? 0).toBeGreaterThan(mintsBefore), { timeout: 10_000, interval: 5 });
    await stack.dynamo.client.send(new DeleteTableCommand({ TableName: names.workshops }));
    const d = await pending;
    stack.upstream.emulator.setFaults({});
    expect(d.statusCode, d.body).toBeGreaterThanOrEqual(500);
    errorBodies.push(d.body);
    expect(stack.upstream.emulator.state.keys.length).toBe(keysBefore + 1);

    expect(errorBodies).toHaveLength(6);
    for (const body of errorBodies) {
      expect(body).not.toMatch(KEY_PATTERN);
      expect(body).not.toContain(stack.upstream.managementKey);
      expect(() => JSON.parse(body)).not.toThrow();
      expect(JSON.parse(body).error.code).toMatch(/^[a-z_]+$/);
    }
    // The Lambda logged its failures as JSON records, and none carries a key.
    const all = [...lines, ...printedLines];
    expect(printedLines.length).toBeGreaterThan(0);
    for (const line of all) {
      expect(line).not.toMatch(KEY_PATTERN);
      expect(line).not.toContain(stack.upstream.managementKey);
      for (const k of keysSeen) expect(line).not.toContain(k);
    }
    const events = all.flatMap((l) => {
      try {
        return [JSON.parse(l) as { message?: string }];
      } catch {
        return [];
      }
    });
    expect(events.map((e) => e.message)).toEqual(expect.arrayContaining(["bind_failed", "mint_failed", "request_failed"]));
  });
});

describe("the local stack", () => {
  let local: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "wkm-sec-stack-"));
    local = await startLocalStack({ port: 0, dataDir, quiet: true, schedulerIntervalMs: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await local?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("sends the security headers on pages, config, API answers, errors and the emulator, and no key in any of them", async () => {
    const paths = ["/", "/index.html", "/config.json", "/healthz", "/api/workshops", "/api/me", "/no/such/page", "/api/no-such-route", "/openrouter/api/v1/models", "/oidc/.well-known/openid-configuration"];
    for (const path of paths) {
      const res = await fetch(`${local.url}${path}`);
      // Nothing the stack serves to anyone carries a key (the emulator's management key included).
      expect(await res.text(), path).not.toMatch(KEY_PATTERN);
      const h = (name: string) => res.headers.get(name) ?? "";
      const csp = h("content-security-policy");
      expect(csp, `${path} content-security-policy`).toMatch(/default-src 'self'/);
      const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? "";
      expect(scriptSrc, `${path} script-src`).toContain("'self'");
      expect(scriptSrc, `${path} script-src`).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).toMatch(/object-src 'none'/);
      expect(h("x-content-type-options"), path).toBe("nosniff");
      expect(h("x-frame-options").toUpperCase(), path).toBe("DENY");
      expect(h("referrer-policy"), path).toMatch(/^(no-referrer|strict-origin|strict-origin-when-cross-origin|same-origin)$/);
    }
    // Only the public status may be kept by a cache (5 s, for CloudFront); everything else is no-store.
    const status = await fetch(`${local.url}/api/workshops`);
    await status.arrayBuffer();
    expect(status.headers.get("cache-control")).toBe("public, max-age=5, s-maxage=5");
    const me = await fetch(`${local.url}/api/me`);
    await me.arrayBuffer();
    expect(me.headers.get("cache-control")).toBe("no-store");
    // The page itself has no inline script for the policy to have to allow.
    const html = await (await fetch(`${local.url}/`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
  });
});
