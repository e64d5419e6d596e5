import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkshopConfigError } from "../workshops/load.js";
import { DEMO_SLUG } from "./demo.js";
import { startEmulator } from "./emulator/index.js";
import { subjectForEmail } from "./oidc.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { callApi, signIn, signInWithTokens, tempDirs } from "./testing.js";

/**
 * The local stack as a newcomer uses it: one port, sign in through the local OpenID provider, claim
 * a key from the demo workshop, stop, start again on the same data folder — the key is still there
 * and upstream (the emulator) minted exactly one.
 */

const tempDir = tempDirs();

/** A workshops folder holding only the origin post's workshop, whatever else `workshops/` gains. */
function copyOfRealWorkshop(): string {
  const dir = tempDir("wkm-workshops-");
  const file = "pyconde-2026-darmstadt-sql-agents.yaml";
  copyFileSync(join(import.meta.dirname, "..", "workshops", file), join(dir, file));
  return dir;
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "strict-origin-when-cross-origin",
};

describe("the local stack", () => {
  const dataDir = tempDir("wkm-stack-");
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, dataDir, quiet: true, admins: ["Organizer@Example.com"] });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("answers /healthz once every part is up", async () => {
    const res = await fetch(`${stack.url}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; workshops: string[] };
    expect(body.ok).toBe(true);
    expect(body.workshops).toContain(DEMO_SLUG);
    expect(body.workshops).toContain("pyconde-2026-darmstadt-sql-agents");
  });

  it("gives the page its configuration in /config.json", async () => {
    const res = await fetch(`${stack.url}/config.json`);
    expect(res.status).toBe(200);
    const config = (await res.json()) as Record<string, any>;
    expect(config).toMatchObject({
      apiUrl: `${stack.url}/api`,
      mode: "local-emulator",
      openrouterBaseUrl: `${stack.url}/openrouter/api/v1`,
      auth: { issuer: `${stack.url}/oidc`, clientId: stack.oidc.clientId, redirectUri: `${stack.url}/callback`, scope: "openid email profile" },
    });
    // The stack's clock, so the page's countdowns follow a rehearsal's --at and --speed.
    expect(config.clock.speed).toBe(1);
    expect(Math.abs(config.clock.now - stack.clock.now())).toBeLessThan(5_000);
    // The issuer is a real OpenID provider whose discovery document names itself.
    const discovery = (await (await fetch(`${config.auth.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(config.auth.issuer);
    expect(discovery.code_challenge_methods_supported).toContain("S256");
  });

  it("answers on localhost too: issuer, redirect URI and emulator URL follow the name the page was opened on", async () => {
    const port = new URL(stack.url).port;
    const res = await fetch(`http://localhost:${port}/config.json`).catch(() => undefined);
    // Some machines resolve localhost to ::1 only; the stack listens on 127.0.0.1 by default.
    if (!res) return;
    const config = (await res.json()) as Record<string, any>;
    expect(config.auth.redirectUri).toBe(`http://localhost:${port}/callback`);
    expect(config.auth.issuer).toBe(`http://localhost:${port}/oidc`);
    expect(config.openrouterBaseUrl).toBe(`http://localhost:${port}/openrouter/api/v1`);
    // A sign-in there gives a token naming that issuer, which the API accepts on either name.
    const signedIn = await signInWithTokens(`http://localhost:${port}`, "local-host@example.com");
    expect(signedIn.claims.iss).toBe(`http://localhost:${port}/oidc`);
    expect((await callApi(stack.url, signedIn.idToken, "GET", "/api/me")).status).toBe(200);
  });

  it("puts the security headers on every kind of response", async () => {
    for (const path of ["/", "/w/local-demo", "/healthz", "/config.json", "/api/workshops", "/oidc/.well-known/openid-configuration", "/nope.js", "/openrouter/api/v1/models"]) {
      const res = await fetch(`${stack.url}${path}`);
      await res.arrayBuffer();
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name), `${name} on ${path}`).toBe(value);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, `CSP on ${path}`).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("frame-ancestors 'none'");
    }
  });

  it("serves the site with the app's routes falling back to index.html, but not for files, /api or /openrouter", async () => {
    const home = await fetch(`${stack.url}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get("content-type")).toMatch(/text\/html/);
    const shell = await home.text();
    expect(shell).toContain('<div id="app">');
    const route = await fetch(`${stack.url}/w/${DEMO_SLUG}`);
    expect(await route.text()).toBe(shell);
    const catalog = (await (await fetch(`${stack.url}/catalog.json`)).json()) as { workshops: { slug: string }[] };
    expect(catalog.workshops.map((w) => w.slug)).toContain(DEMO_SLUG);
    expect((await fetch(`${stack.url}/assets/missing.js`)).status).toBe(404);
    const unknownApi = await fetch(`${stack.url}/api/nothing-here`);
    expect(unknownApi.status).toBe(404);
    expect(unknownApi.headers.get("content-type")).toMatch(/json/);
    expect((await fetch(`${stack.url}/../../etc/passwd`)).status).not.toBe(500);
  });

  it("issues ID tokens with the claims the Cognito verifier reads, admins included", async () => {
    const organizer = await signInWithTokens(stack.url, "organizer@example.com", { name: "Olga" });
    expect(organizer.claims).toMatchObject({
      iss: stack.oidc.issuer,
      aud: stack.oidc.clientId,
      sub: subjectForEmail("organizer@example.com"),
      email: "organizer@example.com",
      email_verified: true,
      name: "Olga",
      token_use: "id",
      "cognito:groups": ["admins"],
    });
    const attendee = await signInWithTokens(stack.url, "Someone@Example.com");
    expect(attendee.claims.email).toBe("someone@example.com");
    expect(attendee.claims["cognito:groups"]).toBeUndefined();

    const me = await callApi(stack.url, organizer.idToken, "GET", "/api/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: "organizer@example.com", is_admin: true });
    const admin = await callApi(stack.url, organizer.idToken, "GET", "/api/admin/workshops");
    expect(admin.status).toBe(200);
    expect((admin.body.workshops as { slug: string }[]).map((w) => w.slug)).toContain(DEMO_SLUG);
    expect((await callApi(stack.url, attendee.idToken, "GET", "/api/admin/workshops")).status).toBe(403);
  });

  it("re-shows the sign-in form with a message when the email is not an address", async () => {
    await expect(signIn(stack.url, "not-an-email")).rejects.toThrow(/sign-in form: the form answered 400: Enter an email address/);
  });

  it("refuses a token the local provider did not sign", async () => {
    const token = await signIn(stack.url, "ada@example.com");
    const [h, p] = token.split(".");
    const forged = `${h}.${p}.${Buffer.from("not the signature").toString("base64url")}`;
    expect((await callApi(stack.url, forged, "GET", "/api/me")).status).toBe(401);
  });
});

describe("a restart keeps every claim, key and profile", () => {
  const dataDir = tempDir("wkm-restart-");
  let first: LocalStack | undefined;
  let second: LocalStack | undefined;
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it("shows the same key after a restart, and upstream minted only one", async () => {
    first = await startLocalStack({ port: 0, dataDir, quiet: true });
    const token = await signIn(first.url, "grace@example.com", { name: "Grace" });
    expect((await callApi(first.url, token, "PUT", "/api/me", { display_name: "Grace H.", marketing_opted_in: true, workshop: DEMO_SLUG })).status).toBe(200);
    const claim = await callApi(first.url, token, "POST", `/api/workshops/${DEMO_SLUG}/claim`);
    expect(claim.status).toBe(201);
    expect(claim.body.key.status).toBe("ACTIVE");
    const key = claim.body.key.key as string;
    expect(key).toMatch(/^sk-or-v1-/);
    expect(claim.body.key.base_url).toBe(`${first.url}/openrouter/api/v1`);
    const mintedBefore = first.emulator!.state.keys.length;
    expect(mintedBefore).toBe(1);
    // Names carry this data folder's namespace, kept across restarts: a rehearsal on a real account
    // never touches a deployed stack's guardrail or keys.
    const namespace = readFileSync(join(dataDir, "key-namespace"), "utf8").trim();
    expect(namespace).toMatch(/^local-[0-9a-f]{8}$/);
    expect(first.emulator!.state.keys[0].name).toMatch(new RegExp(`^[a-z0-9-]+/${namespace}/${DEMO_SLUG}/[A-Za-z0-9_-]+$`));
    expect(first.emulator!.state.guardrails.map((g) => g.name)).toContain(`workshop-${DEMO_SLUG}--${namespace}`);

    // The key works against the emulator at the base URL the page shows.
    const models = await fetch(`${claim.body.key.base_url}/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);

    await first.close();
    first = undefined;

    second = await startLocalStack({ port: 0, dataDir, quiet: true });
    // The port may differ, so the issuer does; the subject is the same for the same email.
    const again = await signIn(second.url, "grace@example.com");
    const me = await callApi(second.url, again, "GET", `/api/me?workshop=${DEMO_SLUG}`);
    expect(me.body).toMatchObject({ display_name: "Grace H.", confirmed: true, consent: { workshop: DEMO_SLUG, decided: true, marketing_opted_in: true } });
    const read = await callApi(second.url, again, "GET", `/api/workshops/${DEMO_SLUG}/key`);
    expect(read.status).toBe(200);
    expect(read.body.key).toBe(key);
    const repeat = await callApi(second.url, again, "POST", `/api/workshops/${DEMO_SLUG}/claim`);
    expect(repeat.status).toBe(200);
    expect(repeat.body.key.key).toBe(key);
    expect(second.emulator!.state.keys.length).toBe(mintedBefore);
    expect(readFileSync(join(dataDir, "key-namespace"), "utf8").trim()).toBe(namespace);
    // The emulator still accepts the key after its own restart.
    const chat = await fetch(`${second.openrouterBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/gpt-5-nano", messages: [{ role: "user", content: "hello" }] }),
    });
    expect(chat.status).toBe(200);
  });
});

describe("starting", () => {
  it("stops with every problem listed when a workshop file is bad", async () => {
    const workshopsDir = tempDir("wkm-bad-workshops-");
    writeFileSync(join(workshopsDir, "broken.yaml"), "slug: broken\nname: 42\nbudget: nope\n");
    const err = await startLocalStack({ port: 0, dataDir: tempDir("wkm-bad-data-"), quiet: true, workshopsDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkshopConfigError);
    const message = (err as Error).message;
    expect(message.split("\n").length).toBeGreaterThan(3);
    expect(message).toMatch(/broken\.yaml:3: budget: is not a known field/);
  });

  it("says which port is taken when another process holds it", async () => {
    const holder = await startLocalStack({ port: 0, dataDir: tempDir("wkm-holder-"), quiet: true, demo: false, workshopsDir: copyOfRealWorkshop() });
    try {
      const port = Number(new URL(holder.url).port);
      await expect(startLocalStack({ port, dataDir: tempDir("wkm-second-"), quiet: true })).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use`);
      // The holder is unaffected.
      expect((await fetch(`${holder.url}/healthz`)).status).toBe(200);
    } finally {
      await holder.close();
    }
  });

  it("refuses --openrouter real without a management key", async () => {
    const saved = process.env.OPENROUTER_MANAGEMENT_KEY;
    delete process.env.OPENROUTER_MANAGEMENT_KEY;
    try {
      await expect(startLocalStack({ port: 0, dataDir: tempDir("wkm-real-"), quiet: true, openrouter: "real" })).rejects.toThrow(/OPENROUTER_MANAGEMENT_KEY/);
    } finally {
      if (saved !== undefined) process.env.OPENROUTER_MANAGEMENT_KEY = saved;
    }
  });

  it("without the demo serves only the workshop files, and forgets a demo served before", async () => {
    const dataDir = tempDir("wkm-nodemo-");
    const workshopsDir = copyOfRealWorkshop();
    const withDemo = await startLocalStack({ port: 0, dataDir, quiet: true, workshopsDir });
    await withDemo.close();
    const stack = await startLocalStack({ port: 0, dataDir, quiet: true, demo: false, workshopsDir });
    try {
      // The workshop index lists the files' workshops only, and the demo's item is gone.
      expect((await stack.store.getCatalog()).entries.map((e) => e.slug)).toEqual(["pyconde-2026-darmstadt-sql-agents"]);
      expect((await fetch(`${stack.url}/api/workshops/pyconde-2026-darmstadt-sql-agents`)).status).toBe(200);
      expect((await fetch(`${stack.url}/api/workshops/${withDemo.demoSlug}`)).status).toBe(404);
    } finally {
      await stack.close();
    }
  });
});

