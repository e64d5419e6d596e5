import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRICS_NAMESPACE, METRICS_SERVICE } from "../functions/observability/metrics.js";
import { captureStdout, emfFor, type StdoutRecords } from "../local/stdout-records.js";
import { launchChromium, screenshot, watchedPage } from "../local/chromium.js";
import { startLocalStack, type LocalStack } from "../local/stack.js";
import { signIn, signInOnProvider, tempDirs, workshopFileAround, writeWorkshopFiles } from "../local/testing.js";

/**
 * Issue 21 on the local stack, as an operator rehearses it: the stack prints the Lambdas' EMF
 * records, a claim produces ClaimsMinted, and an OpenRouter failure injected with the emulator's own
 * fault controls (`/_emulator/faults`, over HTTP) produces OpenRouterCallsFailed in the printed EMF
 * and on the organizer dashboard's health panel in Chromium. Nothing is mocked: the stack is not
 * quiet and stdout is read.
 */

const ORGANIZER = "health-organizer@example.org";
const SLUG = "health-day";
const START = Date.now();

let stack: LocalStack;
let browser: Browser;
let out: StdoutRecords;
const tempDir = tempDirs();
const pageProblems: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  const workDir = tempDir("wkm-health-");
  out = captureStdout();
  stack = await startLocalStack({
    port: 0,
    dataDir: join(workDir, "data"),
    workshopsDir: writeWorkshopFiles(join(workDir, "workshops"), [workshopFileAround(SLUG, START, { organizers: [ORGANIZER] })]),
    demo: false,
    log: () => {},
    at: new Date(START).toISOString(),
    schedulerIntervalMs: 60 * 60_000,
  });
}, 120_000);

afterAll(async () => {
  out?.stop();
  await browser?.close();
  await stack?.close();
});

async function claimAs(email: string): Promise<Response> {
  const token = await signIn(stack.url, email);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const confirmed = await fetch(`${stack.url}/api/me`, { method: "PUT", headers, body: JSON.stringify({ display_name: email.split("@")[0], marketing_opted_in: false }) });
  expect(confirmed.status).toBe(200);
  return fetch(`${stack.url}/api/workshops/${SLUG}/claim`, { method: "POST", headers, body: "{}" });
}

describe("health on the local stack", () => {
  it("prints an EMF record for ClaimsMinted when a claim gets a key", async () => {
    const res = await claimAs("minted@example.org");
    expect(res.status).toBe(201);
    const minted = emfFor(out.emf, "ClaimsMinted");
    expect(minted).toHaveLength(1);
    expect(minted[0]).toMatchObject({ ClaimsMinted: 1, workshop: SLUG, service: METRICS_SERVICE });
    expect(minted[0]!._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: METRICS_NAMESPACE, Metrics: [{ Name: "ClaimsMinted", Unit: "Count" }] });
    expect(minted[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual(expect.arrayContaining([["service", "workshop"]]));
    // The claim's log records carry its claim id as their correlation id, and no key.
    const claimRecords = out.logs.filter((l) => l.service === "api");
    for (const r of claimRecords) expect(r).toMatchObject({ level: expect.any(String), correlation_id: expect.any(String) });
    expect(out.lines.join("\n")).not.toMatch(/sk-or-v1-[0-9a-f]{16,}/);
  });

  it("shows an injected OpenRouter failure in the printed EMF and on the organizer's health panel", async () => {
    const faults = (body: unknown) => fetch(`${stack.url}/openrouter/_emulator/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await faults({ "keys.create": { errorRate: 1, errorStatus: 503 } })).status).toBe(200);
    try {
      expect((await claimAs("unlucky@example.org")).status).toBe(503);
    } finally {
      expect((await faults({})).status).toBe(200);
    }
    const failed = emfFor(out.emf, "OpenRouterCallsFailed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ OpenRouterCallsFailed: 1, operation: "createKey", status_class: "5xx" });
    expect(failed[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([
      ["service", "status_class"],
      ["service", "operation", "status_class"],
    ]);
    expect(emfFor(out.emf, "ClaimsRefused")[0]).toMatchObject({ ClaimsRefused: 1, workshop: SLUG, reason: "upstream" });

    const { page } = await watchedPage(browser, pageProblems, { viewport: { width: 1280, height: 900 } });
    await page.goto(`${stack.url}/organizer/${SLUG}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await signInOnProvider(page, ORGANIZER);
    const panel = page.getByTestId("health-panel");
    await panel.waitFor({ timeout: 20_000 });
    await expect.poll(() => page.getByTestId("health-openrouter-failures").textContent(), { timeout: 15_000 }).toContain("createKey 5xx: 1");
    expect(await page.getByTestId("health-refusals").textContent()).toContain("OpenRouter or store failed: 1");
    expect(await page.getByTestId("health-claims-per-minute").textContent()).toContain("1 in all");
    expect(await panel.getAttribute("data-trouble")).toBe("yes");
    await screenshot(page, "organizer-health-panel");
    await page.close();
  });

  it("ran without page errors", () => {
    expect(pageProblems).toEqual([]);
  });
});
