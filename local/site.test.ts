import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadWorkshops } from "../workshops/load.js";
import { demoWorkshop } from "./demo.js";
import { ensureSiteBuilt, serveSiteFile } from "./site.js";

/** The local stack builds the site only when it must, and serves it as the single-page app expects. */

const outDir = mkdtempSync(join(tmpdir(), "wkm-site-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("the local site", () => {
  const files = loadWorkshops();

  it("builds when missing, reuses a current build, and rebuilds when the workshops change", async () => {
    expect((await ensureSiteBuilt(files, outDir)).outcome).toBe("built");
    expect((await ensureSiteBuilt(files, outDir)).outcome).toBe("up to date");
    const withDemo = [...files, demoWorkshop(Date.parse("2026-06-01T10:00:00Z"))];
    expect((await ensureSiteBuilt(withDemo, outDir)).outcome).toBe("built");
    const catalog = JSON.parse(await (await serveSiteFile(outDir, "/catalog.json")).text()) as { workshops: { slug: string }[] };
    expect(catalog.workshops.map((w) => w.slug)).toContain("local-demo");
  });

  it("answers app routes with the shell, files as themselves, and nothing outside the build", async () => {
    const shell = await (await serveSiteFile(outDir, "/")).text();
    expect(shell).toContain("<!doctype html>");
    for (const route of ["/w/local-demo", "/w/local-demo/key", "/callback", "/organizer"]) {
      const res = await serveSiteFile(outDir, route);
      expect(res.status, route).toBe(200);
      expect(await res.text()).toBe(shell);
      expect(res.headers.get("cache-control")).toBe("no-cache");
    }
    const asset = readdirSync(join(outDir, "assets")).find((f) => f.endsWith(".js"))!;
    const js = await serveSiteFile(outDir, `/assets/${asset}`);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect((await serveSiteFile(outDir, "/assets/nope.js")).status).toBe(404);
    expect((await serveSiteFile(outDir, "/../../../etc/passwd")).status).toBe(404);
    expect((await serveSiteFile(outDir, "/%2e%2e/%2e%2e/etc/passwd")).status).toBe(404);
    expect((await serveSiteFile(outDir, "/%E0%A4%A")).status).toBe(400);
  });
});