describe("--openrouter real", () => {
  it("mints on the configured OpenRouter, not the built-in emulator, and the page is told so", async () => {
    // A separate emulator plays real OpenRouter here (the tests have no network); what is under
    // test is the stack's wiring: management key, base URL, no /openrouter mount, the mode shown.
    const upstream = await startEmulator({ port: 0, seed: 7 });
    const stack = await startLocalStack({
      port: 0,
      dataDir: tempDir("wkm-realmode-"),
      quiet: true,
      openrouter: "real",
      managementKey: upstream.managementKey,
      openrouterBaseUrl: upstream.url,
      workshopsDir: copyOfRealWorkshop(),
    });
    try {
      expect(stack.mode).toBe("local-openrouter");
      expect(stack.emulator).toBeUndefined();
      const config = (await (await fetch(`${stack.url}/config.json`)).json()) as Record<string, unknown>;
      expect(config).toMatchObject({ mode: "local-openrouter", openrouterBaseUrl: upstream.url });
      expect((await fetch(`${stack.url}/openrouter/api/v1/models`)).status).toBe(404);
      // Guardrails were ensured upstream for every workshop, the demo included, under this data
      // folder's namespace: a deployed stack's guardrail of the same workshop is left alone.
      const names = upstream.emulator.state.guardrails.map((g) => g.name).sort();
      expect(names).toHaveLength(2);
      expect(names[0]).toMatch(/^workshop-local-demo--local-[0-9a-f]{8}$/);
      expect(names[1]).toMatch(/^workshop-pyconde-2026-darmstadt-sql-agents--local-[0-9a-f]{8}$/);
      const token = await signIn(stack.url, "real@example.com");
      await callApi(stack.url, token, "PUT", "/api/me", { display_name: "Real", marketing_opted_in: false });
      const claim = await callApi(stack.url, token, "POST", `/api/workshops/${DEMO_SLUG}/claim`);
      expect(claim.status).toBe(201);
      expect(claim.body.key.base_url).toBe(upstream.url);
      expect(upstream.emulator.state.keys).toHaveLength(1);
    } finally {
      await stack.close();
      await upstream.close();
    }
  });
});

