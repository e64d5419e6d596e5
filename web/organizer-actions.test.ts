import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, launchChromium, screenshot, watchedPage } from "../local/chromium.js";
import { startLocalStack, type LocalStack } from "../local/stack.js";
import { callApi, signIn, signInOnProvider, tempDirs, workshopFileAround, writeWorkshopFiles } from "../local/testing.js";

/** A screenshot, and axe-core's check of the same state in light and dark: nothing found. */
async function shot(page: Page, name: string): Promise<void> {
  await screenshot(page, `organizer-actions-${name}`);
  expect(await axeViolations(page)).toEqual([]);
}

/**
 * The organizer's controls of issue 22 in a real Chromium against the real local stack: top up a
 * key (and the attendee's key page shows the new budget), the revoke dialog's figures, allowing a
 * new key after a revoke, claiming on behalf of someone in the room (the key shown once), bulk
 * revoke with its total, and the audit list. Screenshots land in $WKM_SCREENSHOTS as organizer-actions-*.png.
 */

const ORGANIZER = "organizer@example.org";
const SLUG = "oa-room";
const DOMAIN_SLUG = "oa-uni";
const INVITE_SLUG = "oa-invited";
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 360, height: 780 };

let browser: Browser;
let stack: LocalStack;
const problems: string[] = [];
const tempDir = tempDirs();

beforeAll(async () => {
  browser = await launchChromium();
  const at = Date.now();
  const workshops = writeWorkshopFiles(tempDir("wkm-oa-workshops-"), [
    workshopFileAround(SLUG, at, { organizers: [ORGANIZER] }),
    { ...workshopFileAround(DOMAIN_SLUG, at, { organizers: [ORGANIZER] }), attendees: { allow_email_domains: ["uni-example.edu"] } },
    { ...workshopFileAround(INVITE_SLUG, at, { organizers: [ORGANIZER] }), attendees: { invite_list: true } },
  ]);
  stack = await startLocalStack({ port: 0, demo: false, quiet: true, schedulerIntervalMs: 3_600_000, dataDir: tempDir("wkm-oa-data-"), workshopsDir: workshops });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  expect(problems).toEqual([]);
});

/** An attendee who signed in and confirmed elsewhere, with a claimed key. */
async function attendeeWithKey(email: string) {
  const token = await signIn(stack.url, email);
  expect((await callApi(stack.url, token, "PUT", "/api/me", { display_name: email.split("@")[0], marketing_opted_in: false, workshop: SLUG })).status).toBe(200);
  const claimed = await callApi(stack.url, token, "POST", `/api/workshops/${SLUG}/claim`, {});
  expect(claimed.status).toBe(201);
  return { token };
}

