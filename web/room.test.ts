import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLAIM_FLOW_REQUESTS } from "../infra/api-throttle.js";
import { axeViolations, launchChromium, screenshot, watchedPage } from "../local/chromium.js";
import { startLocalStack, type LocalStack } from "../local/stack.js";
import { signInOnProvider, tempDirs, workshopFileAround, writeWorkshopFiles } from "../local/testing.js";

/**
 * A full room, as one attendee's phone sees it, in Chromium: the local stack behind API Gateway's
 * throttle set so tight (one request every 2 s) that the page's calls meet 429 `{"message":"Too Many
 * Requests"}`. The page says the person is queued, tries again by itself, and shows the key; axe
 * finds nothing in the queued state. The authenticated API requests the page made are the ones the
 * throttle's sizing counts (infra/api-throttle.ts, docs/deploy.md). Screenshots: room-*.png.
 */

const SLUG = "room-ui";
const QUEUED = /Lots of people are claiming right now — you're in the queue, trying again (in \d+ s|now)…/;

let browser: Browser;
let stack: LocalStack;
const problems: string[] = [];
const tempDir = tempDirs();

beforeAll(async () => {
  browser = await launchChromium();
  const dir = tempDir("wkm-room-ui-");
  const workshops = writeWorkshopFiles(join(dir, "workshops"), [workshopFileAround(SLUG, Date.now(), { claim_code: false })]);
  stack = await startLocalStack({ port: 0, dataDir: join(dir, "data"), workshopsDir: workshops, demo: false, quiet: true, throttle: { ratePerSecond: 0.5, burst: 1 } });
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await browser?.close();
});

/** Takes every token the throttle refills until stopped, so the page's next call finds the bucket empty. */
function drainThrottle(): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await fetch(`${stack.url}/api/workshops`).then((r) => r.arrayBuffer(), () => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe("a full room, on one attendee's phone", () => {
  it("says the attendee is queued while the API throttles, then shows the key", async () => {
    const { page } = await watchedPage(browser, problems, { viewport: { width: 360, height: 780 }, deviceScaleFactor: 1 });
    // The API requests that carry the attendee's token, as method and path; the anonymous status poll is not one.
    const authenticated: string[] = [];
    let throttled = 0;
    page.on("request", (req) => {
      const url = new URL(req.url());
      if (url.pathname.startsWith("/api/") && req.headers().authorization) authenticated.push(`${req.method()} ${url.pathname}${url.search}`);
    });
    page.on("response", (res) => {
      if (new URL(res.url()).pathname.startsWith("/api/") && res.status() === 429) throttled++;
    });

    await page.goto(`${stack.url}/w/${SLUG}`);
    await page.getByRole("button", { name: "Sign in to get your key" }).click();
    await signInOnProvider(page, "queued@example.org", "Queued Person");
    // The profile and key reads wait their turn too; the confirm step comes once they are through.
    await page.getByText("Confirm your details").waitFor({ timeout: 60_000 });

    const drain = drainThrottle();
    await page.getByRole("button", { name: "Confirm and get my key" }).click();
    const queued = page.getByRole("status").filter({ hasText: QUEUED });
    await queued.waitFor({ timeout: 15_000 });
    await drain.stop();
    expect(await page.getByRole("button", { name: "Waiting in the queue…" }).isDisabled()).toBe(true);
    await screenshot(page, "room-queued");
    expect(await axeViolations(page)).toEqual([]);

    // No click: the page tries again by itself and lands on the key.
    await page.waitForURL(`${stack.url}/w/${SLUG}/key`, { timeout: 60_000 });
    await expect.poll(() => page.locator("#api-key").textContent()).toMatch(/sk-or-v1-/);
    await screenshot(page, "room-key");
    expect(await axeViolations(page)).toEqual([]);
    expect(await page.getByText(QUEUED).count()).toBe(0);
    expect(throttled).toBeGreaterThan(0);

    // What the throttle's sizing counts: the page's authenticated calls around a claim, each once
    // however often the throttle made it ask again (the live usage read once the key page is up).
    await expect.poll(() => authenticated.some((r) => r.endsWith("?usage=live")), { timeout: 30_000 }).toBe(true);
    const distinct = [...new Set(authenticated)].sort();
    expect(distinct).toEqual(
      [`GET /api/me?workshop=${SLUG}`, `GET /api/workshops/${SLUG}/key`, "PUT /api/me", `POST /api/workshops/${SLUG}/claim`, `GET /api/workshops/${SLUG}/key?usage=live`].sort(),
    );
    expect(distinct.length).toBe(CLAIM_FLOW_REQUESTS.pageOpen + CLAIM_FLOW_REQUESTS.press);
    // One key, whatever the retries.
    expect(stack.emulator!.state.keys.filter((k) => k.name.includes(SLUG)).length).toBe(1);
  }, 180_000);

  it("raised no script error and no Content-Security-Policy violation", () => {
    expect(problems).toEqual([]);
  });
});
