import { request as httpRequest } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEmulator, startEmulator, type RunningEmulator } from "./index.js";

/**
 * Upstream's documented quirks, persistence across a restart, fault injection through the control
 * endpoints, and mounting inside another app. Plain fetch on loopback, to see the raw HTTP.
 */

const MANAGEMENT_KEY = `sk-or-v1-${"9a".repeat(32)}`;
let running: RunningEmulator;
let dir: string;

async function call(method: string, path: string, body?: unknown, key = MANAGEMENT_KEY, base = running.url) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

const future = (ms = 86_400_000) => new Date(Math.floor((Date.now() + ms) / 1000) * 1000).toISOString().replace(".000Z", "Z");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "emulator-test-"));
  // An organization's account, so that a test can make a workspace of its own (workspaces.test.ts has the rules).
  running = await startEmulator({ managementKey: MANAGEMENT_KEY, seed: 3, accountKind: "organization" });
});
afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  running.emulator.setFaults({});
  running.emulator.resetStats();
});

describe("documented quirks", () => {
  it("accepts guardrail_ids on POST /keys and ignores them", async () => {
    const g = await call("POST", "/guardrails", { name: "quirk-ids", allowed_models: ["openai/gpt-5-nano"] });
    expect(g.status).toBe(201);
    const k = await call("POST", "/keys", { name: "quirk/ids", limit: 1, expires_at: future(), guardrail_ids: [g.body.data.id] });
    expect(k.status).toBe(201);
    const assignments = await call("GET", `/guardrails/${g.body.data.id}/assignments/keys`);
    expect(assignments.body).toEqual({ data: [], total_count: 0 });
  });

  it("rejects expires_at without seconds, outside UTC, or in the past; accepts seconds and milliseconds", async () => {
    const day = future().slice(0, 10);
    for (const bad of [`${day}T13:15Z`, `${day}T13:15`, `${day}T13:15:00`, `${day}T13:15:00+02:00`, "2020-01-01T00:00:00Z", "tomorrow"]) {
      const res = await call("POST", "/keys", { name: "quirk/expiry", limit: 1, expires_at: bad });
      expect(res.status, bad).toBe(400);
      expect(res.body.error).toMatchObject({ code: 400 });
    }
    for (const good of [`${day}T13:15:00Z`, `${day}T13:15:00.000Z`, `${day}T13:15:00+00:00`]) {
      const res = await call("POST", "/keys", { name: "quirk/expiry", limit: 1, expires_at: good });
      expect(res.status, good).toBe(201);
      expect(res.body.data.expires_at).toBe(`${day}T13:15:00Z`);
    }
  });

  it("refuses to change expires_at after creation", async () => {
    const k = await call("POST", "/keys", { name: "quirk/patch-expiry", limit: 1, expires_at: future() });
    const res = await call("PATCH", `/keys/${k.body.data.hash}`, { expires_at: future(2 * 86_400_000) });
    expect(res.status).toBe(400);
    expect((await call("GET", `/keys/${k.body.data.hash}`)).body.data.expires_at).toBe(k.body.data.expires_at);
  });

  it("requires reset_interval with a guardrail limit_usd", async () => {
    expect((await call("POST", "/guardrails", { name: "quirk-limit", limit_usd: 10 })).status).toBe(400);
    const g = await call("POST", "/guardrails", { name: "quirk-limit", limit_usd: 10, reset_interval: "daily" });
    expect(g.status).toBe(201);
    expect((await call("PATCH", `/guardrails/${g.body.data.id}`, { reset_interval: null })).status).toBe(400);
    expect((await call("PATCH", `/guardrails/${g.body.data.id}`, { limit_usd: null, reset_interval: null })).status).toBe(200);
  });

  it("refuses empty collection fields and keeps guardrails per workspace", async () => {
    expect((await call("POST", "/guardrails", { name: "quirk-empty", allowed_models: [] })).status).toBe(400);
    const workspace = "22222222-3333-4444-8555-666666666666";
    const g = await call("POST", "/guardrails", { name: "quirk-ws", workspace_id: workspace });
    expect(g.body.data.workspace_id).toBe(workspace);
    expect((await call("GET", "/guardrails?limit=100")).body.data.map((x: { id: string }) => x.id)).not.toContain(g.body.data.id);
    expect((await call("GET", `/guardrails?workspace_id=${workspace}`)).body.data.map((x: { id: string }) => x.id)).toEqual([g.body.data.id]);
    expect((await call("GET", "/guardrails?limit=101")).status).toBe(400);
  });

  it("lists models whole, or by page when asked", async () => {
    const whole = (await call("GET", "/models")).body;
    expect(whole.data.length).toBe(whole.total_count);
    const page = (await call("GET", "/models?offset=1&limit=2")).body;
    expect(page.data.map((m: { id: string }) => m.id)).toEqual(whole.data.slice(1, 3).map((m: { id: string }) => m.id));
    expect(page.links.next).toBe("/api/v1/models?offset=3&limit=2");
  });

  it("keeps one guardrail per key: assigning elsewhere moves it", async () => {
    const a = (await call("POST", "/guardrails", { name: "quirk-a" })).body.data.id;
    const b = (await call("POST", "/guardrails", { name: "quirk-b" })).body.data.id;
    const hash = (await call("POST", "/keys", { name: "quirk/move", limit: 1, expires_at: future() })).body.data.hash;
    expect((await call("POST", `/guardrails/${a}/assignments/keys`, { key_hashes: [hash] })).body).toEqual({ assigned_count: 1 });
    expect((await call("POST", `/guardrails/${b}/assignments/keys`, { key_hashes: [hash] })).body).toEqual({ assigned_count: 1 });
    expect((await call("GET", `/guardrails/${a}/assignments/keys`)).body.total_count).toBe(0);
    expect((await call("GET", `/guardrails/${b}/assignments/keys`)).body.data[0].key_hash).toBe(hash);
    expect(running.emulator.state.assignments.filter((x) => x.key_hash === hash)).toHaveLength(1);
  });

  it("pages GET /keys by 100 and lists disabled keys only on request", async () => {
    const workspace = (await call("POST", "/workspaces", { name: "Paging", slug: "paging" })).body.data.id as string;
    for (let i = 0; i < 130; i++) {
      const res = await call("POST", "/keys", { name: `quirk/page/${i}`, limit: 1, expires_at: future(), workspace_id: workspace });
      if (i === 0) await call("PATCH", `/keys/${res.body.data.hash}`, { disabled: true });
    }
    const first = await call("GET", `/keys?workspace_id=${workspace}&include_disabled=true`);
    const second = await call("GET", `/keys?workspace_id=${workspace}&include_disabled=true&offset=100`);
    expect(first.body.data).toHaveLength(100);
    expect(second.body.data).toHaveLength(30);
    expect((await call("GET", `/keys?workspace_id=${workspace}&offset=100`)).body.data).toHaveLength(29);
    expect((await call("GET", "/keys?offset=-1")).status).toBe(400);
  });

  it("refuses inference keys on management endpoints and the management key on inference", async () => {
    const created = await call("POST", "/keys", { name: "quirk/roles", limit: 1, expires_at: future() });
    const attendeeKey: string = created.body.key;
    expect((await call("GET", "/keys", undefined, attendeeKey)).status).toBe(403);
    expect((await call("POST", "/guardrails", { name: "x" }, attendeeKey)).status).toBe(403);
    expect((await call("GET", "/credits", undefined, attendeeKey)).status).toBe(403);
    expect((await call("GET", "/keys", undefined, `sk-or-v1-${"0".repeat(64)}`)).status).toBe(401);
    const missing = await fetch(`${running.url}/keys`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: { code: 401, message: "Missing Authentication header" } });

    const chat = await call("POST", "/chat/completions", { model: "openai/gpt-5-nano", messages: [{ role: "user", content: "hi" }] });
    expect(chat.status).toBe(401);
    // GET /key works with either.
    expect((await call("GET", "/key", undefined, attendeeKey)).body.data.is_management_key).toBe(false);
    expect((await call("GET", "/key")).body.data.is_management_key).toBe(true);
  });

  it("answers browsers (CORS) and takes a key in x-api-key too", async () => {
    const preflight = await fetch(`${running.url}/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    const res = await fetch(`${running.url}/credits`, { headers: { "x-api-key": MANAGEMENT_KEY } });
    expect(res.status).toBe(200);
  });

  it("charges exactly by the model's price and enforces the limit before spending", async () => {
    running.emulator.addModels([{ id: "test/priced", price_in_per_mtok: 1_000_000, price_out_per_mtok: 2_000_000 }]);
    const created = await call("POST", "/keys", { name: "quirk/charge", limit: 30, expires_at: future() });
    const key: string = created.body.key;
    // 8 characters -> 2 prompt tokens at $1 each; 5 completion tokens at $2 each: $12 a call.
    const body = { model: "test/priced", messages: [{ role: "user", content: "12345678" }], max_tokens: 5 };
    expect((await call("POST", "/chat/completions", body, key)).body.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 5, cost: 12 });
    expect((await call("POST", "/chat/completions", body, key)).status).toBe(200);
    const refused = await call("POST", "/chat/completions", body, key);
    expect(refused.status).toBe(402);
    expect(refused.body.error.metadata).toEqual({ limit_source: "openrouter_key_limit" });
    const info = (await call("GET", `/keys/${created.body.data.hash}`)).body.data;
    expect(info).toMatchObject({ usage: 24, limit_remaining: 6, usage_daily: 24, usage_weekly: 24, usage_monthly: 24 });
  });
});

describe("fault injection", () => {
  it("is set and read through the control endpoints, and counted per operation", async () => {
    const origin = running.origin;
    const put = await fetch(`${origin}/_emulator/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "keys.create": { rateLimitRate: 1, retryAfterSeconds: 7 }, "*": { latencyMs: 5 } }),
    });
    expect(put.status).toBe(200);
    expect((await (await fetch(`${origin}/_emulator/faults`)).json()).faults["keys.create"]).toEqual({ rateLimitRate: 1, retryAfterSeconds: 7 });

    const limited = await call("POST", "/keys", { name: "fault", limit: 1, expires_at: future() });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.body).toEqual({ error: { code: 429, message: "Rate limit exceeded" } });
    expect((await call("GET", "/credits")).status).toBe(200);

    const stats = await (await fetch(`${origin}/_emulator/stats`)).json();
    expect(stats).toEqual({ calls: { "keys.create": 1, credits: 1 }, injected: { "keys.create": { errors: 0, rateLimited: 1, hangs: 0 }, credits: { errors: 0, rateLimited: 0, hangs: 0 } } });
    await fetch(`${origin}/_emulator/stats/reset`, { method: "POST", headers: { "content-type": "application/json" } });
    expect(running.emulator.stats()).toEqual({ calls: {}, injected: {} });

    const bad = await fetch(`${origin}/_emulator/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ "keys.nope": {} }) });
    expect(bad.status).toBe(400);
  });

  it("sets the account's credit through the control endpoint; inference is refused with 402 once it is spent", async () => {
    const origin = running.origin;
    const before = (await call("GET", "/credits")).body.data as { total_credits: number; total_usage: number };
    const set = async (body: unknown) => fetch(`${origin}/_emulator/credits`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    try {
      expect((await set({ total_credits: -1 })).status).toBe(400);
      expect((await set({ total_credits: "lots" })).status).toBe(400);
      const res = await set({ total_credits: before.total_usage });
      expect(res.status).toBe(200);
      expect((await call("GET", "/credits")).body.data).toEqual({ total_credits: before.total_usage, total_usage: before.total_usage });
      const created = await call("POST", "/keys", { name: "dry-account", limit: 5, expires_at: future() });
      const chat = await call("POST", "/chat/completions", { model: "openai/gpt-5-nano", messages: [{ role: "user", content: "hi" }] }, created.body.key);
      expect(chat.status).toBe(402);
      expect(chat.body.error.metadata).toEqual({ limit_source: "openrouter_credits" });
    } finally {
      await set({ total_credits: before.total_credits });
    }
  });

  it("takes control writes only as JSON, so a web page cannot send them cross-site without asking", async () => {
    const origin = running.origin;
    // What a page on any site can send to a loopback port without a preflight: text/plain and forms.
    for (const [method, path, type] of [
      ["PUT", "/_emulator/faults", "text/plain;charset=UTF-8"],
      ["POST", "/_emulator/stats/reset", "application/x-www-form-urlencoded"],
      ["POST", "/_emulator/models", undefined],
      ["PUT", "/_emulator/credits", "text/plain;charset=UTF-8"],
    ] as const) {
      const res = await fetch(`${origin}${path}`, { method, headers: type ? { "content-type": type } : {}, body: JSON.stringify({ "*": { errorRate: 1 } }) });
      expect(res.status, `${method} ${path} as ${type}`).toBe(415);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/application\/json/);
    }
    expect(running.emulator.stats().calls).toEqual({});
    expect((await (await fetch(`${origin}/_emulator/faults`)).json()).faults).toEqual({});
    // No CORS answer for the control routes: a browser's preflight for a JSON write fails.
    const preflight = await fetch(`${origin}/_emulator/faults`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "PUT" } });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("on a network address (--host 0.0.0.0) answers its control routes only with the management key", async () => {
    const onNetwork = await startEmulator({ managementKey: MANAGEMENT_KEY, host: "0.0.0.0" });
    try {
      const control = (method: string, path: string, key?: string) =>
        fetch(`${onNetwork.origin}/_emulator${path}`, {
          method,
          headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body: method === "GET" ? undefined : JSON.stringify({ "*": { errorRate: 1 } }),
        });
      expect((await control("PUT", "/faults")).status).toBe(401);
      expect((await control("GET", "/stats")).status).toBe(401);
      expect(onNetwork.emulator.stats().calls).toEqual({});
      expect((await control("GET", "/faults", MANAGEMENT_KEY)).status).toBe(200);
      expect((await control("PUT", "/faults", MANAGEMENT_KEY)).status).toBe(200);
    } finally {
      await onNetwork.close();
    }
    // On loopback (the default) they stay open, as the tests and the bench use them.
    expect((await fetch(`${running.origin}/_emulator/stats`)).status).toBe(200);
  });

  it("answers TRACE and other methods it has no route for with 405 and Allow, not 500", async () => {
    const { origin } = running;
    const u = new URL(origin);
    for (const method of ["TRACE", "PROPFIND"]) {
      const answer = await new Promise<{ status: number; allow?: string }>((resolve, reject) => {
        // fetch refuses to send TRACE; a raw request does what a scanner on the room network would.
        const req = httpRequest({ host: u.hostname, port: u.port, method, path: "/api/v1/keys" }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode!, allow: res.headers.allow }));
        });
        req.on("error", reject);
        req.end();
      });
      expect(answer.status, method).toBe(405);
      expect(answer.allow).toContain("GET");
    }
  });

  it("fails the same calls for the same seed", async () => {
    const outcomes = async () => {
      const e = createEmulator({ managementKey: MANAGEMENT_KEY, seed: 42, faults: { credits: { errorRate: 0.5 } } });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await e.app.request("/api/v1/credits", { headers: { authorization: `Bearer ${MANAGEMENT_KEY}` } });
        statuses.push(res.status);
      }
      return statuses;
    };
    const first = await outcomes();
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await outcomes()).toEqual(first);
  });
});

describe("persistence and mounting", () => {
  it("keeps keys, guardrails, assignments and usage across a restart, and never stores a plaintext attendee key", async () => {
    const dataFile = join(dir, "openrouter.json");
    const first = await startEmulator({ dataFile });
    const admin = first.managementKey;
    const g = await call("POST", "/guardrails", { name: "persist", allowed_models: ["openai/gpt-5-nano"] }, admin, first.url);
    const k = await call("POST", "/keys", { name: "persist/1", limit: 1, expires_at: future() }, admin, first.url);
    await call("POST", `/guardrails/${g.body.data.id}/assignments/keys`, { key_hashes: [k.body.data.hash] }, admin, first.url);
    const chat = await call("POST", "/chat/completions", { model: "openai/gpt-5-nano", messages: [{ role: "user", content: "persist me" }] }, k.body.key, first.url);
    expect(chat.status).toBe(200);
    await first.close();

    expect(readFileSync(dataFile, "utf8")).not.toContain(k.body.key);

    const second = await startEmulator({ dataFile });
    try {
      // A generated management key is kept, so the stack's configured key still works.
      expect(second.managementKey).toBe(admin);
      const info = (await call("GET", `/keys/${k.body.data.hash}`, undefined, admin, second.url)).body.data;
      expect(info.usage).toBeGreaterThan(0);
      expect((await call("GET", `/guardrails/${g.body.data.id}/assignments/keys`, undefined, admin, second.url)).body.total_count).toBe(1);
      // And the attendee key still works.
      const again = await call("POST", "/chat/completions", { model: "openai/gpt-5-nano", messages: [{ role: "user", content: "hi" }] }, k.body.key, second.url);
      expect(again.status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it("refuses a damaged data file without quoting it", () => {
    const dataFile = join(dir, "damaged.json");
    writeFileSync(dataFile, `{"generated_management_key":"${MANAGEMENT_KEY}", oops`);
    expect(() => createEmulator({ dataFile })).toThrow(/is not valid JSON/);
    try {
      createEmulator({ dataFile });
    } catch (err) {
      expect(String(err)).not.toContain(MANAGEMENT_KEY);
    }
  });

  it("serves under a prefix when mounted in another app", async () => {
    const emulator = createEmulator({ managementKey: MANAGEMENT_KEY });
    const stack = new Hono();
    stack.route("/openrouter", emulator.app);
    const res = await stack.request("/openrouter/api/v1/credits", { headers: { authorization: `Bearer ${MANAGEMENT_KEY}` } });
    expect(res.status).toBe(200);
    expect((await stack.request("/openrouter/_emulator/stats")).status).toBe(200);
    const models = (await (await stack.request("/openrouter/api/v1/models")).json()) as { data: Array<{ links: { details: string } }> };
    expect(models.data[0].links.details.startsWith("/api/v1/models/")).toBe(true);
  });
});
