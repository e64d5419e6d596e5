import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromiumProfile } from "./chromium.js";
import { DEMO_SLUG } from "./demo.js";
import { startLocalStack, type LocalStack } from "./stack.js";

/**
 * What a newcomer does after `npm start`, in a real Chromium: open the printed URL, pick the demo
 * workshop, sign in on the local provider's form, confirm, and see a key that works. Then reload
 * (the key is still shown) and restart the stack (still the same key).
 */

// Never skipped: without Chromium the launch fails and so does the run.
describe("a newcomer in Chromium", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "wkm-browser-"));
  const profileDir = mkdtempSync(join(tmpdir(), "wkm-chromium-"));
  let stack: LocalStack;
  let browser: BrowserContext;
  const problems: string[] = [];
  /** While the test restarts the stack, a request the page makes gets the stack's 503 "stopping" or "starting" (with Retry-After), as documented. */
  let restarting = false;

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, dataDir, quiet: true });
    browser = await launchChromiumProfile(profileDir);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  });

  it("signs in, confirms, claims a key and still sees it after a reload and a restart", async () => {
    const page = browser.pages()[0] ?? (await browser.newPage());
    // Any CSP violation or script error is a failure: the stack's headers and the site must agree.
    page.on("console", (m) => {
      // Failed fetches are judged by URL below; anything else logged as an error is a problem.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
    });
    page.on("response", (r) => {
      const path = new URL(r.url()).pathname;
      // Before the claim, "no key yet" is the API's documented 404 {code: "no_claim"}.
      const expected = (r.status() === 404 && path === `/api/workshops/${DEMO_SLUG}/key`) || (r.status() === 503 && restarting);
      if (r.status() >= 400 && !expected) problems.push(`${r.status()} ${r.request().method()} ${path}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

    await page.goto(`${stack.url}/`);
    await page.getByRole("link", { name: /Local demo workshop/ }).first().click();
    await page.waitForURL(`**/w/${DEMO_SLUG}`);
    await page.getByRole("button", { name: /sign in/i }).first().click();

    // The local provider's dev sign-in form.
    await page.waitForURL(/\/oidc\/interaction\//);
    await page.getByLabel("Email").fill("newcomer@example.com");
    await page.getByLabel(/Name/).fill("Nia Newcomer");
    await page.getByRole("button", { name: "Continue" }).click();

    // Back on the site: confirm the details and get the key.
    await page.getByRole("button", { name: /Confirm and get my key/ }).click({ timeout: 20_000 });
    const keyBox = page.locator("#api-key");
    await keyBox.waitFor({ timeout: 20_000 });
    expect(page.url()).toContain(stack.url);

    expect(stack.emulator!.state.keys).toHaveLength(1);
    const claims = await stack.store.listClaims(DEMO_SLUG);
    expect(claims).toHaveLength(1);
    expect(claims[0]!.status).toBe("ACTIVE");
    const attendee = await stack.store.getAttendee(claims[0]!.user_id);
    expect(attendee).toMatchObject({ email: "newcomer@example.com", display_name: "Nia Newcomer" });
    expect(await stack.store.getConsent(DEMO_SLUG, claims[0]!.user_id)).toMatchObject({ marketing_opted_in: false });
    const key = claims[0]!.key!;

    // The page offers the key itself for copying (revealed on demand).
    await page.getByRole("button", { name: /show|reveal/i }).first().click();
    await expect.poll(async () => (await keyBox.innerText()).trim(), { timeout: 5_000 }).toBe(key);

    await page.reload();
    await page.locator("#api-key").waitFor({ timeout: 20_000 });

    // Ctrl-C and `npm start` again, on the same port: the browser's session and the key carry on.
    const port = Number(new URL(stack.url).port);
    // The key page reads the key's live usage right after it loads and again every little while: one of
    // those may come while the stack is down.
    restarting = true;
    await stack.close();
    stack = await startLocalStack({ port, dataDir, quiet: true });
    await page.goto(`${stack.url}/w/${DEMO_SLUG}`);
    await page.getByRole("link", { name: "See my key" }).click();
    await page.locator("#api-key").waitFor({ timeout: 20_000 }).catch(async (err: unknown) => {
      throw new Error(`no key after the restart; the page says: ${(await page.locator("body").innerText()).slice(0, 600)}; problems: ${problems.join(", ")}`, { cause: err });
    });
    restarting = false;
    await page.getByRole("button", { name: /show|reveal/i }).first().click();
    await expect.poll(async () => (await page.locator("#api-key").innerText()).trim(), { timeout: 5_000 }).toBe(key);
    expect(stack.emulator!.state.keys).toHaveLength(1);

    expect(problems).toEqual([]);
  });
});
