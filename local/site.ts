import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Workshop } from "../workshops/schema.js";

/**
 * The built web site for the local stack: built on start when missing or stale (web sources newer
 * than the build, or a different set of workshops), and served with a fallback to index.html for
 * the single-page app's routes.
 */

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "web");
const STAMP_FILE = ".local-stack-build.json";

interface BuildStamp {
  sourcesMtimeMs: number;
  workshopsHash: string;
}

/** The newest modification time of the web sources (tests and the build output excluded). */
function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "dist" || entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (!/\.test\.tsx?$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function hashWorkshops(workshops: Workshop[]): string {
  return createHash("sha256").update(JSON.stringify(workshops)).digest("hex");
}

export type SiteBuildOutcome = "built" | "up to date";

/** Builds the site into `outDir` unless the build there is current. */
export async function ensureSiteBuilt(workshops: Workshop[], outDir: string): Promise<{ outcome: SiteBuildOutcome; ms: number }> {
  const started = performance.now();
  const want: BuildStamp = { sourcesMtimeMs: newestSourceMtime(WEB_DIR), workshopsHash: hashWorkshops(workshops) };
  const stampPath = join(outDir, STAMP_FILE);
  if (existsSync(stampPath) && existsSync(join(outDir, "index.html"))) {
    const have = JSON.parse(readFileSync(stampPath, "utf8")) as BuildStamp;
    if (have.sourcesMtimeMs >= want.sourcesMtimeMs && have.workshopsHash === want.workshopsHash) {
      return { outcome: "up to date", ms: Math.round(performance.now() - started) };
    }
  }
  // Imported here so that a stack started without the web sources fails with the build's own error.
  const { buildSite } = await import("../web/build.js");
  await buildSite({ workshops, outDir });
  writeFileSync(stampPath, JSON.stringify(want));
  return { outcome: "built", ms: Math.round(performance.now() - started) };
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/**
 * Answers a GET for `pathname` from the built site: the file when it exists; index.html for a path
 * without an extension (a route of the app, e.g. /w/<slug> or /callback); 404 otherwise.
 */
export async function serveSiteFile(outDir: string, pathname: string): Promise<Response> {
  const root = resolve(outDir);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return new Response("Bad path", { status: 400 });
  }
  const candidate = resolve(root, "." + (decoded.endsWith("/") ? decoded + "index.html" : decoded));
  if (candidate !== root && !candidate.startsWith(root + sep)) return new Response("Not found", { status: 404 });
  let file = candidate;
  const isFile = await stat(file).then((s) => s.isFile(), () => false);
  if (!isFile) {
    if (extname(decoded) !== "") return new Response("Not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
    file = join(root, "index.html");
  }
  const body = await readFile(file);
  const name = file.slice(root.length + 1);
  // Hashed assets never change; the shell and the catalog must be fetched fresh after a rebuild.
  const cache = name.startsWith("assets" + sep) || name.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
  return new Response(body, {
    headers: { "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream", "cache-control": cache },
  });
}
