/**
 * Debian's Chromium, as every browser test here launches it. Never skipped: without the browser
 * the launch throws with what to install, and the run fails.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
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
 * Content-Security-Policy refusal it meets, so a test can expect the list to stay empty. With
 * `consoleErrors`, every error in the console too (a failed request is one: a 404, a refused
 * fetch), for a visit in which nothing should fail.
 */
export async function watchedPage(
  browser: Browser,
  problems: string[],
  options: BrowserContextOptions = {},
  watch: { consoleErrors?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`CSP on ${page.url()}: ${msg.text()}`);
    else if (watch.consoleErrors) problems.push(`console error on ${page.url()}: ${msg.text()} (${msg.location().url})`);
  });
  return { context, page };
}

/** How far the page scrolls down and sideways (0 and 0: everything is on the screen). */
export async function scrollOverflow(page: Page): Promise<{ down: number; sideways: number }> {
  return page.evaluate(() => ({
    down: document.documentElement.scrollHeight - window.innerHeight,
    sideways: document.documentElement.scrollWidth - window.innerWidth,
  }));
}

/** Where the browser tests leave their screenshots: $WKM_SCREENSHOTS, else the temp folder's wkm-web-screenshots. */
export const SCREENSHOTS_DIR = process.env.WKM_SCREENSHOTS ?? join(tmpdir(), "wkm-web-screenshots");

/** A full-page screenshot, `<name>.png` in SCREENSHOTS_DIR (Playwright makes the folder). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${name}.png`), fullPage: true });
}

// axe-core's browser build, read once; evaluated in the page over the DevTools protocol, which the
// page's Content-Security-Policy (script-src 'self') does not govern, so the policy stays as served.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/**
 * axe-core's violations on the page as it stands, checked in the light and in the dark colour
 * scheme in turn (the scheme is emulated on the page, as `colorScheme` on a context does, and put
 * back afterwards): one line per rule and scheme, with the elements it found, so a test can expect
 * the list to be empty and read what broke when it is not.
 */
export async function axeViolations(page: Page, schemes: ("light" | "dark")[] = ["light", "dark"]): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE);
  const found: string[] = [];
  const initial = await page.evaluate(() => (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  try {
    for (const scheme of schemes) {
      await page.emulateMedia({ colorScheme: scheme });
      const violations = await page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: AxeViolation[] }> } }).axe;
        return (await axe.run(document, { resultTypes: ["violations"] })).violations;
      });
      for (const v of violations) {
        const where = v.nodes.map((n) => n.target.join(" ")).join(", ");
        found.push(`${scheme} ${new URL(page.url()).pathname}: ${v.id} (${v.impact}) ${v.help}: ${where}`);
      }
    }
  } finally {
    await page.emulateMedia({ colorScheme: initial });
  }
  return found;
}
