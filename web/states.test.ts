import { readFileSync } from "node:fs";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, launchChromium, screenshot, scrollOverflow, watchedPage } from "../local/chromium.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../local/stack.js";
import { callApi, signIn, signInOnProvider, tempDirs, writeWorkshopFiles } from "../local/testing.js";

/**
 * The states around the main flow, in a real Chromium against the real local stack: a revoked key,
 * an expired one, signing in without a key when none can be had, a key page that reads what the
 * key spent, the key test, the organizer's closed workshop, UNBOUND rows and exports, the projector
 * once the room is full, the API going away and coming back (the stack really stops and starts on
 * the same port), and a rehearsal clock that opens claims while two tabs wait: one that chose to
 * claim by itself, one that did not. Screenshots at phone width land in $WKM_SCREENSHOTS (or the
 * temp folder's wkm-web-screenshots), named states-*.png.
 */

const PHONE = { width: 360, height: 780 };
const DESKTOP = { width: 1280, height: 900 };
const ORGANIZER = "organizer@example.org";
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number) => new Date(Math.floor(ms / MINUTE) * MINUTE).toISOString().replace(".000Z", "Z");

const NANO = { id: "openai/gpt-5-nano", label: "GPT-5 nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 };
const SONNET = { id: "anthropic/claude-sonnet-4.6", label: "Claude Sonnet 4.6", price_in_per_mtok: 3, price_out_per_mtok: 15 };
// Long enough to wrap on a projector, at most 48 characters (the schema's limit).
const LONG_SLUG = "st-sold-out-room-with-a-rather-long-slug-2027";

function workshopFile(slug: string, t: { open: number; close: number; start: number; end: number }, extra: { maxKeys?: number; bufferMin?: number } = {}) {
  return {
    slug,
    name: `States: ${slug}`,
    event: "States test conference",
    location: "Room 2",
    starts_at: iso(t.start),
    ends_at: iso(t.end),
    claims_open_at: iso(t.open),
    claims_close_at: iso(t.close),
    is_active: true,
    welcome_message: `Welcome to ${slug}.`,
    organizers: [ORGANIZER],
    openrouter: {
      budget_usd: 2,
      key_label_prefix: "states-test",
      expires_buffer_minutes: extra.bufferMin ?? 30,
      models: [SONNET, NANO],
      guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: extra.maxKeys ?? 20 },
    },
  };
}

let browser: Browser;
const problems: string[] = [];
const tempDir = tempDirs();

function startStack(opts: LocalStackOptions): Promise<LocalStack> {
  // The scheduler is ticked by hand where a test needs its jobs.
  return startLocalStack({ port: 0, demo: false, quiet: true, schedulerIntervalMs: 60 * MINUTE, ...opts });
}

/** Signs in over HTTP and confirms the profile (consent off), as someone who did it on another device. */
async function confirmedAttendee(stack: LocalStack, slug: string, email: string) {
  const token = await signIn(stack.url, email);
  const body = { display_name: email.split("@")[0], marketing_opted_in: false, workshop: slug };
  expect((await callApi(stack.url, token, "PUT", "/api/me", body)).status).toBe(200);
  const me = await callApi(stack.url, token, "GET", "/api/me");
  return { token, userId: me.body.user_id as string };
}

async function claimViaApi(stack: LocalStack, slug: string, email: string) {
  const who = await confirmedAttendee(stack, slug, email);
  const claim = await callApi(stack.url, who.token, "POST", `/api/workshops/${slug}/claim`, {});
  expect(claim.status).toBe(201);
  return { ...who, key: claim.body.key.key as string };
}

const newPage = (viewport = PHONE) => watchedPage(browser, problems, { viewport, deviceScaleFactor: 1 });

/** From any page with a sign-in button: click it and go through the local provider's form. */
async function signInOnPage(page: Page, button: string | RegExp, email: string): Promise<void> {
  await page.getByRole("button", { name: button }).click();
  await signInOnProvider(page, email);
  await page.waitForURL((u) => !u.pathname.startsWith("/oidc") && u.pathname !== "/callback");
}

