import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.js";
import { DEMO_SLUG } from "./demo.js";
import { machineAddresses, urlHostname } from "./hosts.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { freePort, signInWithTokens, tempDirs } from "./testing.js";

/**
 * A rehearsal on the room network: `npm start -- --host 0.0.0.0`, and a phone opens the machine's
 * network address. Everything the page is told (issuer, redirect URI, API and emulator URLs) is on
 * that address, sign-in and claim work there, the projector's QR code points there, and the API
 * accepts tokens from every name the stack answers as.
 *
 * The "room" address is this machine's first network address. A machine with none (a sandbox with
 * loopback only) uses 127.0.0.2 through --public-url instead (Linux routes all of 127/8 to lo); that
 * one is a secure context to the browser, so the plain-HTTP path is then not exercised.
 */

const tempDir = tempDirs();

/** A request with any method (fetch refuses TRACE); answers the status and headers. */
function rawRequest(origin: string, method: string, path: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port, method, path }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("a rehearsal on the room network (--host 0.0.0.0)", () => {
  let stack: LocalStack;
  let room: string;
  let browser: Browser;

  beforeAll(async () => {
    const port = await freePort("0.0.0.0");
    const address = machineAddresses().find((a) => !a.includes(":")) ?? machineAddresses()[0];
    room = `http://${urlHostname(address ?? "127.0.0.2")}:${port}`;
    stack = await startLocalStack({
      port,
      host: "0.0.0.0",
      ...(address ? {} : { publicUrl: room }),
      dataDir: tempDir("wkm-lan-"),
      quiet: true,
      admins: ["lead@example.com"],
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("hands out the room address, and tells the page opened there to sign in there", async () => {
    expect(stack.url).toBe(room);
    expect(stack.networkUrls).toContain(room);
    const config = (await (await fetch(`${room}/config.json`)).json()) as Record<string, any>;
    expect(config).toMatchObject({
      apiUrl: `${room}/api`,
      openrouterBaseUrl: `${room}/openrouter/api/v1`,
      auth: { issuer: `${room}/oidc`, redirectUri: `${room}/callback`, clientId: stack.oidc.clientId },
    });
    const discovery = (await (await fetch(`${room}/oidc/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(discovery.issuer).toBe(`${room}/oidc`);
    expect(discovery.authorization_endpoint.startsWith(`${room}/oidc/`)).toBe(true);
    expect(discovery.token_endpoint.startsWith(`${room}/oidc/`)).toBe(true);

    // Opened on the laptop itself, the same stack names its loopback issuer.
    const port = new URL(room).port;
    const local = (await (await fetch(`http://127.0.0.1:${port}/config.json`)).json()) as Record<string, any>;
    expect(local.auth.issuer).toBe(`http://127.0.0.1:${port}/oidc`);
  });

  it("accepts a token from either issuer on either name, and no token from an issuer it does not run", async () => {
    const port = new URL(room).port;
    const fromRoom = await signInWithTokens(room, "phone@example.com");
    const fromLaptop = await signInWithTokens(`http://127.0.0.1:${port}`, "laptop@example.com");
    expect(fromRoom.claims.iss).toBe(`${room}/oidc`);
    expect(fromLaptop.claims.iss).toBe(`http://127.0.0.1:${port}/oidc`);
    for (const base of [room, `http://127.0.0.1:${port}`]) {
      for (const token of [fromRoom.idToken, fromLaptop.idToken]) {
        const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
        expect(me.status).toBe(200);
      }
    }
    // The same signature under an issuer name the stack does not run is refused.
    const [h, , sig] = fromRoom.idToken.split(".");
    const renamed = `${h}.${Buffer.from(JSON.stringify({ ...fromRoom.claims, iss: "http://attacker.example/oidc" })).toString("base64url")}.${sig}`;
    expect((await fetch(`${room}/api/me`, { headers: { authorization: `Bearer ${renamed}` } })).status).toBe(401);
  });

  it("answers the emulator's control routes only with its management key, on every name", async () => {
    const port = new URL(room).port;
    const managementKey = stack.emulator!.managementKey;
    const control = (base: string, method: string, path: string, key?: string, body?: unknown) =>
      fetch(`${base}/openrouter/_emulator${path}`, {
        method,
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    for (const base of [room, `http://127.0.0.1:${port}`]) {
      for (const key of [undefined, "sk-or-v1-not-the-management-key"]) {
        for (const [method, path, body] of [
          ["PUT", "/credits", { total_credits: 0 }],
          ["PUT", "/faults", { "*": { errorRate: 1 } }],
          ["POST", "/models", [{ id: "x/free", price_in_per_mtok: 0, price_out_per_mtok: 0 }]],
          ["POST", "/stats/reset", {}],
          ["GET", "/stats", undefined],
          ["GET", "/credits", undefined],
        ] as const) {
          const res = await control(base, method, path, key, body);
          expect(res.status, `${method} ${path} on ${base} with ${key ? "a wrong key" : "no key"}`).toBe(401);
          expect(await res.text()).not.toContain("total_credits");
        }
      }
    }
    // Nothing was changed by the refused writes.
    expect(stack.emulator!.state.total_credits).toBeGreaterThan(0);
    expect(stack.emulator!.stats().calls).not.toHaveProperty("*");
    const credits = await control(room, "GET", "/credits", managementKey);
    expect(credits.status).toBe(200);
    const before = ((await credits.json()) as { total_credits: number }).total_credits;
    expect(before).toBe(stack.emulator!.state.total_credits);
    const set = await control(room, "PUT", "/credits", managementKey, { total_credits: before + 1 });
    expect(set.status).toBe(200);
    expect(stack.emulator!.state.total_credits).toBe(before + 1);
    expect((await control(room, "PUT", "/credits", managementKey, { total_credits: before })).status).toBe(200);
  });

  it("answers TRACE and other methods no part of it answers with 405 and Allow, not 500", async () => {
    for (const method of ["TRACE", "PROPFIND", "SEARCH", "MKCOL"]) {
      for (const path of ["/", "/api/workshops", "/oidc/.well-known/openid-configuration", "/openrouter/api/v1/models", "/openrouter/_emulator/stats"]) {
        const res = await rawRequest(room, method, path);
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.allow).toBe("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        expect(res.headers["x-content-type-options"]).toBe("nosniff");
      }
    }
    expect((await rawRequest(room, "GET", "/healthz")).status).toBe(200);
  });

  it("lets a phone on the room network sign in and claim a key in the browser, and the projector points there", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("response", (r) => {
      const url = new URL(r.url());
      if (url.origin !== room) problems.push(`left the room address: ${r.url()}`);
      const expected = r.status() === 404 && url.pathname === `/api/workshops/${DEMO_SLUG}/key`;
      if (r.status() >= 400 && !expected) problems.push(`${r.status()} ${r.request().method()} ${url.pathname}`);
    });

    await page.goto(`${room}/w/${DEMO_SLUG}`);
    await page.getByRole("button", { name: /sign in/i }).first().click();
    await page.waitForURL(`${room}/oidc/interaction/**`);
    await page.getByLabel("Email").fill("phone@example.com");
    await page.getByLabel(/Name/).fill("Pat Phone");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByRole("button", { name: /Confirm and get my key/ }).click({ timeout: 20_000 });
    await page.locator("#api-key").waitFor({ timeout: 20_000 }).catch(async (err: unknown) => {
      throw new Error(`no key; the page says: ${(await page.locator("body").innerText()).slice(0, 600)}; problems: ${problems.join(", ")}`, { cause: err });
    });
    expect(page.url().startsWith(room)).toBe(true);
    const claim = (await stack.store.listClaims(DEMO_SLUG)).find((c) => c.email === "phone@example.com");
    expect(claim?.status).toBe("ACTIVE");
    // The base URL the key page shows is reachable from the room too.
    await expect.poll(() => page.locator("body").innerText()).toContain(`${room}/openrouter/api/v1`);

    await page.goto(`${room}/w/${DEMO_SLUG}/projector`);
    await expect.poll(() => page.getByRole("img", { name: /QR code for/ }).getAttribute("aria-label")).toBe(`QR code for ${room}/w/${DEMO_SLUG}`);
    expect(problems).toEqual([]);
    await context.close();
  });
});
