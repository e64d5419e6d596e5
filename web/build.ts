import { build, type Metafile } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import type { Workshop } from "../workshops/index.js";
import { buildCatalog } from "./catalog.js";

/**
 * Builds the static site: one HTML shell, one CSS file, the catalog rendered from the workshop
 * files, and JavaScript split so the attendee pages load only what they use. The organizer pages
 * (with the chart library) and the projector page (with the QR encoder) are separate chunks the
 * app imports when one of those routes is opened.
 */

const WEB_DIR = dirname(fileURLToPath(import.meta.url));
// esbuild names chunks by a hash that includes paths relative to its working directory: building
// from the repository root, wherever the command runs (Pulumi runs the program from infra/), gives
// the same file names and contents every time.
const REPO_ROOT = dirname(WEB_DIR);
const ENTRY = join(WEB_DIR, "src", "main.tsx");
const ORGANIZER_ENTRY = join(WEB_DIR, "src", "organizer.tsx");
const PROJECTOR_ENTRY = join(WEB_DIR, "src", "projector.tsx");
const STYLES = join(WEB_DIR, "src", "site.css");
export const DEFAULT_OUT_DIR = join(WEB_DIR, "dist");

export interface BuildSiteOptions {
  workshops: Workshop[];
  outDir: string;
  /** Defaults to true; the local stack may turn it off to read stack traces. */
  minify?: boolean;
  /**
   * Origins the page may fetch from besides its own (the shell's CSP `connect-src`). Defaults to
   * LOCAL_CONNECT_SOURCES; a deploy passes exactly its sign-in origins, so no loopback allowance
   * reaches production.
   */
  connectSources?: string[];
  /** The catalog's `generated_at`; defaults to now. A deploy passes its source's date, so one commit builds one set of bytes. */
  generatedAt?: Date;
}

/** The local stack's allowance: any https origin (real OpenRouter) and loopback (emulators, the dev sign-in). */
export const LOCAL_CONNECT_SOURCES = ["https:", "http://127.0.0.1:*", "http://localhost:*"];

export interface BuildSiteResult {
  outDir: string;
  /** Paths relative to outDir, `/`-separated. */
  files: string[];
  /** Gzipped JavaScript a browser downloads for each kind of page (entry + every chunk it loads). */
  gzipBytes: { attendee: number; organizer: number; projector: number };
}