/** A screenshot, and axe-core's check of the same state in light and dark: nothing found. */
async function shot(page: Page, name: string): Promise<void> {
  await screenshot(page, `states-${name}`);
  expect(await axeViolations(page)).toEqual([]);
}

/** The projector at the two screens a room most often has: everything on it, nothing to scroll. */
const PROJECTOR_SCREENS = [
  { width: 1280, height: 800 },
  { width: 1024, height: 768 },
];

async function fitsProjectorScreens(page: Page, name: string): Promise<void> {
  const before = page.viewportSize();
  for (const screen of PROJECTOR_SCREENS) {
    await page.setViewportSize(screen);
    await expect.poll(() => scrollOverflow(page), { message: `${name} at ${screen.width}x${screen.height}` }).toEqual({ down: 0, sideways: 0 });
    await shot(page, `${name}-${screen.width}x${screen.height}`);
  }
  if (before) await page.setViewportSize(before);
}

async function noHorizontalScroll(page: Page): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, `horizontal scroll on ${page.url()}`).toBeLessThanOrEqual(innerWidth);
}

/** How many lines an inline element's text runs over (its boxes' distinct tops). */
const linesOf = (el: Locator) => el.evaluate((e) => new Set([...e.getClientRects()].map((r) => Math.round(r.top))).size);

const text = async (page: Page) => (await page.locator("main").innerText()).replace(/\s+/g, " ");

