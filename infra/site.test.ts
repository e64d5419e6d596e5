import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { siteContentSecurityPolicy, siteFiles, spaRoutingFunctionCode, type SiteFile } from "./site.js";

interface CloudFrontRequest {
  uri: string;
  method: string;
}

/** Runs the generated CloudFront Function the way the viewer-request hook does: handler(event). */
function route(files: SiteFile[], uri: string): string {
  const handler = new Function(`${spaRoutingFunctionCode(files)}\nreturn handler;`)() as (e: { request: CloudFrontRequest }) => CloudFrontRequest;
  return handler({ request: { uri, method: "GET" } }).uri;
}

const file = (key: string): SiteFile => ({ key, path: `/x/${key}`, contentType: "", cacheControl: "" });
const built = ["index.html", "catalog.json", "favicon.svg", "assets/main-ABC.js", "docs/index.html"].map(file);

describe("SPA routing function", () => {
  it("serves the app shell for app routes", () => {
    expect(route(built, "/")).toBe("/index.html");
    expect(route(built, "/w/pyconde-2026-darmstadt-sql-agents")).toBe("/index.html");
    expect(route(built, "/w/pyconde-2026-darmstadt-sql-agents/key")).toBe("/index.html");
    expect(route(built, "/callback")).toBe("/index.html");
    expect(route(built, "/organizer/")).toBe("/index.html");
  });

  it("leaves files alone, so a missing asset is a real 404 and not an HTML page", () => {
    expect(route(built, "/assets/main-ABC.js")).toBe("/assets/main-ABC.js");
    expect(route(built, "/assets/gone-XYZ.js")).toBe("/assets/gone-XYZ.js");
    expect(route(built, "/config.json")).toBe("/config.json");
  });

  it("never touches the API", () => {
    expect(route(built, "/api/workshops")).toBe("/api/workshops");
    expect(route(built, "/api")).toBe("/api");
  });

  it("serves a folder's own index.html when the build has one", () => {
    expect(route(built, "/docs")).toBe("/docs/index.html");
    expect(route(built, "/docs/")).toBe("/docs/index.html");
  });

  it("fits CloudFront Functions' 10 KB code limit", () => {
    expect(Buffer.byteLength(spaRoutingFunctionCode(built))).toBeLessThan(10 * 1024);
  });
});

describe("siteFiles", () => {
  it("lists every file with its content type and cache policy", () => {
    const dir = mkdtempSync(join(tmpdir(), "wkm-files-"));
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), "");
    writeFileSync(join(dir, "assets", "app-1234ABCD.js"), "");
    writeFileSync(join(dir, "assets", "font-1.woff2"), "");
    writeFileSync(join(dir, "notes.weird"), "");
    expect(siteFiles(dir).map((f) => [f.key, f.contentType, f.cacheControl])).toEqual([
      ["assets/app-1234ABCD.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"],
      ["assets/font-1.woff2", "font/woff2", "public, max-age=31536000, immutable"],
      ["index.html", "text/html; charset=utf-8", "no-cache"],
      ["notes.weird", "application/octet-stream", "no-cache"],
    ]);
  });
});

describe("siteContentSecurityPolicy", () => {
  it("allows only the site itself and the sign-in origins", () => {
    const csp = siteContentSecurityPolicy({ connect: ["https://idp.example"], formAction: ["https://login.example"] });
    expect(csp).toContain("connect-src 'self' https://idp.example");
    expect(csp).toContain("form-action 'self' https://login.example");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
  });
});