describe("rehearsing with --at", () => {
  it("runs the API on the shifted clock and the scheduler runs the workshop's jobs as the clock passes them", async () => {
    const workshopsDir = copyOfRealWorkshop();
    // Five minutes before claims open on the day, an hour a minute: the opening comes ~5 s after start.
    const at = "2026-04-13T17:55:00+02:00";
    const openAt = Date.parse("2026-04-13T18:00:00+02:00");
    const stack = await startLocalStack({
      port: 0,
      dataDir: tempDir("wkm-rehearse-"),
      quiet: true,
      demo: false,
      workshopsDir,
      at,
      speed: 60,
      schedulerIntervalMs: 200,
    });
    try {
      const listed = (await (await fetch(`${stack.url}/api/workshops`)).json()) as { now: string; workshops: { window: string }[] };
      const nowMs = Date.parse(listed.now);
      expect(nowMs).toBeGreaterThanOrEqual(Date.parse(at));
      expect(nowMs).toBeLessThan(Date.parse(at) + 60 * 60_000);
      expect(listed.workshops[0]!.window).toBe(nowMs < openAt ? "upcoming" : "open");
      const deadline = Date.now() + 20_000;
      while (!stack.scheduler.recentRuns().some((r) => r.input.job === "open") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const open = stack.scheduler.recentRuns().find((r) => r.input.job === "open");
      expect(open, "the open job ran").toBeDefined();
      expect(open!.ok, open!.error).toBe(true);
      const after = (await (await fetch(`${stack.url}/api/workshops/pyconde-2026-darmstadt-sql-agents`)).json()) as Record<string, unknown>;
      expect(after.window).toBe("open");
      const token = await signIn(stack.url, "rehearsal@example.com");
      await callApi(stack.url, token, "PUT", "/api/me", { display_name: "Rehearsal", marketing_opted_in: false });
      const claim = await callApi(stack.url, token, "POST", "/api/workshops/pyconde-2026-darmstadt-sql-agents/claim");
      expect(claim.status).toBe(201);
      expect(claim.body.key.expires_at).toBe("2026-04-14T13:15:00Z");
    } finally {
      await stack.close();
    }
  });
});
