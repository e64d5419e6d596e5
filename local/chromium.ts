/**
 * Debian's Chromium, as every browser test here launches it. Never skipped: without the browser
 * the launch throws with what to install, and the run fails.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

// The background-networking flags keep Chromium from calling home on this closed network.
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

function requireChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}; the browser tests need it (apt-get install chromium).`);
  }
}

/** A headless browser with a fresh, throwaway profile. */
export async function launchChromium(): Promise<Browser> {
  requireChromium();
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS });
}

/** A headless browser whose profile lives in `profileDir` (a fresh directory per test run). */
export async function launchChromiumProfile(profileDir: string): Promise<BrowserContext> {
  requireChromium();
  return chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS });
}

/**
 * A page in a new context of `browser` that records in `problems` each script error and each
 * Content-Security-Policy refusal it meets, so a test can expect the list to stay empty.
 */
export async function watchedPage(browser: Browser, problems: string[], options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`CSP on ${page.url()}: ${msg.text()}`);
  });
  return { context, page };
}

/** Where the browser tests leave their screenshots: $WKM_SCREENSHOTS, else the temp folder's wkm-web-screenshots. */
export const SCREENSHOTS_DIR = process.env.WKM_SCREENSHOTS ?? join(tmpdir(), "wkm-web-screenshots");

/** A full-page screenshot, `<name>.png` in SCREENSHOTS_DIR (Playwright makes the folder). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${name}.png`), fullPage: true });
}
