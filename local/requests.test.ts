import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { handle } from "hono/aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiGatewayEvent, startTestStack, testWorkshop, type TestStack } from "./test-stack.js";
import { DEMO_SLUG } from "./demo.js";
import { startEmulator } from "./emulator/index.js";
import { captureStdout } from "./stdout-records.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { freePort, signIn, tempDirs } from "./testing.js";

/**
 * The local stack over real HTTP, as browsers and SDKs reach it: chunked bodies and CORS preflights
 * answer exactly what the API Lambda answers for the same request; requests during start-up get a
 * 503 "starting"; a foreign Host (DNS rebinding) is refused; log lines cannot be forged.
 */

const tempDir = tempDirs();

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with node:http: the body is written as the given chunks (chunked transfer-encoding unless a content-length is set). */
function send(origin: string, method: string, path: string, headers: OutgoingHttpHeaders = {}, chunks: string[] = []): Promise<Answer> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

const errorCode = (a: { body: string }) => {
  try {
    return (JSON.parse(a.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
};

describe("the API over HTTP answers as the API Lambda does", () => {
  let stack: LocalStack;
  let lambdaStack: TestStack;
  let lambda: (event: unknown) => Promise<{ statusCode: number; body: string; headers: Record<string, string> }>;
  let localToken: string;
  let lambdaToken: string;

  beforeAll(async () => {
    [stack, lambdaStack] = await Promise.all([startLocalStack({ port: 0, dataDir: tempDir("wkm-requests-"), quiet: true }), startTestStack()]);
    await lambdaStack.addWorkshop(testWorkshop(DEMO_SLUG, Date.now()));
    lambda = handle(lambdaStack.app) as unknown as typeof lambda;
    localToken = await signIn(stack.url, "chunky@example.com");
    lambdaToken = (await lambdaStack.attendee("chunky@example.com")).token;
  });
  afterAll(async () => {
    await stack?.close();
    await lambdaStack?.close();
  });

  /** The same request to both: over HTTP to the local stack with `chunks`, and as API Gateway's event (the body whole). */
  async function both(method: string, path: string, opts: { chunks?: string[]; auth?: boolean; headers?: Record<string, string> } = {}) {
    const chunks = opts.chunks ?? [];
    const local = await send(
      stack.url,
      method,
      path,
      {
        ...(chunks.length ? { "content-type": "application/json", "transfer-encoding": "chunked" } : {}),
        ...(opts.auth ? { authorization: `Bearer ${localToken}` } : {}),
        ...opts.headers,
      },
      chunks,
    );
    const event = apiGatewayEvent(method, path, { token: opts.auth ? lambdaToken : undefined, body: chunks.length ? chunks.join("") : undefined });
    const cloud = await lambda({ ...event, headers: { ...event.headers, ...opts.headers } });
    return { local, cloud };
  }

  it("accepts a small JSON body sent in chunks (no Content-Length), as a profile and a claim", async () => {
    const profile = await both("PUT", "/api/me", { auth: true, chunks: ['{"display_name":', '"Chunky",', '"marketing_opted_in":false}'] });
    expect(profile.local.status, profile.local.body).toBe(200);
    expect(profile.cloud.statusCode).toBe(200);
    expect(JSON.parse(profile.local.body)).toMatchObject({ display_name: "Chunky", confirmed: true });

    const claim = await both("POST", `/api/workshops/${DEMO_SLUG}/claim`, { auth: true, chunks: ["{", "}"] });
    expect(claim.local.status, claim.local.body).toBe(201);
    expect(claim.cloud.statusCode).toBe(201);
    expect(JSON.parse(claim.local.body).key.status).toBe("ACTIVE");
  });

  it("refuses a chunked body over 4 KB with 400 body_too_large", async () => {
    const big = JSON.stringify({ display_name: "x".repeat(5000), marketing_opted_in: false });
    const { local, cloud } = await both("PUT", "/api/me", { auth: true, chunks: [big.slice(0, 2000), big.slice(2000, 4000), big.slice(4000)] });
    expect(local.status).toBe(400);
    expect(errorCode(local)).toBe("body_too_large");
    expect(cloud.statusCode).toBe(400);
    expect(errorCode(cloud)).toBe("body_too_large");
  });

  it("answers a chunked POST with no chunks at all like an empty body", async () => {
    const local = await send(stack.url, "POST", `/api/workshops/${DEMO_SLUG}/claim`, { authorization: `Bearer ${localToken}`, "transfer-encoding": "chunked" });
    const cloud = await lambda(apiGatewayEvent("POST", `/api/workshops/${DEMO_SLUG}/claim`, { token: lambdaToken }));
    expect(local.status).toBe(cloud.statusCode);
    expect(local.status).toBe(200);
  });

  it("answers CORS preflights as the Lambda does (it allows no other origin), never 500", async () => {
    const preflight = { origin: "https://elsewhere.example", "access-control-request-method": "PUT", "access-control-request-headers": "authorization,content-type" };
    for (const path of ["/api/me", "/api/workshops", `/api/workshops/${DEMO_SLUG}/claim`, "/api/admin/workshops"]) {
      const { local, cloud } = await both("OPTIONS", path, { headers: preflight });
      expect(local.status, `${path}: ${local.body}`).toBe(cloud.statusCode);
      expect(local.status).toBeLessThan(500);
      expect(errorCode(local)).toBe(errorCode({ body: cloud.body }));
      expect(local.headers["access-control-allow-origin"]).toBeUndefined();
    }
  });
});

describe("while the stack is starting", () => {
  it("answers 503 starting (a page for a browser, JSON for the API), never a 500 or a stack trace", async () => {
    // Real OpenRouter is played by an emulator that takes 1.5 s to list guardrails, so the stack
    // listens for a while before it is ready.
    const upstream = await startEmulator({ port: 0, faults: { "guardrails.list": { latencyMs: 1_500 } } });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let done = false;
    const starting = startLocalStack({
      port,
      dataDir: tempDir("wkm-starting-"),
      quiet: true,
      openrouter: "real",
      managementKey: upstream.managementKey,
      openrouterBaseUrl: upstream.url,
      demo: true,
    }).finally(() => (done = true));
    const seen: Record<string, Answer[]> = { page: [], api: [], post: [], healthz: [], signIn: [] };
    try {
      while (!done) {
        const [page, api, post, healthz, signInAnswer] = await Promise.all([
          send(base, "GET", "/w/local-demo", { accept: "text/html,application/xhtml+xml" }),
          send(base, "GET", "/api/workshops"),
          send(base, "POST", `/api/workshops/${DEMO_SLUG}/claim`, { "content-type": "application/json", "transfer-encoding": "chunked" }, ["{}"]),
          send(base, "GET", "/healthz"),
          send(base, "GET", "/oidc/.well-known/openid-configuration"),
        ]).catch(() => []);
        if (page) Object.entries({ page, api, post, healthz, signIn: signInAnswer }).forEach(([k, v]) => seen[k]!.push(v!));
        await new Promise((r) => setTimeout(r, 50));
      }
      const stack = await starting;
      await stack.close();
    } finally {
      await upstream.close();
    }
    const all = Object.values(seen).flat();
    expect(all.length).toBeGreaterThan(5);
    expect(all.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([]);
    expect(all.every((a) => !/\bat .*\(.*:\d+:\d+\)/.test(a.body)), "no stack trace in any answer").toBe(true);

    const page = seen.page!.find((a) => a.status === 503)!;
    expect(page, "a page request while starting").toBeDefined();
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.headers["retry-after"]).toBe("1");
    expect(page.body).toContain('<meta http-equiv="refresh" content="1">');
    expect(page.body).toContain("still starting");
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    for (const key of ["api", "post", "signIn"] as const) {
      const answer = seen[key]!.find((a) => a.status === 503)!;
      expect(answer, key).toBeDefined();
      expect(answer.headers["content-type"]).toMatch(/application\/json/);
      expect(errorCode(answer)).toBe("starting");
    }
    expect(JSON.parse(seen.healthz!.find((a) => a.status === 503)!.body)).toEqual({ ok: false, starting: true });
  });
});

describe("Host names (DNS rebinding)", () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, dataDir: tempDir("wkm-hosts-"), quiet: true });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("answers only its own names: a page whose domain was rebound to 127.0.0.1 gets 421 everywhere", async () => {
    const port = new URL(stack.url).port;
    const paths = ["/", "/config.json", "/healthz", "/api/workshops", "/oidc/.well-known/openid-configuration", "/openrouter/api/v1/models", "/openrouter/_emulator/stats"];
    for (const path of paths) {
      const forged = await send(stack.url, "GET", path, { host: `rebind.attacker.example:${port}` });
      expect(forged.status, path).toBe(421);
      expect(forged.body).toContain('Host "rebind.attacker.example:');
      expect(forged.body).not.toMatch(/workshop|sk-or/i);
      for (const own of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
        expect((await send(stack.url, "GET", path, { host: own })).status, `${path} as ${own}`).toBeLessThan(400);
      }
    }
    // The port is part of the name: another port's name is not ours either.
    expect((await send(stack.url, "GET", "/healthz", { host: "127.0.0.1:1" })).status).toBe(421);
    const forgedWrite = await send(stack.url, "PUT", "/openrouter/_emulator/faults", { host: "rebind.attacker.example", "content-type": "application/json" }, ['{"*":{"errorRate":1}}']);
    expect(forgedWrite.status).toBe(421);
    expect(stack.emulator!.stats().calls).not.toHaveProperty("*");
  });

  it("the standalone emulator refuses a foreign Host too", async () => {
    const upstream = await startEmulator({ port: 0 });
    try {
      const forged = await send(upstream.origin, "GET", "/_emulator/stats", { host: "rebind.attacker.example" });
      expect(forged.status).toBe(421);
      expect((await send(upstream.origin, "GET", "/_emulator/stats")).status).toBe(200);
    } finally {
      await upstream.close();
    }
  });
});