export class SiteBuildError extends Error {
  override name = "SiteBuildError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

// The shell carries its own policy so that even a server that forgets the header cannot run an
// injected script: scripts only from this origin, no inline script or style blocks.
function contentSecurityPolicy(connectSources: string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    ["connect-src 'self'", ...connectSources].join(" "),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
}

const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#3d3acb"/><circle cx="12" cy="16" r="6" fill="none" stroke="#fff" stroke-width="3"/><path d="M18 16h10v5M24 16v4" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>`;

function shellHtml(scriptSrc: string, preloads: string[], cssHref: string, csp: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="strict-origin-when-cross-origin">
<title>Workshop keys</title>
<meta name="description" content="Claim your personal API key for the workshop.">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${cssHref}">
<link rel="preload" href="/config.json" as="fetch" crossorigin="anonymous">
<link rel="preload" href="/catalog.json" as="fetch" crossorigin="anonymous">
${preloads.map((p) => `<link rel="modulepreload" href="${p}">`).join("\n")}
<script type="module" src="${scriptSrc}"></script>
</head>
<body>
<div id="app"><p class="boot">Loading…</p></div>
<noscript><p class="boot">This page needs JavaScript to sign you in and show your key.</p></noscript>
</body>
</html>
`;
}

type Outputs = Metafile["outputs"];

/** The output file an entry point (or dynamically imported module) became. */
function outputFor(outputs: Outputs, entrySource: string, root: string): string {
  const rel = relative(root, entrySource).split("\\").join("/");
  const found = Object.entries(outputs).find(([, o]) => o.entryPoint === rel);
  if (!found) throw new SiteBuildError(`esbuild produced no output for ${rel}`);
  return found[0];
}

/** An output and every chunk it imports statically: what the browser fetches before it runs. */
function staticClosure(outputs: Outputs, start: string, into = new Set<string>()): Set<string> {
  if (into.has(start)) return into;
  into.add(start);
  for (const imp of outputs[start]?.imports ?? []) {
    if (imp.kind === "import-statement" && !imp.external) staticClosure(outputs, imp.path, into);
  }
  return into;
}

export async function buildSite(opts: BuildSiteOptions): Promise<BuildSiteResult> {
  const outDir = resolve(opts.outDir);
  const minify = opts.minify ?? true;
  const root = REPO_ROOT;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, "assets"), { recursive: true });

  let metafile: Metafile;
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [ENTRY, STYLES],
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: ["es2022", "chrome105", "safari15.4", "firefox104"],
      outdir: join(outDir, "assets"),
      entryNames: "[name]-[hash]",
      chunkNames: "[name]-[hash]",
      assetNames: "[name]-[hash]",
      jsx: "automatic",
      jsxImportSource: "preact",
      minify,
      sourcemap: false,
      legalComments: "none",
      metafile: true,
      logLevel: "silent",
      define: { "process.env.NODE_ENV": '"production"' },
      loader: { ".svg": "file" },
    });
    metafile = result.metafile;
  } catch (cause) {
    throw new SiteBuildError(`the web bundle failed to build: ${(cause as Error).message}`, { cause });
  }

  const outputs = metafile.outputs;
  const toUrl = (out: string) => "/" + relative(outDir, resolve(root, out)).split("\\").join("/");
  const appOut = outputFor(outputs, ENTRY, root);
  const cssOut = outputFor(outputs, STYLES, root);
  const attendee = staticClosure(outputs, appOut);
  const organizer = staticClosure(outputs, outputFor(outputs, ORGANIZER_ENTRY, root), new Set(attendee));
  const projector = staticClosure(outputs, outputFor(outputs, PROJECTOR_ENTRY, root), new Set(attendee));

  const gzipOf = async (set: Set<string>) => {
    let total = 0;
    for (const out of set) {
      if (out.endsWith(".js")) total += gzipSync(await readFile(resolve(root, out)), { level: 9 }).length;
    }
    return total;
  };

  const preloads = [...attendee].filter((o) => o !== appOut).map(toUrl);
  await writeFile(join(outDir, "index.html"), shellHtml(toUrl(appOut), preloads, toUrl(cssOut), contentSecurityPolicy(opts.connectSources ?? LOCAL_CONNECT_SOURCES)));
  await writeFile(join(outDir, "catalog.json"), JSON.stringify(buildCatalog(opts.workshops, opts.generatedAt)));
  await writeFile(join(outDir, "favicon.svg"), FAVICON_SVG);

  const files = ["index.html", "catalog.json", "favicon.svg", ...Object.keys(outputs).map((o) => toUrl(o).slice(1))].sort();
  return {
    outDir,
    files,
    gzipBytes: { attendee: await gzipOf(attendee), organizer: await gzipOf(organizer), projector: await gzipOf(projector) },
  };
}

async function main(): Promise<void> {
  const { loadWorkshops } = await import("../workshops/index.js");
  const started = performance.now();
  const result = await buildSite({ workshops: loadWorkshops(), outDir: DEFAULT_OUT_DIR });
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`Built ${result.files.length} files into ${relative(process.cwd(), result.outDir)} in ${Math.round(performance.now() - started)} ms`);
  console.log(`Gzipped JavaScript: attendee pages ${kb(result.gzipBytes.attendee)} (limit 60 KB), organizer ${kb(result.gzipBytes.organizer)}, projector ${kb(result.gzipBytes.projector)}`);
  if (result.gzipBytes.attendee > 60 * 1024) {
    console.error("The attendee pages exceed the 60 KB gzipped JavaScript budget.");
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