async function organizerPage(slug = SLUG): Promise<{ page: Page; close: () => Promise<void> }> {
  const { context, page } = await watchedPage(browser, problems, { viewport: DESKTOP, deviceScaleFactor: 1 });
  await page.goto(`${stack.url}/organizer/${slug}`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await signInOnProvider(page, ORGANIZER);
  await page.getByRole("heading", { name: `Workshop ${slug}` }).waitFor();
  return { page, close: () => context.close() };
}

const row = (page: Page, email: string) => page.locator("tr", { hasText: email });

describe("organizer controls on the dashboard", () => {
  it("top up a key: the dialog shows the pool, the row and the attendee's key page the new budget", async () => {
    const ann = await attendeeWithKey("ann@example.org");
    const { page, close } = await organizerPage();
    await row(page, "ann@example.org").getByRole("button", { name: "Top up the key of ann@example.org" }).click();
    const dialog = page.getByRole("dialog", { name: "Top up this key" });
    await dialog.getByLabel("Amount per key (US dollars)").fill("1.5");
    expect(await dialog.getByTestId("topup-total").innerText()).toMatch(/by \$1\.50, taken from the pool, which has \$19\.00 uncommitted of its \$20\.00 cap/);
    await shot(page, "topup-dialog");
    await dialog.getByRole("button", { name: "Top up" }).click();
    await page.getByText("Topped up the key of ann@example.org by $1.50.").waitFor();
    await expect.poll(() => row(page, "ann@example.org").locator("td.num").innerText()).toContain("$2.50");
    await page.getByTestId("audit").getByText(/topped up the key of ann@example.org by \$1\.50/).waitFor();
    await close();

    // What the key page reads (the same answer the attendee's page renders).
    expect((await callApi(stack.url, ann.token, "GET", `/api/workshops/${SLUG}/key`)).body).toMatchObject({ budget_usd: 2.5, limit_remaining: 2.5 });
    const { context, page: keyPage } = await watchedPage(browser, problems, { viewport: DESKTOP });
    await keyPage.goto(`${stack.url}/w/${SLUG}/key`);
    await keyPage.getByRole("button", { name: "Sign in to see my key" }).click();
    await signInOnProvider(keyPage, "ann@example.org");
    await keyPage.getByText("used of $2.50").waitFor();
    await context.close();
  });

  it("revoke says what returns and whether a place frees; then allow a new key, which the attendee claims", async () => {
    const bo = await attendeeWithKey("bo@example.org");
    const { page, close } = await organizerPage();
    await row(page, "bo@example.org").getByRole("button", { name: "Revoke the key of bo@example.org" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke this key?" });
    expect(await dialog.getByTestId("revoke-returns").innerText()).toContain("Up to $1.00 goes back to the pool: its limit of $1.00 less the $0.00 it had spent");
    expect(await dialog.getByTestId("revoke-place").innerText()).toBe("This frees a place: one more person can claim a key.");
    await dialog.getByRole("button", { name: "Revoke key" }).click();
    await page.getByText("Revoked the key of bo@example.org.").waitFor();

    await row(page, "bo@example.org").getByRole("button", { name: "Allow a new key for bo@example.org" }).click();
    await page.getByText("bo@example.org can claim a new key now.").waitFor();
    await row(page, "bo@example.org").getByText("allowed a new key").waitFor();
    expect((await callApi(stack.url, bo.token, "POST", `/api/workshops/${SLUG}/claim`, {})).status).toBe(201);
    await page.reload();
    await expect.poll(() => row(page, "bo@example.org").locator(".status").innerText()).toBe("Active");
    await close();
  });

  it("claim on behalf: the key is shown once, with the snippet, and the row says who handed it out", async () => {
    const { page, close } = await organizerPage();
    await page.getByText("Claim a key for someone in the room").click();
    await page.getByLabel("Their email").fill("cy@example.org");
    await page.getByLabel("Their name (optional)").fill("Cy");
    await page.getByRole("button", { name: "Claim their key" }).click();
    const shown = page.getByTestId("behalf-key");
    await shown.getByRole("heading", { name: "The key of Cy" }).waitFor();
    await shot(page, "claim-on-behalf-masked"); // before "Show": no key in a screenshot
    await shown.getByRole("button", { name: "Show" }).click();
    expect(await shown.locator("#api-key").innerText()).toMatch(/^sk-or-/);
    await shown.getByTestId("snippet").waitFor();
    await shown.getByRole("button", { name: "Done, hide the key" }).click();
    expect(await page.getByTestId("behalf-key").count()).toBe(0);
    await expect.poll(() => row(page, "cy@example.org").locator(".status").innerText()).toBe("Active");
    expect(await row(page, "cy@example.org").locator(".claim-note").innerText()).toBe(`Claimed in the room by ${ORGANIZER}.`);
    // Once: a second claim for the same email is refused with why.
    await page.getByText("Claim a key for someone in the room").click();
    await page.getByLabel("Their email").fill("cy@example.org");
    await page.getByRole("button", { name: "Claim their key" }).click();
    await page.getByText(/A key was already handed out for cy@example.org/).waitFor();
    await close();
  });

  it("bulk revoke: the confirmation states the total money moved", async () => {
    await attendeeWithKey("dee@example.org");
    await attendeeWithKey("eve@example.org");
    const { page, close } = await organizerPage();
    await page.getByLabel("Select dee@example.org").check();
    await page.getByLabel("Select eve@example.org").check();
    await page.getByRole("button", { name: "Revoke selected" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke 2 keys?" });
    expect(await dialog.getByTestId("revoke-returns").innerText()).toContain("Up to $2.00 in all goes back to the pool");
    await shot(page, "bulk-revoke");
    await dialog.getByRole("button", { name: "Revoke 2 keys" }).click();
    await page.getByText("Revoked 2 keys.").waitFor();
    for (const email of ["dee@example.org", "eve@example.org"]) await expect.poll(() => row(page, email).locator(".status").innerText()).toBe("Revoked");
    await page.getByTestId("audit").getByText("revoked the key of eve@example.org").waitFor();
    await close();
  });
});

/** An attendee on their phone: signs in on the workshop page and confirms, which claims; answers what the page says. */
async function tryToClaimOnPage(slug: string, email: string): Promise<{ page: Page; close: () => Promise<void> }> {
  const { context, page } = await watchedPage(browser, problems, { viewport: PHONE, deviceScaleFactor: 1 });
  await page.goto(`${stack.url}/w/${slug}`);
  await page.getByRole("button", { name: /Sign in/ }).first().click();
  await signInOnProvider(page, email);
  await page.waitForURL((u) => !u.pathname.startsWith("/oidc") && u.pathname !== "/callback");
  await page.getByLabel("Your name").fill(email.split("@")[0]!);
  // Claims are open: confirming the profile claims at once.
  await page.getByRole("button", { name: "Confirm and get my key" }).click();
  return { page, close: () => context.close() };
}

describe("who may claim", () => {
  it("an email domain rule: someone outside it is told who may and why; someone inside gets a key", async () => {
    const out = await tryToClaimOnPage(DOMAIN_SLUG, "outsider@gmail.com");
    await out.page.getByText(/Keys for this workshop are for people with an email address at @uni-example\.edu/).waitFor();
    expect(await out.page.locator("main").innerText()).toContain("You signed in as outsider@gmail.com");
    await shot(out.page, "domain-refused-phone");
    await out.close();

    const inside = await tryToClaimOnPage(DOMAIN_SLUG, "student@uni-example.edu");
    await inside.page.locator("#api-key").waitFor();
    await inside.close();
  });

  it("an invite list uploaded as a CSV: the dashboard shows who has not claimed, listed people claim, others are told why", async () => {
    const { page, close } = await organizerPage(INVITE_SLUG);
    expect(await page.getByTestId("invites-summary").innerText()).toBe("No list uploaded yet: nobody can claim a key until you upload one.");
    const csv = "email,name\nlisted@example.org,Lee\n\"second@example.org\",Sam\n";
    await page.getByLabel(/Upload a new list/).setInputFiles({ name: "invites.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByText("Uploaded 2 addresses.").waitFor();
    expect(await page.getByTestId("invites-summary").innerText()).toBe("2 people on the list; 2 of them have not claimed a key yet.");

    const listed = await tryToClaimOnPage(INVITE_SLUG, "listed@example.org");
    await listed.page.locator("#api-key").waitFor();
    await listed.close();
    const stranger = await tryToClaimOnPage(INVITE_SLUG, "stranger@example.org");
    await stranger.page.getByText(/people on the invite list the organizers uploaded, and stranger@example\.org is not on it/).waitFor();
    await shot(stranger.page, "invite-refused-phone");
    await stranger.close();

    await page.reload();
    await page.getByTestId("invites-summary").getByText("2 people on the list; 1 of them have not claimed a key yet.").waitFor();
    await page.getByText("Not claimed yet").click();
    expect(await page.getByTestId("invites-not-claimed").innerText()).toBe("second@example.org");
    await page.getByTestId("audit").getByText("uploaded the invite list").waitFor();
    await close();
  });
});