describe("log records", () => {
  it("are one JSON line each, with level and correlation_id, so a path with %0A cannot forge a record", async () => {
    const out = captureStdout();
    const stack = await startLocalStack({ port: 0, dataDir: tempDir("wkm-logs-"), admins: ["boss@example.com"], log: () => {} });
    try {
      const token = await signIn(stack.url, "boss@example.com");
      const headers = { authorization: `Bearer ${token}` };
      // The workshop is in the API's short cache; then the table it keeps claims in goes away, so the
      // next organizer request fails inside the store (a 500) and is logged with its path.
      expect((await send(stack.url, "GET", `/api/workshops/${DEMO_SLUG}`, headers)).status).toBe(200);
      await stack.dynamo.client.send(new DeleteTableCommand({ TableName: stack.tableNames.workshops }));
      const forged = await send(stack.url, "POST", `/api/admin/workshops/${DEMO_SLUG}/claims/evil%0Aapi:%20key_revoked%20by=boss%0D/revoke`, headers);
      expect(forged.status).toBe(500);
      const failed = out.logs.filter((l) => l.message === "request_failed");
      expect(failed.length, out.lines.join("\n")).toBeGreaterThan(0);
      expect(failed[0]).toMatchObject({ level: "ERROR", service: "api", path: "/api/admin/workshops/local-demo/claims/evil\napi: key_revoked by=boss\r/revoke" });
      expect(typeof failed[0]!.correlation_id).toBe("string");
      expect(out.logs.some((l) => l.message === "key_revoked")).toBe(false);
      for (const l of out.logs) expect(l, "every record of a request has a level and a correlation id").toMatchObject({ level: expect.any(String), correlation_id: expect.any(String) });
    } finally {
      out.stop();
      await stack.close();
    }
  });
});