beforeAll(async () => {
  // Never skip: a missing browser must fail the run loudly.
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe("attendee and organizer states on the wall clock", () => {
  let stack: LocalStack;
  let dataDir: string;
  let workshops: string;
  const now = Date.now();
  const open = { open: now - HOUR, close: now + 24 * HOUR, start: now - HOUR, end: now + 3 * HOUR };

  beforeAll(async () => {
    workshops = writeWorkshopFiles(tempDir("wkm-states-workshops-"), [
      workshopFile("st-open", open),
      workshopFile("st-paused", open),
      workshopFile(LONG_SLUG, open, { maxKeys: 1 }),
      workshopFile("st-closed", { open: now - 5 * HOUR, close: now - HOUR, start: now - 4 * HOUR, end: now + 2 * HOUR }),
    ]);
    dataDir = tempDir("wkm-states-data-");
    stack = await startStack({ dataDir, workshopsDir: workshops });
    const organizer = await signIn(stack.url, ORGANIZER);
    expect((await callApi(stack.url, organizer, "POST", "/api/admin/workshops/st-paused/pause", {})).status).toBe(200);
    await claimViaApi(stack, LONG_SLUG, "first-in-line@example.org");
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it("a revoked key reads as turned off on the workshop page and the key page, with what to do", async () => {
    const revoked = await claimViaApi(stack, "st-open", "revoked@example.org");
    const organizer = await signIn(stack.url, ORGANIZER);
    expect((await callApi(stack.url, organizer, "POST", `/api/admin/workshops/st-open/claims/${revoked.userId}/revoke`, {})).status).toBe(200);

    const { context, page } = await newPage();
    await page.goto(`${stack.url}/w/st-open/key`);
    await signInOnPage(page, "Sign in to see my key", "revoked@example.org");
    await page.getByRole("heading", { name: "Your key was turned off" }).waitFor();
    const keyPage = await text(page);
    expect(keyPage).toContain("An organizer turned this key off.");
    expect(keyPage).toContain("Ask an organizer if you think this is a mistake.");
    expect(keyPage).toMatch(/It spent \$0\.00 of its \$2\.00 budget/);
    for (const gone of [/left/, /Keep it to yourself/, /Works until/, /Test my key/]) expect(keyPage).not.toMatch(gone);
    expect(await page.locator("#api-key").count()).toBe(0);
    await noHorizontalScroll(page);
    await shot(page, "key-revoked-phone");

    await page.getByRole("link", { name: /States: st-open/ }).click();
    await page.getByText("An organizer turned your key off.").waitFor();
    const workshopPage = await text(page);
    expect(workshopPage).not.toContain("You have a key");
    expect(workshopPage).not.toContain("See my key");
    await shot(page, "workshop-revoked-phone");
    await context.close();
  });

  it("signing in without a key while claims are closed, paused or sold out lands on a message that fits", async () => {
    // Closed: the page offers "Sign in to see my key" and lands on the key page.
    let { context, page } = await newPage();
    await page.goto(`${stack.url}/w/st-closed`);
    await signInOnPage(page, "Sign in to see my key", "late@example.org");
    await page.waitForURL(`${stack.url}/w/st-closed/key`);
    await page.getByText("Claims are closed, and this account has no key.").waitFor();
    expect(await text(page)).not.toContain("Go to the workshop page to get one");
    await shot(page, "key-closed-no-key-phone");
    // …and the workshop page says the same, not "Already have a key? Sign in".
    await page.getByRole("link", { name: /States: st-closed/ }).click();
    await page.getByText(/This account has no key for this workshop/).waitFor();
    expect(await text(page)).not.toContain("Already have a key?");
    await shot(page, "workshop-closed-no-key-phone");
    await context.close();

    // Paused: signed in from the workshop page, confirmed, told to keep the page open.
    ({ context, page } = await newPage());
    await page.goto(`${stack.url}/w/st-paused`);
    await page.getByText("Claims are paused").waitFor();
    await signInOnPage(page, /Sign in/, "paused@example.org");
    await page.getByLabel("Your name").fill("Paula Paused");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(/it updates by itself when they resume/).waitFor();
    expect(await page.getByRole("button", { name: /Get my API key/ }).count()).toBe(0);
    await page.goto(`${stack.url}/w/st-paused/key`);
    await page.getByText("Claims are paused, and you have no key yet.").waitFor();
    await shot(page, "key-paused-no-key-phone");
    await context.close();

    // Sold out: a person without a key is told so, on both pages.
    ({ context, page } = await newPage());
    await page.goto(`${stack.url}/w/${LONG_SLUG}/key`);
    await signInOnPage(page, "Sign in to see my key", "too-late@example.org");
    await page.getByText("All keys have been claimed, and this account has none.").waitFor();
    expect(await text(page)).toContain("talk to the organizers in the room");
    await noHorizontalScroll(page);
    await shot(page, "key-sold-out-no-key-phone");
    await context.close();
  });

  it("/w/<unknown>/key says the workshop does not exist", async () => {
    const { context, page } = await newPage();
    await page.goto(`${stack.url}/w/no-such-workshop/key`);
    await page.getByRole("heading", { name: "Workshop not found" }).waitFor();
    expect(await text(page)).toContain("There is no workshop at this address");
    await shot(page, "key-unknown-workshop-phone");
    await context.close();
  });

  it("the key page reads what the key spent when it opens, says when it checked, and tests the key", async () => {
    const spender = await claimViaApi(stack, "st-open", "spender@example.org");
    // $0.60 on Claude Sonnet ($15 per million output tokens), straight to OpenRouter (the emulator).
    const spend = await fetch(`${stack.openrouterBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${spender.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: SONNET.id, max_tokens: 40_000, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(spend.status).toBe(200);
    await spend.arrayBuffer();

    const { context, page } = await newPage();
    await page.goto(`${stack.url}/w/st-open/key`);
    await signInOnPage(page, "Sign in to see my key", "spender@example.org");
    await page.locator("#api-key").waitFor();
    // No sync job has run: the $0.60 comes from the live read the page asked for.
    await expect.poll(() => page.locator(".budget-figures").innerText()).toMatch(/\$1\.40\s+left\s+\$0\.60 used of \$2\.00/);
    expect(await page.getByTestId("usage-checked").innerText()).toBe("Usage checked just now.");

    // Test my key, from the keyboard: the cheapest model by the workshop's prices answers, from this
    // browser, and the focus is still on the button (a disabled button would have dropped it).
    await page.getByRole("button", { name: "Test my key" }).focus();
    await page.keyboard.press("Enter");
    const result = page.getByTestId("try-result");
    await expect.poll(() => result.innerText()).toContain("It works. GPT-5 nano answered:");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Test my key");
    expect(await result.innerText()).toContain("OpenRouter emulator answering as openai/gpt-5-nano");
    await noHorizontalScroll(page);
    await shot(page, "key-tested-phone");

    // OpenRouter says "slow down" (the emulator's fault injection): the test explains it.
    const faults = `${stack.url}/openrouter/_emulator/faults`;
    const setFaults = (body: unknown) => fetch(faults, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await setFaults({ chat: { rateLimitRate: 1, retryAfterSeconds: 7 } })).status).toBe(200);
    try {
      await page.getByRole("button", { name: "Test my key" }).click();
      await expect.poll(() => result.innerText()).toContain("The test failed: 429 Too many requests");
      expect(await result.innerText()).toContain("Wait the seconds given in the Retry-After header");
      await result.scrollIntoViewIfNeeded();
      await shot(page, "key-test-429-phone");
    } finally {
      await setFaults({});
    }
    // Every error the page explains, the new ones included.
    const help = await page.locator(".errors").innerText();
    for (const code of ["400", "401", "402", "403", "404", "429"]) expect(help).toContain(code);
    expect(help).toContain("Lower max_tokens");
    expect(help).toContain("Copy it exactly from the model picker");
    await context.close();
  });

  it("organizer: no Pause on a closed workshop, a plain reason on UNBOUND rows, attendance CSV, revoked keys apart", async () => {
    const faults = `${stack.url}/openrouter/_emulator/faults`;
    const setFaults = (body: unknown) => fetch(faults, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await setFaults({ "guardrails.assign": { errorRate: 1, errorStatus: 503 } })).status).toBe(200);
    try {
      await claimViaApi(stack, "st-open", "unbound@example.org");
    } finally {
      await setFaults({});
    }

    const { context, page } = await newPage(DESKTOP);
    await page.goto(`${stack.url}/organizer`);
    await signInOnPage(page, "Sign in", ORGANIZER);
    // The list and the dashboard show the same spend, and say when it was synced. The spender's
    // $0.60 was read live by their key page; no sync job has run, so both say so.
    const listSpend = page.locator(".card", { hasText: "States: st-open" }).getByTestId("list-spend");
    await expect.poll(() => listSpend.innerText()).toBe("$0.00 spent of $100.00 cap (not synced yet)");
    await shot(page, "organizer-list-desktop");
    await page.goto(`${stack.url}/organizer/st-open`);
    await expect.poll(() => page.getByTestId("dashboard-spend").innerText()).toMatch(/^\$0\.00\s+\/ \$100\.00$/);
    expect(await page.getByText("All keys, not synced yet.").isVisible()).toBe(true);
    expect(await page.getByTestId("chart-empty").innerText()).toMatch(/^The spend chart appears after two usage syncs, about .+ \(usage syncs every 5 minutes while claims are open\)\.$/);
    await page.goto(`${stack.url}/organizer/st-closed`);
    await page.getByRole("heading", { name: "States: st-closed" }).waitFor();
    await page.getByRole("button", { name: /Download attendance/ }).waitFor();
    expect(await page.getByRole("button", { name: /Pause claims|Resume claims/ }).count()).toBe(0);

    await page.goto(`${stack.url}/organizer/st-open`);
    const row = (email: string) => page.locator("tr", { hasText: email });
    await expect.poll(() => row("unbound@example.org").locator(".status").textContent()).toBe("Unbound");
    const reason = await row("unbound@example.org").locator(".claim-error").innerText();
    expect(reason).toMatch(/OpenRouter/);
    expect(reason).toContain("Press Retry");
    expect(reason).not.toMatch(/Error:|Exception/);
    expect(await page.getByRole("button", { name: "Pause claims" }).isVisible()).toBe(true);
    expect(await row("revoked@example.org").locator(".claim-note").innerText()).toContain("$2.00 of its budget went back to the pool");
    expect(await page.getByTestId("revoked-total").innerText()).toBe("Not counted: 1 revoked key, which spent $0.00.");
    await shot(page, "organizer-open-desktop");

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: /Download attendance/ }).click()]);
    expect(download.suggestedFilename()).toBe("st-open-attendance.csv");
    const csv = readFileSync((await download.path())!, "utf8");
    // Every cell is quoted (the CSV helper's rule, so no cell runs as a spreadsheet formula).
    const rows = csv.trim().split(/\r?\n/).map((l) => l.split(",").map((c) => c.replace(/^"|"$/g, "")));
    expect(rows[0]).toEqual(["email", "display_name", "status", "claimed_at", "spent_usd", "budget_usd"]);
    expect(rows.find((r) => r[0] === "revoked@example.org")?.[2]).toBe("REVOKED");
    expect(rows.find((r) => r[0] === "unbound@example.org")?.[2]).toBe("UNBOUND");
    expect(csv).not.toMatch(/sk-or-/);

    await page.setViewportSize(PHONE);
    await noHorizontalScroll(page);
    await shot(page, "organizer-open-phone");
    await context.close();
  });

  it("projector: no keys left once the room is full or closed, the URL breaks only at a slash, a loopback QR says so", async () => {
    const { context, page } = await newPage({ width: 1280, height: 720 });
    await page.goto(`${stack.url}/w/${LONG_SLUG}/projector`);
    await page.locator('[data-live="yes"]').waitFor();
    expect(await page.getByText("All keys have been claimed").isVisible()).toBe(true);
    expect(await page.getByTestId("keys-left").count()).toBe(0);
    expect(await page.locator(".projector-counts").innerText()).toMatch(/1\s+key handed out/);
    // The slug sits on one line, inside the column.
    const url = page.getByTestId("projector-url");
    expect(await linesOf(url.locator("span", { hasText: LONG_SLUG }))).toBe(1);
    expect(await url.evaluate((el) => el.scrollWidth <= el.clientWidth + 1)).toBe(true);
    // This page was opened on 127.0.0.1: the QR code only works on this computer, and it says so.
    const warning = await page.getByTestId("loopback-warning").innerText();
    expect(warning).toContain("Phones cannot open this QR code");
    expect(warning).toContain("npm start -- --host 0.0.0.0");
    await shot(page, "projector-sold-out-desktop");
    await fitsProjectorScreens(page, "projector-sold-out");

    await page.goto(`${stack.url}/w/st-closed/projector`);
    await page.getByText("Claims are closed").waitFor();
    await page.waitForLoadState("networkidle");
    expect(await page.getByTestId("keys-left").count()).toBe(0);
    await fitsProjectorScreens(page, "projector-closed");
    await page.goto(`${stack.url}/w/st-open/projector`);
    await page.locator('[data-live="yes"]').waitFor();
    await fitsProjectorScreens(page, "projector-open");

    // A narrow screen (a phone held up, a split window): still no break inside the slug.
    await page.setViewportSize(PHONE);
    await page.goto(`${stack.url}/w/${LONG_SLUG}/projector`);
    await page.locator('[data-live="yes"]').waitFor();
    expect(await linesOf(page.getByTestId("projector-url").locator("span", { hasText: LONG_SLUG }))).toBe(1);
    await noHorizontalScroll(page);
    await shot(page, "projector-sold-out-phone");
    await context.close();
  });

  it("the API going away shows a banner on every page; it clears by itself when the server is back", async () => {
    await claimViaApi(stack, "st-open", "holder@example.org");
    const { context, page } = await newPage();
    await page.goto(`${stack.url}/w/st-open/key`);
    await signInOnPage(page, "Sign in to see my key", "holder@example.org");
    await page.locator("#api-key").waitFor();
    const other = await context.newPage();
    await other.goto(`${stack.url}/w/st-paused`);
    await other.locator("#keys-left strong").waitFor();

    // Ctrl-C: the whole stack goes away (a real outage, not a mock).
    const port = Number(new URL(stack.url).port);
    await stack.close();
    expect(await page.getByTestId("usage-checked").innerText()).toBe("Usage checked just now.");
    await page.getByRole("button", { name: "Check now" }).click();
    await page.getByTestId("unreachable").waitFor();
    // The check failed: the line says so, not "checked just now".
    await expect.poll(() => page.getByTestId("usage-checked").innerText()).toBe("Usage could not be checked: the server cannot be reached. These figures were read just now.");
    expect(await page.getByTestId("unreachable").innerText()).toMatch(/The server cannot be reached\. Trying again (in \d+ s|now)/);
    // The key stays on screen; nothing says it is gone.
    expect(await page.locator("#api-key").isVisible()).toBe(true);
    await shot(page, "key-api-down-phone");
    // The other page notices at its next status poll (every 10 s).
    await other.getByTestId("unreachable").waitFor({ timeout: 20_000 });
    await shot(other, "workshop-api-down-phone");

    // `npm start` again on the same port: the banners go away without a reload.
    stack = await startStack({ port, dataDir, workshopsDir: workshops });
    await page.getByTestId("unreachable").waitFor({ state: "detached", timeout: 45_000 });
    await other.getByTestId("unreachable").waitFor({ state: "detached", timeout: 45_000 });
    expect(await page.locator("#api-key").isVisible()).toBe(true);
    await shot(page, "key-api-back-phone");
    await context.close();
  }, 120_000);
});

describe("a rehearsal on the stack's clock", () => {
  // Claims open at T, two days from now on a minute boundary; the stack starts 45 s before it.
  const T = Math.ceil(Date.now() / MINUTE) * MINUTE + 2 * 24 * HOUR;
  let stack: LocalStack;
  let dataDir: string;
  let workshops: string;

  beforeAll(async () => {
    workshops = writeWorkshopFiles(tempDir("wkm-states-workshops-"), [
      workshopFile("st-auto", { open: T, close: T + 4 * HOUR, start: T, end: T + 2 * HOUR }),
      // Its keys expire one minute after T (no buffer).
      workshopFile("st-expiring", { open: T - HOUR, close: T + MINUTE, start: T - HOUR, end: T + MINUTE }, { bufferMin: 0 }),
    ]);
    dataDir = tempDir("wkm-states-rehearsal-");
    stack = await startStack({ dataDir, workshopsDir: workshops, at: new Date(T - 45_000).toISOString() });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it("the countdown follows the stack's clock; a tab claims by itself only when its attendee chose so", async () => {
    expect(stack.clock.now()).toBeLessThan(T - 15_000);
    await confirmedAttendee(stack, "st-auto", "eager@example.org");
    await confirmedAttendee(stack, "st-auto", "patient@example.org");

    // The eager attendee ticks "claim my key for me"; the patient one leaves it off.
    const a = await newPage();
    await a.page.goto(`${stack.url}/w/st-auto`);
    await signInOnPage(a.page, "Sign in now to be ready", "eager@example.org");
    const choice = a.page.getByRole("checkbox", { name: /Claim my key for me when claims open/ });
    await choice.waitFor();
    expect(await choice.isChecked()).toBe(false);
    // The countdown runs on the stack's clock (two days ahead of this machine's), not the phone's.
    expect(await a.page.getByText(/^Claims open in (\d+ s|0 min \d\d s)$/).isVisible()).toBe(true);
    await choice.check();
    await shot(a.page, "workshop-auto-claim-chosen-phone");

    // A newcomer confirms before the opening: the button says "Save", and saving claims nothing.
    const b = await newPage();
    await b.page.goto(`${stack.url}/w/st-auto`);
    await signInOnPage(b.page, "Sign in now to be ready", "newcomer@example.org");
    await b.page.getByLabel("Your name").fill("Nick Newcomer");
    await b.page.getByRole("button", { name: "Save" }).click();
    await b.page.getByRole("checkbox", { name: /Claim my key for me/ }).waitFor();

    const c = await newPage();
    await c.page.goto(`${stack.url}/w/st-auto`);
    await signInOnPage(c.page, "Sign in now to be ready", "patient@example.org");
    await c.page.getByRole("checkbox", { name: /Claim my key for me/ }).waitFor();

    // Claims open: the eager tab gets its key within the 5-second spread, without a click.
    await a.page.waitForURL(`${stack.url}/w/st-auto/key`, { timeout: 75_000 });
    await a.page.locator("#api-key").waitFor();
    const claims = await stack.store.listClaims("st-auto");
    expect(claims.map((x) => x.email)).toEqual(["eager@example.org"]);
    const claimedAt = Date.parse(claims[0]!.claimed_at);
    expect(claimedAt).toBeGreaterThanOrEqual(T);
    expect(claimedAt).toBeLessThan(T + 9_000);

    // The others see the button and nothing happens without a click.
    for (const p of [b.page, c.page]) await p.getByRole("button", { name: "Get my API key" }).waitFor({ timeout: 15_000 });
    await c.page.waitForTimeout(6_000);
    expect((await stack.store.listClaims("st-auto")).map((x) => x.email)).toEqual(["eager@example.org"]);
    await shot(c.page, "workshop-open-waits-for-click-phone");
    await c.page.getByRole("button", { name: "Get my API key" }).click();
    await c.page.waitForURL(`${stack.url}/w/st-auto/key`);
    expect((await stack.store.listClaims("st-auto")).length).toBe(2);
    for (const p of [a, b, c]) await p.context.close();
  }, 150_000);

  it("restarted later on the clock, an expired key reads as expired, with no countdown or budget left", async () => {
    await claimViaApi(stack, "st-expiring", "expiring@example.org");
    // The same rehearsal, two minutes after T: the expire job runs for keys that lapsed at T + 1 min.
    const port = Number(new URL(stack.url).port);
    await stack.close();
    stack = await startStack({ port, dataDir, workshopsDir: workshops, at: new Date(T + 2 * MINUTE).toISOString() });
    await stack.scheduler.tick();
    expect((await stack.store.listClaims("st-expiring"))[0]).toMatchObject({ status: "EXPIRED" });

    const { context, page } = await newPage();
    await page.goto(`${stack.url}/w/st-expiring/key`);
    await signInOnPage(page, "Sign in to see my key", "expiring@example.org");
    await page.getByRole("heading", { name: "Your key has expired" }).waitFor();
    const keyPage = await text(page);
    expect(keyPage).toContain("(the workshop is over)");
    expect(keyPage).toMatch(/It spent \$0\.00 of its \$2\.00 budget/);
    for (const gone of [/left/, /Keep it to yourself/, /Works until/, /Test my key/]) expect(keyPage).not.toMatch(gone);
    await noHorizontalScroll(page);
    await shot(page, "key-expired-phone");

    await page.getByRole("link", { name: /States: st-expiring/ }).click();
    await page.getByText("Your key has expired.").waitFor();
    expect(await text(page)).not.toContain("You have a key");
    await shot(page, "workshop-expired-phone");
    await context.close();
  }, 120_000);
});

describe("every page above", () => {
  it("raised no script error and no Content-Security-Policy violation", () => {
    expect(problems).toEqual([]);
  });
});
