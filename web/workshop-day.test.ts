import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { encode } from "uqr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomCodeAt, roomCodeStep } from "../functions/domain/room-code.js";
import { checkAccountCredits } from "../functions/jobs/credits.js";
import { launchChromium, screenshot, watchedPage } from "../local/chromium.js";
import { startLocalStack, type LocalStack } from "../local/stack.js";
import { signInOnProvider, tempDirs, workshopFileAround, writeWorkshopFiles } from "../local/testing.js";

/**
 * Workshop-day safety in a real Chromium against the real local stack: the room code from the
 * projector to a claimed key, and what organizers see. The stack's clock starts just after a room
 * code changed, so the test knows which codes are current, previous and expired without waiting.
 */

const ORGANIZER = "day-organizer@example.org";
const SLUG = "room-day";
const POLICY = { rotate_minutes: 10, grace_minutes: 4 };
const PERIOD = POLICY.rotate_minutes * 60_000;
const START = Math.floor(Date.now() / PERIOD) * PERIOD + 20_000;

let stack: LocalStack;
let browser: Browser;
const tempDir = tempDirs();
const pageProblems: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  const workDir = tempDir("wkm-day-");
  stack = await startLocalStack({
    port: 0,
    dataDir: join(workDir, "data"),
    workshopsDir: writeWorkshopFiles(join(workDir, "workshops"), [workshopFileAround(SLUG, START, { organizers: [ORGANIZER], claim_code: POLICY })]),
    demo: false,
    quiet: true,
    at: new Date(START).toISOString(),
    schedulerIntervalMs: 60 * 60_000,
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function newPage(viewport = { width: 1280, height: 800 }): Promise<Page> {
  return (await watchedPage(browser, pageProblems, { viewport })).page;
}

async function codes() {
  const secret = await stack.store.roomCodeSecret(stack.clock.now());
  const step = roomCodeStep(POLICY, stack.clock.now());
  return { current: roomCodeAt(secret, SLUG, POLICY, step), expired: roomCodeAt(secret, SLUG, POLICY, step - 2) };
}

/** The modules of the projector's SVG QR code, as the set of dark cells its path draws. */
async function qrCells(page: Page): Promise<string[]> {
  const d = (await page.locator("svg.qr path").getAttribute("d")) ?? "";
  return [...d.matchAll(/M(\d+) (\d+)h1v1h-1z/g)].map((m) => `${m[1]},${m[2]}`).sort();
}

function cellsOf(text: string): string[] {
  const qr = encode(text, { ecc: "M", border: 2 });
  const cells: string[] = [];
  qr.data.forEach((row, y) => row.forEach((dark, x) => dark && cells.push(`${x},${y}`)));
  return cells.sort();
}

describe("the room code, from the projector to a key", () => {
  it("shows the code and its QR code only to a signed-in organizer; scanning it, signing in and confirming gets a key", async () => {
    const { current } = await codes();

    // The room's screen: an organizer opens the projector view and signs in there.
    const projector = await newPage();
    await projector.goto(`${stack.url}/w/${SLUG}/projector`);
    await projector.getByRole("button", { name: "Sign in to show the room code" }).click();
    expect(await projector.locator("svg.qr").count()).toBe(0);
    await signInOnProvider(projector, ORGANIZER);
    await projector.waitForURL(`${stack.url}/w/${SLUG}/projector`);
    await expect.poll(() => projector.getByTestId("room-code").textContent(), { timeout: 15_000 }).toBe(`${current.slice(0, 3)} ${current.slice(3)}`);
    const qrUrl = `${stack.url}/w/${SLUG}?code=${current}`;
    expect(await projector.locator("svg.qr").getAttribute("aria-label")).toBe(`QR code for ${qrUrl}`);
    // The drawn modules are exactly those of that URL's QR code.
    expect(await qrCells(projector)).toEqual(cellsOf(qrUrl));
    await screenshot(projector, "projector-room-code");

    // An attendee scans it: the code rides along through the sign-in and the confirm step.
    const phone = await newPage();
    await phone.goto(qrUrl);
    await phone.getByRole("button", { name: "Sign in to get your key" }).click();
    await signInOnProvider(phone, "scanner@example.org", "Sam Scanner");
    await phone.getByRole("button", { name: "Confirm and get my key" }).click({ timeout: 20_000 });
    await phone.waitForURL(`${stack.url}/w/${SLUG}/key`, { timeout: 20_000 });
    const claims = await stack.store.listClaims(SLUG);
    expect(claims.map((c) => [c.email, c.status])).toEqual([["scanner@example.org", "ACTIVE"]]);

    // The organizer dashboard shows the same code.
    await projector.goto(`${stack.url}/organizer/${SLUG}`);
    await expect.poll(() => projector.locator(".room-code-panel").getByTestId("room-code").textContent(), { timeout: 15_000 }).toBe(
      `${current.slice(0, 3)} ${current.slice(3)}`,
    );
    await screenshot(projector, "organizer-room-code");

    // Signed in as an attendee, the projector does not show the code.
    await phone.goto(`${stack.url}/w/${SLUG}/projector`);
    await phone.getByText("Only this workshop's organizers can show its room code").waitFor({ timeout: 15_000 });
    expect(await phone.locator("svg.qr").count()).toBe(0);
    expect(await phone.content()).not.toContain(current);
    await projector.context().close();
    await phone.context().close();
  });

  it("refuses a forged and an expired code with a message that asks for the code on the screen, then takes the right one", async () => {
    const { current, expired } = await codes();
    const forged = ["ZZZZZZ", "23456A"].find((c) => c !== current)!;
    const page = await newPage({ width: 360, height: 780 });
    await page.goto(`${stack.url}/w/${SLUG}?code=${forged}`);
    // The code is kept for the tab and taken off the address bar.
    await expect.poll(() => page.url()).toBe(`${stack.url}/w/${SLUG}`);
    await page.getByRole("button", { name: "Sign in to get your key" }).click();
    await signInOnProvider(page, "forger@example.org", "Fay Forger");
    await page.getByRole("button", { name: "Confirm and get my key" }).click({ timeout: 20_000 });

    const refusal = page.getByRole("alert");
    await expect.poll(() => refusal.textContent(), { timeout: 15_000 }).toContain("That room code is not valid now");
    expect(await refusal.textContent()).toContain("Enter the room code shown on the screen");
    const field = page.getByLabel("Room code");
    await field.fill(expired.toLowerCase());
    await page.getByRole("button", { name: "Get my API key" }).click();
    await expect.poll(async () => (await field.isVisible()) && (await refusal.textContent()), { timeout: 15_000 }).toContain("That room code is not valid now");
    await screenshot(page, "room-code-refused-phone");
    expect((await stack.store.listClaims(SLUG)).some((c) => c.email === "forger@example.org")).toBe(false);

    await field.fill(`${current.slice(0, 3)}-${current.slice(3)}`);
    await page.getByRole("button", { name: "Get my API key" }).click();
    await page.waitForURL(`${stack.url}/w/${SLUG}/key`, { timeout: 20_000 });
    expect((await stack.store.listClaims(SLUG)).find((c) => c.email === "forger@example.org")?.status).toBe("ACTIVE");
    await page.context().close();
  });

  it("after 10 wrong codes tells the person to wait for the next code on the screen", async () => {
    const { current } = await codes();
    const page = await newPage({ width: 360, height: 780 });
    await page.goto(`${stack.url}/w/${SLUG}`);
    await page.getByRole("button", { name: "Sign in to get your key" }).click();
    await signInOnProvider(page, "guesser@example.org", "Gus Guesser");
    await page.getByRole("button", { name: "Confirm and get my key" }).click({ timeout: 20_000 });
    const field = page.getByLabel("Room code");
    const refusal = page.getByRole("alert");
    const wrong = ["ZZZZZZ", "YYYYYY"].find((c) => c !== current)!;
    for (let i = 1; i <= 11; i++) {
      await field.fill(wrong);
      await page.getByRole("button", { name: "Get my API key" }).click();
      await expect.poll(async () => (await field.isVisible()) && (await refusal.textContent()), { timeout: 15_000 }).toContain(i <= 10 ? "That room code is not valid now" : "Too many tries");
    }
    expect(await refusal.textContent()).toMatch(/Too many wrong room codes\. You can try again in \d+ minutes, when the code on the screen changes/);
    await screenshot(page, "room-code-too-many-phone");
    expect((await stack.store.listClaims(SLUG)).some((c) => c.email === "guesser@example.org")).toBe(false);
    await page.context().close();
  });

  it("warns organizers when the OpenRouter account's credit is below what the workshops can still spend", async () => {
    const setCredit = (total: number) =>
      fetch(`${stack.url}/openrouter/_emulator/credits`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ total_credits: total }) });
    expect((await setCredit(3)).status).toBe(200);
    // What the sync job runs after each sync, here at once rather than at the next 5-minute tick.
    const record = (await stack.store.getWorkshop(SLUG))!;
    const check = await checkAccountCredits({ store: stack.store, openrouter: stack.openrouter, now: () => stack.clock.now() }, { record });
    // 20 keys × $1: two claimed in the tests above, none spent yet.
    expect(check).toMatchObject({ available_usd: 3, worst_case_usd: 20, shortfall_usd: 17 });

    const page = await newPage();
    await page.goto(`${stack.url}/organizer`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await signInOnProvider(page, ORGANIZER);
    const warning = page.getByTestId("credit-shortfall");
    await warning.waitFor({ timeout: 15_000 });
    expect(await page.getByText("OpenRouter credit is $17.00 short").isVisible()).toBe(true);
    expect(await warning.textContent()).toContain("The account has $3.00 left, but the keys of open and upcoming workshops can still spend up to $20.00");
    await screenshot(page, "organizer-credit-warning");

    // Credit added: the warning goes with the next check.
    expect((await setCredit(1000)).status).toBe(200);
    await checkAccountCredits({ store: stack.store, openrouter: stack.openrouter, now: () => stack.clock.now() }, { record });
    await page.reload();
    await page.getByText(`Workshop ${SLUG}`).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("credit-shortfall").count()).toBe(0);
    await page.context().close();
  });

  it("ran without page errors", () => {
    expect(pageProblems).toEqual([]);
  });
});
