import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startEmulator, type RunningEmulator } from "../../local/emulator/index.js";
import { toUtcSeconds } from "../../workshops/derive.js";
import { workspaceSlug, type WorkspaceSpec } from "../../workshops/workspace.js";
import { createOpenRouterClient, guardrailDrift, type OpenRouterClientOptions } from "./client.js";
import {
  GovernanceUnavailableError,
  InvalidRequestError,
  ManagementKeyRejectedError,
  NotFoundError,
  OpenRouterError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "./errors.js";
import { fullJitterDelay, parseRetryAfter } from "./retry.js";

/**
 * The management client against the emulator on loopback. Faults (429, 5xx, hangs) are injected by
 * the emulator itself, so retries are measured against a real HTTP server, not a mock.
 */

const MANAGEMENT_KEY = `sk-or-v1-${"ef".repeat(32)}`;
let running: RunningEmulator;

function clientWith(extra: Partial<OpenRouterClientOptions> = {}) {
  const calls: string[] = [];
  const client = createOpenRouterClient({
    apiKey: MANAGEMENT_KEY,
    serverURL: running.url,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    onCall: (op) => calls.push(op),
    ...extra,
  });
  return { client, calls };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

const spec = {
  name: "workshop-client-test",
  description: "Workshop Key Minter: client test",
  allowed_models: ["openai/gpt-5-nano", "qwen/qwen3.5-flash-02-23"],
  limit_usd: 100,
  reset_interval: "monthly" as const,
};

beforeAll(async () => {
  running = await startEmulator({ managementKey: MANAGEMENT_KEY, seed: 7, accountKind: "organization" });
});
afterAll(async () => {
  await running?.close();
});
beforeEach(() => {
  running.emulator.setFaults({});
  running.emulator.resetStats();
});

describe("workspaces", () => {
  const workspaceSpec = (slug: string): WorkspaceSpec => ({ slug, name: `workshop ${slug}`, description: "Workshop Key Minter: client test", guardrail: { ...spec, name: `workshop-${slug}` } });

  it("ensures a workshop's workspace once: created, its default guardrail configured and checked; again, found without writes", async () => {
    const { client, calls } = clientWith();
    const first = await client.ensureWorkspace(workspaceSpec("ensure-once"));
    expect(calls).toEqual(["workspaces.get", "workspaces.create", "guardrails.get", "guardrails.update"]);
    expect(await client.getGuardrail(first.guardrailId)).toMatchObject({ id: first.guardrailId, allowed_models: spec.allowed_models, limit_usd: 100 });
    expect((await client.getWorkspace("ensure-once")).id).toBe(first.workspaceId);

    calls.length = 0;
    expect(await client.ensureWorkspace(workspaceSpec("ensure-once"))).toEqual(first);
    expect(calls).toEqual(["workspaces.get", "guardrails.get"]);

    // A drifted allow-list is put back.
    await client.updateGuardrail(first.guardrailId, { allowed_models: ["openai/gpt-5-nano"] });
    await client.ensureWorkspace(workspaceSpec("ensure-once"));
    expect((await client.getGuardrail(first.guardrailId)).allowed_models).toEqual(spec.allowed_models);
  });

  it("creates keys in a workspace per call and lists that workspace per call", async () => {
    const { client } = clientWith();
    const ws = await client.ensureWorkspace(workspaceSpec("per-call"));
    const expiresAt = toUtcSeconds(Date.now() + 86_400_000);
    const inside = await client.createKey({ name: "per-call/in", limit: 1, expires_at: expiresAt, workspace_id: ws.workspaceId });
    const outside = await client.createKey({ name: "per-call/out", limit: 1, expires_at: expiresAt });
    expect((await client.listAllKeys({ workspaceId: ws.workspaceId })).map((k) => k.hash)).toEqual([inside.hash]);
    expect((await client.listKeysPage(0, { workspaceId: ws.workspaceId })).map((k) => k.hash)).toEqual([inside.hash]);
    expect((await client.listAllKeys()).map((k) => k.hash)).toContain(outside.hash);
    expect((await client.listAllKeys()).map((k) => k.hash)).not.toContain(inside.hash);
  });

  it("deletes a workspace once it holds no keys; a second delete is false", async () => {
    const { client } = clientWith();
    const ws = await client.ensureWorkspace(workspaceSpec("to-delete"));
    const key = await client.createKey({ name: "to-delete/k", limit: 1, expires_at: toUtcSeconds(Date.now() + 86_400_000), workspace_id: ws.workspaceId });
    expect(await failure(client.deleteWorkspace(ws.workspaceId))).toBeInstanceOf(InvalidRequestError);
    await client.deleteKey(key.hash);
    expect(await client.deleteWorkspace(ws.workspaceId)).toBe(true);
    expect(await client.deleteWorkspace(ws.workspaceId)).toBe(false);
    expect(await failure(client.getWorkspace("to-delete"))).toBeInstanceOf(NotFoundError);
  });

  it("on a personal account, fails with a message that names the governance setting and the fix", async () => {
    const personal = await startEmulator({ managementKey: MANAGEMENT_KEY, seed: 8 });
    try {
      const client = createOpenRouterClient({ apiKey: MANAGEMENT_KEY, serverURL: personal.url });
      const err = await failure(client.ensureWorkspace(workspaceSpec("personal")));
      expect(err).toBeInstanceOf(GovernanceUnavailableError);
      expect((err as Error).message).toMatch(/organization account/);
      expect((err as Error).message).toContain("pulumi config set governance assignment");
      expect((err as Error).message).toContain("npm start -- --governance assignment");
      expect((err as Error).message).not.toContain(MANAGEMENT_KEY);
    } finally {
      await personal.close();
    }
  });

  it("derives slugs upstream accepts, distinct for every (namespace, workshop) pair", () => {
    const upstreamRule = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
    const pairs: [string, string | undefined][] = [["a-b", "c"], ["a", "b-c"], ["x--y", undefined], ["ai-101", "prod--2"], ["w".repeat(48), "n".repeat(40)]];
    const slugs = pairs.map(([slug, ns]) => workspaceSlug(slug, ns));
    for (const s of slugs) {
      expect(s).toMatch(upstreamRule);
      expect(s.length).toBeLessThanOrEqual(64);
    }
    expect(new Set(slugs).size).toBe(slugs.length);
    expect(workspaceSlug("ai-101", "prod")).toBe(workspaceSlug("ai-101", "prod"));
  });
});

describe("keys", () => {
  it("creates a key with a seconds-precision expiry, reads, updates and deletes it", async () => {
    const { client } = clientWith();
    const expiresAt = toUtcSeconds(Date.now() + 86_400_000);
    const created = await client.createKey({ name: "ws/slug/claim-1", limit: 5, expires_at: expiresAt });
    expect(created.key).toMatch(/^sk-or-v1-[0-9a-f]{64}$/);
    expect(created).toMatchObject({ name: "ws/slug/claim-1", limit: 5, limit_remaining: 5, usage: 0, disabled: false, expires_at: expiresAt });

    expect(await client.getKey(created.hash)).toMatchObject({ hash: created.hash, expires_at: expiresAt });
    expect(await client.updateKey(created.hash, { disabled: true, limit: 6 })).toMatchObject({ disabled: true, limit: 6 });
    expect(await client.deleteKey(created.hash)).toBe(true);
    expect(await client.deleteKey(created.hash)).toBe(false);
    expect(await failure(client.getKey(created.hash))).toBeInstanceOf(NotFoundError);
  });

  it("lists every key over 100-key pages: 250 keys take 3 page calls", async () => {
    // A workspace of the emulator's organization account (an id it never made answers 404, as upstream).
    const made = await fetch(`${running.url}/workspaces`, {
      method: "POST",
      headers: { authorization: `Bearer ${MANAGEMENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Paging", slug: "paging" }),
    });
    const workspace = ((await made.json()) as { data: { id: string } }).data.id;
    const { client: inWorkspace, calls } = clientWith({ workspaceId: workspace });
    const expiresAt = toUtcSeconds(Date.now() + 86_400_000);
    for (let i = 0; i < 250; i++) await inWorkspace.createKey({ name: `paging/${i}`, limit: 1, expires_at: expiresAt });
    calls.length = 0;

    const all = await inWorkspace.listAllKeys();
    expect(all).toHaveLength(250);
    expect(new Set(all.map((k) => k.name)).size).toBe(250);
    expect(calls.filter((op) => op === "keys.list")).toHaveLength(3);

    // The default workspace does not see them: upstream lists one workspace at a time.
    const { client: inDefault } = clientWith();
    expect((await inDefault.listAllKeys()).filter((k) => k.name.startsWith("paging/"))).toHaveLength(0);

    // Disabled keys only when asked for.
    await inWorkspace.updateKey(all[0].hash, { disabled: true });
    expect(await inWorkspace.listAllKeys()).toHaveLength(249);
    expect(await inWorkspace.listAllKeys({ includeDisabled: true })).toHaveLength(250);
  });
});

describe("guardrails", () => {
  it("ensureGuardrail creates once, is idempotent, and corrects drift in place", async () => {
    const { client, calls } = clientWith();
    const first = await client.ensureGuardrail(spec);
    const second = await client.ensureGuardrail(spec);
    expect(second).toEqual(first);
    expect(calls.filter((op) => op === "guardrails.create")).toHaveLength(1);
    expect(calls.filter((op) => op === "guardrails.update")).toHaveLength(0);
    expect(running.emulator.state.guardrails.filter((g) => g.name === spec.name)).toHaveLength(1);

    // Someone narrows the allowlist and lifts the limit by hand; the next ensure puts it back.
    await client.updateGuardrail(first.id, { allowed_models: ["openai/gpt-5-nano"], limit_usd: 5 });
    calls.length = 0;
    const corrected = await client.ensureGuardrail(spec);
    expect(corrected).toMatchObject({ id: first.id, allowed_models: spec.allowed_models, limit_usd: 100, reset_interval: "monthly" });
    expect(calls.filter((op) => op === "guardrails.update")).toHaveLength(1);
    expect(calls.filter((op) => op === "guardrails.create")).toHaveLength(0);
  });

  it("finds a guardrail by name past the first page", async () => {
    const { client } = clientWith();
    for (let i = 0; i < 105; i++) await client.createGuardrail({ ...spec, name: `filler-${i}` });
    const last = await client.createGuardrail({ ...spec, name: "needle" });
    expect((await client.findGuardrailByName("needle"))?.id).toBe(last.id);
    expect(await client.findGuardrailByName("absent")).toBeUndefined();
  });

  it("assigns keys in bulk, lists them, and moves a key between guardrails", async () => {
    const { client } = clientWith();
    const a = await client.ensureGuardrail({ ...spec, name: "assign-a" });
    const b = await client.ensureGuardrail({ ...spec, name: "assign-b" });
    const expiresAt = toUtcSeconds(Date.now() + 86_400_000);
    const keys = await Promise.all([1, 2, 3].map((i) => client.createKey({ name: `assign/${i}`, limit: 1, expires_at: expiresAt })));
    expect(await client.assignKeys(a.id, keys.map((k) => k.hash))).toEqual({ assigned_count: 3 });
    // Re-assigning is safe and reads as done.
    expect(await client.assignKeys(a.id, [keys[0].hash])).toEqual({ assigned_count: 1 });
    expect((await client.listGuardrailKeyHashes(a.id)).sort()).toEqual(keys.map((k) => k.hash).sort());

    await client.assignKeys(b.id, [keys[0].hash]);
    expect(await client.listGuardrailKeyHashes(b.id)).toEqual([keys[0].hash]);
    expect(await client.listGuardrailKeyHashes(a.id)).not.toContain(keys[0].hash);
    expect(await client.assignKeys(a.id, [])).toEqual({ assigned_count: 0 });

    expect(await client.deleteGuardrail(b.id)).toBe(true);
    expect(await client.deleteGuardrail(b.id)).toBe(false);
  });

  it("guardrailDrift names only the fields that differ, and moves limit and interval together", () => {
    const existing = { id: "g", ...spec, allowed_models: [...spec.allowed_models].reverse() };
    expect(guardrailDrift(existing, spec)).toEqual({});
    expect(guardrailDrift({ ...existing, description: null }, spec)).toEqual({ description: spec.description });
    expect(guardrailDrift({ ...existing, limit_usd: 1 }, spec)).toEqual({ limit_usd: 100, reset_interval: "monthly" });
  });
});

describe("credits", () => {
  it("reads the account's credits", async () => {
    const { client } = clientWith();
    expect(await client.getCredits()).toMatchObject({ total_credits: 1000 });
  });
});

describe("retries, timeouts and the error family", () => {
  it("honours Retry-After on 429 and stops after maxAttempts", async () => {
    running.emulator.setFaults({ "keys.list": { rateLimitRate: 1, retryAfterSeconds: 0.3 } });
    const { client, calls } = clientWith({ maxAttempts: 3, totalBudgetMs: 5000 });
    const started = Date.now();
    const err = await failure(client.listKeysPage(0));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 300, endpoint: "GET /keys" });
    expect(calls).toEqual(["keys.list", "keys.list", "keys.list"]);
    expect(running.emulator.stats().calls["keys.list"]).toBe(3);
    // Two waits of exactly Retry-After between three attempts.
    expect(elapsed).toBeGreaterThanOrEqual(600);
    // Generous upper bound: the machine may be busy; four attempts would have taken ≥ 900 ms of waits.
    expect(elapsed).toBeLessThan(2500);
  });

  it("gives up at once when Retry-After reaches past the time budget", async () => {
    running.emulator.setFaults({ "keys.list": { rateLimitRate: 1, retryAfterSeconds: 30 } });
    const { client, calls } = clientWith({ totalBudgetMs: 2000 });
    const started = Date.now();
    const err = await failure(client.listKeysPage(0));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(30_000);
    expect(calls).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("retries 5xx with jitter, bounded by maxAttempts", async () => {
    running.emulator.setFaults({ "keys.create": { errorRate: 1, errorStatus: 503 } });
    const { client, calls } = clientWith({ maxAttempts: 4 });
    const err = await failure(client.createKey({ name: "x", limit: 1, expires_at: toUtcSeconds(Date.now() + 60_000) }));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err).toMatchObject({ status: 503, endpoint: "POST /keys" });
    expect(calls).toHaveLength(4);
  });

  it("gets through intermittent 5xx", async () => {
    running.emulator.setFaults({ credits: { errorRate: 0.5 } });
    const { client, calls } = clientWith({ maxAttempts: 10 });
    await expect(client.getCredits()).resolves.toMatchObject({ total_credits: 1000 });
    const stats = running.emulator.stats();
    expect(calls).toHaveLength(stats.calls.credits);
    expect(stats.calls.credits).toBe((stats.injected.credits?.errors ?? 0) + 1);
  });

  it("times out a hung call per attempt and stops at the total budget", async () => {
    running.emulator.setFaults({ "guardrails.get": { hang: true } });
    const { client, calls } = clientWith({ timeoutMs: 300, maxAttempts: 10, totalBudgetMs: 1000 });
    const started = Date.now();
    const err = await failure(client.getGuardrail("anything"));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    // 300 ms attempts inside a 1 s budget: three or four attempts (two if the machine is very busy), not ten.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(2000);
  });

  it("does not retry 400, 401, 403 or 404", async () => {
    const { client, calls } = clientWith();
    const hash = (await client.createKey({ name: "no-retry", limit: 1, expires_at: toUtcSeconds(Date.now() + 60_000) })).hash;
    calls.length = 0;

    expect(await failure(client.getKey("0".repeat(64)))).toBeInstanceOf(NotFoundError);
    expect(await failure(client.updateKey(hash, { limit: -1 }))).toBeInstanceOf(InvalidRequestError);
    expect(calls).toEqual(["keys.get", "keys.update"]);

    const wrong = clientWith({ apiKey: `sk-or-v1-${"12".repeat(32)}` });
    const rejected = await failure(wrong.client.getCredits());
    expect(rejected).toBeInstanceOf(ManagementKeyRejectedError);
    expect(rejected).toMatchObject({ status: 401 });
    expect(wrong.calls).toHaveLength(1);

    const attendeeKey = (await client.createKey({ name: "not-management", limit: 1, expires_at: toUtcSeconds(Date.now() + 60_000) })).key;
    const asAttendee = clientWith({ apiKey: attendeeKey });
    const forbidden = await failure(asAttendee.client.listKeysPage(0));
    expect(forbidden).toBeInstanceOf(ManagementKeyRejectedError);
    expect(forbidden).toMatchObject({ status: 403 });
    expect(asAttendee.calls).toHaveLength(1);
    // Nothing about the error, however it is printed, shows the key it was called with.
    for (const shown of [String(forbidden), inspect(forbidden, { depth: 10 }), JSON.stringify(forbidden)]) {
      expect(shown).not.toContain(attendeeKey);
      expect(shown).not.toContain(attendeeKey.slice(9, 40));
    }
  });

  it("reports an unreachable server as upstream unavailable", async () => {
    const closed = await startEmulator({ managementKey: MANAGEMENT_KEY });
    const url = closed.url;
    await closed.close();
    const client = createOpenRouterClient({ apiKey: MANAGEMENT_KEY, serverURL: url, maxAttempts: 2, retryBaseDelayMs: 10 });
    const err = await failure(client.getCredits());
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err).toBeInstanceOf(OpenRouterError);
    expect(String(err)).toContain("could not be reached: ECONNREFUSED");
    expect(String(err)).not.toContain(MANAGEMENT_KEY);
  });

  // The emulator's hang holds back the whole answer; an answer that stops midway through its body
  // is a fault it cannot produce, so a bare server does.
  it("times out an answer whose body stops after its headers", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"data":');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { client } = clientWith({ serverURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`, timeoutMs: 300, maxAttempts: 2, totalBudgetMs: 2000 });
      const started = Date.now();
      const err = await failure(client.getCredits());
      expect(err).toBeInstanceOf(UpstreamUnavailableError);
      expect(String(err)).toContain("GET /credits timed out");
      expect(requests).toBe(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("kept-alive connections", () => {
  // A server closing an idle connection while the client reuses it: the request fails with
  // ECONNRESET. The client must close idle connections first, before the server's announced
  // keep-alive timeout, as fetch did. A bare server with a short timeout shows who closes first.
  it("are closed by the client before the server's keep-alive timeout, and a later call opens a new one", async () => {
    const closedBy: string[] = [];
    let connections = 0;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: { total_credits: 1, total_usage: 0 } }));
    });
    server.keepAliveTimeout = 3_000;
    server.on("connection", (socket) => {
      connections++;
      // "end": the other side (the client) finished the connection.
      socket.on("end", () => closedBy.push("client"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { client } = clientWith({ serverURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1` });
      await client.getCredits();
      // The server announced timeout=3; the client lets go of the idle connection after 2 s.
      await vi.waitFor(() => expect(closedBy).toEqual(["client"]), { timeout: 2_900, interval: 50 });
      await client.getCredits();
      expect(connections).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("answers in a shape upstream never documented", () => {
  // The emulator always answers in upstream's shapes (the official SDK checks that in
  // local/emulator/sdk.test.ts); a changed upstream is a fault it cannot produce, so a bare server does.
  it("fails at once, naming the fields but never their values", async () => {
    const leaked = `sk-or-v1-${"9a".repeat(32)}`;
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: { hash: 42, name: "x" }, key: leaked }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { client } = clientWith({ serverURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1` });
      const err = await failure(client.createKey({ name: "shape", limit: 1, expires_at: toUtcSeconds(Date.now() + 60_000) }));
      expect(err).toBeInstanceOf(OpenRouterError);
      expect(err).not.toBeInstanceOf(UpstreamUnavailableError);
      expect(String(err)).toMatch(/POST \/keys answered in an unexpected shape: .*data\.hash/);
      expect(requests).toBe(1);
      for (const shown of [String(err), inspect(err, { depth: 10 }), JSON.stringify(err)]) expect(shown).not.toContain(leaked.slice(9, 40));
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("retry helpers", () => {
  it("full jitter stays under the exponential ceiling", () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(fullJitterDelay(1, policy, () => 0.999)).toBeLessThan(100);
    expect(fullJitterDelay(3, policy, () => 0.999)).toBeLessThan(400);
    expect(fullJitterDelay(10, policy, () => 0.999)).toBeLessThan(1000);
    expect(fullJitterDelay(10, policy, () => 0)).toBe(0);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0.5")).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
