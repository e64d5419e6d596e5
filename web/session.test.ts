import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, launchChromium, screenshot, watchedPage } from "../local/chromium.js";
import { DEMO_SLUG } from "../local/demo.js";
import { startLocalStack, type LocalStack } from "../local/stack.js";
import { idTokenClaims, revokeToken, signInOnProvider, tempDirs } from "../local/testing.js";

/**
 * A sign-in that outlives its ID token, in a real Chromium against the local stack: the provider's
 * ID tokens live a few seconds here (an hour in real use), so the page must trade its refresh token
 * for new ones by itself; and when the issuer refuses (the refresh token was revoked), the page says
 * the session ended and signs the visitor back in where they were.
 */

const ID_TOKEN_TTL_S = 6;
let stack: LocalStack;
let browser: Browser;
const tempDir = tempDirs();
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  stack = await startLocalStack({ port: 0, dataDir: tempDir("wkm-session-web-"), quiet: true, idTokenTtlSeconds: ID_TOKEN_TTL_S, schedulerIntervalMs: 60 * 60_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

interface StoredSession {
  idToken: string;
  refreshToken?: string;
}

const stored = (page: Page) => page.evaluate(() => JSON.parse(sessionStorage.getItem("wkm.session") ?? "null") as StoredSession | null);

describe("a session that lasts the workshop", () => {
  let page: Page;

  it("survives its ID token's expiry: the page refreshes it by itself and the API keeps answering", async () => {
    ({ page } = await watchedPage(browser, pageErrors, { viewport: { width: 1024, height: 800 } }));
    await page.goto(`${stack.url}/w/${DEMO_SLUG}`);
    await page.getByRole("button", { name: "Sign in to get your key" }).click();
    await signInOnProvider(page, "all-day@example.org", "All Day");
    await page.getByRole("button", { name: "Confirm and get my key" }).click({ timeout: 20_000 });
    await page.waitForURL(`${stack.url}/w/${DEMO_SLUG}/key`, { timeout: 20_000 });

    const first = (await stored(page))!;
    expect(first.refreshToken).toBeTruthy();
    const firstExp = Number(idTokenClaims(first.idToken).exp) * 1000;

    // Past the first ID token's expiry, without a click: the page holds a newer, valid one.
    await expect.poll(async () => Date.now() > firstExp + 1_000 && (await stored(page))?.idToken !== first.idToken, { timeout: 20_000, interval: 500 }).toBe(true);
    const later = (await stored(page))!;
    expect(Number(idTokenClaims(later.idToken).exp) * 1000).toBeGreaterThan(Date.now());
    expect(later.refreshToken).not.toBe(first.refreshToken);

    // The page still works as the same person: a reload reads the key through the API.
    await page.reload();
    await page.locator("#api-key").waitFor({ timeout: 15_000 });
    expect(await page.getByText("Your session ended").count()).toBe(0);
  });

  it("says the session ended when the issuer refuses to refresh it, and signs the visitor back in where they were", async () => {
    // Revoked at the provider (as an operator ending sessions would): the next refresh is refused.
    const current = (await stored(page))!;
    expect(await revokeToken(stack.url, current.refreshToken!)).toBe(200);

    const notice = page.getByText("Your session ended — sign in again");
    await notice.waitFor({ timeout: (ID_TOKEN_TTL_S + 10) * 1000 });
    expect(await stored(page)).toBeNull();
    await screenshot(page, "session-ended");
    expect(await axeViolations(page)).toEqual([]);
    // One thing to do: the notice's button. The key page's own "Sign in to see my key" stays away.
    expect(await page.locator(".btn-primary:visible").allTextContents()).toEqual(["Sign in again"]);

    // The provider still knows the browser (its own cookie session), so one click is enough: no form.
    await page.getByRole("button", { name: "Sign in again" }).click();
    await page.waitForURL(`${stack.url}/w/${DEMO_SLUG}/key`, { timeout: 20_000 });
    await page.locator("#api-key").waitFor({ timeout: 15_000 });
    expect(await notice.count()).toBe(0);
    expect((await stored(page))?.refreshToken).toBeTruthy();
    await page.context().close();
    expect(pageErrors).toEqual([]);
  });
});
