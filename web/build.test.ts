import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWorkshops, WorkshopSchema, type Workshop } from "../workshops/index.js";
import { buildSite, type BuildSiteResult } from "./build.js";
import { renderWelcomeHtml } from "./catalog.js";
import type { Catalog } from "./src/types.js";

const ATTENDEE_BUDGET_BYTES = 60 * 1024;

function hostileWorkshop(base: Workshop): Workshop {
  return WorkshopSchema.parse({
    ...base,
    slug: "hostile-welcome",
    organizers: ["secret-organizer@example.org"],
    welcome_message: [
      "## Hi <script>window.__pwned = 1</script>",
      "",
      '<img src="x" onerror="window.__pwned = 2">',
      "",
      "[click me](javascript:window.__pwned=3) and [docs](https://openrouter.ai/docs)",
    ].join("\n"),
  });
}

describe("buildSite", () => {
  let outDir: string;
  let result: BuildSiteResult;
  let html: string;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), "wkm-site-"));
    const workshops = loadWorkshops();
    result = await buildSite({ workshops: [...workshops, hostileWorkshop(workshops[0])], outDir });
    html = readFileSync(join(outDir, "index.html"), "utf8");
    console.log(
      `gzipped JS: attendee ${result.gzipBytes.attendee} B, organizer ${result.gzipBytes.organizer} B, projector ${result.gzipBytes.projector} B`,
    );
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("keeps the attendee pages' gzipped JavaScript under 60 KB, with the organizer and projector libraries kept out", () => {
    expect(result.gzipBytes.attendee).toBeGreaterThan(5_000);
    expect(result.gzipBytes.attendee).toBeLessThan(ATTENDEE_BUDGET_BYTES);
    // The chart and QR libraries only arrive with their own pages.
    expect(result.gzipBytes.organizer).toBeGreaterThan(result.gzipBytes.attendee + 10_000);
    expect(result.gzipBytes.projector).toBeGreaterThan(result.gzipBytes.attendee + 1_000);
  });

  it("loads only same-origin scripts with no inline code, so `script-src 'self'` holds", () => {
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    for (const [tag, body] of scripts) {
      expect(tag).toMatch(/src="\/assets\/[^"]+\.js"/);
      expect(body.trim()).toBe("");
    }
    expect(html).toContain(`http-equiv="Content-Security-Policy"`);
    expect(html).toContain("script-src 'self'");
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)[^"' ;]*\.(js|css|woff2?)/); // no CDN or web fonts
  });

  it("ships no markdown library at all, and no chart or QR code to the attendee pages", () => {
    const jsFiles = readdirSync(join(outDir, "assets")).filter((f) => f.endsWith(".js"));
    for (const f of jsFiles) {
      const js = readFileSync(join(outDir, "assets", f), "utf8");
      expect(js, f).not.toContain("markdown-it");
      expect(js, f).not.toContain("linkify");
    }
    // What the shell loads before any route runs: the entry and its modulepreloaded chunks.
    const attendeeFiles = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
    expect(attendeeFiles.length).toBeGreaterThan(0);
    for (const f of attendeeFiles) {
      const js = readFileSync(join(outDir, "assets", f), "utf8");
      expect(js, f).not.toContain("u-legend"); // uPlot
      expect(js, f).not.toContain("QR Code"); // uqr's error text
    }
  });

  it("renders the catalog from the workshops without organizer emails, with the welcome message's HTML escaped", () => {
    const catalog = JSON.parse(readFileSync(join(outDir, "catalog.json"), "utf8")) as Catalog;
    expect(catalog.workshops.map((w) => w.slug)).toContain("pyconde-2026-darmstadt-sql-agents");
    const real = catalog.workshops.find((w) => w.slug === "pyconde-2026-darmstadt-sql-agents")!;
    expect(real.capacity).toBe(300);
    expect(real.key_expires_at).toBe("2026-04-14T13:15:00Z");
    expect(real.models.map((m) => m.label)).toEqual(["Claude Sonnet 4.6", "GPT-5 nano", "Qwen 3.5 Flash"]);
    expect(real.welcome_html).toContain("<strong>mehdio</strong>");

    const hostile = catalog.workshops.find((w) => w.slug === "hostile-welcome")!;
    expect(hostile.welcome_html).not.toMatch(/<script|<img/i);
    expect(hostile.welcome_html).toContain("&lt;script&gt;");
    expect(hostile.welcome_html).toContain("&lt;img src=");
    expect(hostile.welcome_html).not.toContain('href="javascript:');
    expect(hostile.welcome_html).toContain('<a href="https://openrouter.ai/docs" target="_blank" rel="noopener noreferrer">docs</a>');
    expect(JSON.stringify(catalog)).not.toContain("secret-organizer@example.org");
    expect(JSON.stringify(catalog)).not.toContain("organizer@example.com");
  });

  it("lists what it wrote", () => {
    expect(result.outDir).toBe(outDir);
    expect(result.files).toEqual(expect.arrayContaining(["index.html", "catalog.json", "favicon.svg"]));
    expect(result.files.some((f) => /^assets\/main-[A-Z0-9]+\.js$/.test(f))).toBe(true);
    expect(result.files.some((f) => /^assets\/site-[A-Z0-9]+\.css$/.test(f))).toBe(true);
  });
});

describe("renderWelcomeHtml", () => {
  it("drops links that are not http(s), mailto, or site-relative", () => {
    expect(renderWelcomeHtml("[a](vbscript:x) [b](data:text/html,x) [c](/w/x) [d](mailto:a@b.c)")).toBe(
      '<p>[a](vbscript:x) [b](data:text/html,x) <a href="/w/x">c</a> <a href="mailto:a@b.c">d</a></p>\n',
    );
  });
});
