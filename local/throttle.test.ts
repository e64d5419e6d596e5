import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack, type LocalStack } from "./stack.js";
import { createTokenBucket, parseThrottle } from "./throttle.js";
import { tempDirs } from "./testing.js";

/**
 * The local stand-in for API Gateway's stage throttle: the token bucket's arithmetic on an injected
 * clock, then through the stack over HTTP (what is throttled, and exactly how it is answered).
 */

describe("token bucket", () => {
  it("lets a full burst through at once, then one request per 1/rate seconds", () => {
    let t = 0;
    const bucket = createTokenBucket({ ratePerSecond: 10, burst: 5 }, () => t);
    const takes = (n: number) => Array.from({ length: n }, () => bucket.take()).filter(Boolean).length;
    expect(takes(8)).toBe(5);
    t += 99; // 0.99 of a token
    expect(bucket.take()).toBe(false);
    t += 1;
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    t += 350; // 3.5 tokens
    expect(takes(10)).toBe(3);
    t += 50; // the half left over plus half a token
    expect(takes(10)).toBe(1);
  });

  it("never holds more than its burst, however long it was idle", () => {
    let t = 0;
    const bucket = createTokenBucket({ ratePerSecond: 50, burst: 100 }, () => t);
    t += 3_600_000;
    expect(Array.from({ length: 500 }, () => bucket.take()).filter(Boolean).length).toBe(100);
  });

  it("over 10 s lets through burst + 10 × rate: the room-size arithmetic of docs/deploy.md", () => {
    let t = 0;
    const bucket = createTokenBucket({ ratePerSecond: 200, burst: 500 }, () => t);
    let passed = 0;
    // 4,000 requests spread evenly over 10 s (one every 2.5 ms).
    for (let i = 0; i < 4_000; i++) {
      t = i * 2.5;
      if (bucket.take()) passed++;
    }
    expect(passed).toBeGreaterThanOrEqual(500 + 200 * 10 - 1);
    expect(passed).toBeLessThanOrEqual(500 + 200 * 10);
  });
});

describe("--throttle", () => {
  it("reads <rate>,<burst> and refuses anything else with the fix", () => {
    expect(parseThrottle("200,500")).toEqual({ ratePerSecond: 200, burst: 500 });
    expect(parseThrottle(" 0.5 , 1 ")).toEqual({ ratePerSecond: 0.5, burst: 1 });
    for (const bad of ["200", "0,10", "10,0", "10,2.5", "-1,5", "a,b", ""]) expect(() => parseThrottle(bad), bad).toThrow(/--throttle must be <requests per second>,<burst>/);
  });

  it("is an option of npm start, off unless given", async () => {
    const { parseCli } = await import("./start.js");
    expect(parseCli([])?.throttle).toBeUndefined();
    expect(parseCli(["--throttle", "2,3"])?.throttle).toEqual({ ratePerSecond: 2, burst: 3 });
    expect(() => parseCli(["--throttle", "fast"])).toThrow(/--throttle must be/);
  });
});

describe("the local stack with a throttle", () => {
  const tmp = tempDirs();
  let throttled: LocalStack;
  let open: LocalStack;
  beforeAll(async () => {
    [throttled, open] = await Promise.all([
      startLocalStack({ port: 0, dataDir: tmp("wkm-throttle-"), demo: false, quiet: true, throttle: { ratePerSecond: 1, burst: 3 } }),
      startLocalStack({ port: 0, dataDir: tmp("wkm-no-throttle-"), demo: false, quiet: true }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([throttled?.close(), open?.close()]);
  });

  it("answers /api/* beyond the bucket exactly as API Gateway does, before the API runs", async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`${throttled.url}/api/workshops`)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    const refused = answers.find((r) => r.status === 429)!;
    expect(await refused.text()).toBe('{"message":"Too Many Requests"}');
    expect(refused.headers.get("content-type")).toBe("application/json");
    expect(refused.headers.get("retry-after")).toBeNull();
    expect(throttled.throttle).toMatchObject({ ratePerSecond: 1, burst: 3, throttled: 5 });
    // A POST with no token is refused the same way: the gateway throttles before anything looks at it.
    expect((await fetch(`${throttled.url}/api/workshops/any/claim`, { method: "POST" })).status).toBe(429);
    // The site, its config, the sign-in and the health check are not the API: never throttled.
    for (const path of ["/healthz", "/config.json", "/", "/oidc/.well-known/openid-configuration"]) {
      expect((await fetch(`${throttled.url}${path}`)).status, path).toBe(200);
    }
    // The bucket refills at 1 a second: a second and a bit after the last refusal, one or two
    // requests pass (the calls above took a moment too), never the whole burst of 3.
    await new Promise((r) => setTimeout(r, 1_100));
    const later = await Promise.all(Array.from({ length: 3 }, () => fetch(`${throttled.url}/api/workshops`).then((r) => r.status)));
    expect(later.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(later.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
  });

  it("is off by default: a hundred requests at once are all answered by the API", async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, () => fetch(`${open.url}/api/workshops`).then((r) => r.status)));
    expect(answers.every((s) => s === 200)).toBe(true);
    expect(open.throttle).toBeUndefined();
  });
});
