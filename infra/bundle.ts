import { build, type Plugin } from "esbuild";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Bundles a Lambda entry point with esbuild into one minified ES module (`index.mjs`): the
 * deployment package of a `nodejs22.x` function whose handler is `index.handler`. Everything is
 * bundled, the AWS SDK included, so the code that was tested is the code that runs (the runtime's
 * built-in SDK version is whatever AWS ships that week).
 *
 * The source map is written beside the package, not into it (`<outdir>.index.mjs.map`): Node would
 * only use it with `--enable-source-maps`, which made every cold import about 20% slower (6 to 9 ms
 * on 50, `npm run bench`), for stack traces the functions' JSON log lines do not print.
 * A minified stack from a log is read against the map of a build of the same commit.
 */

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_BUNDLE_ROOT = join(REPO_ROOT, "dist", "lambda");
export const LAMBDA_HANDLER = "index.handler";

/**
 * The most each Lambda's index.mjs may weigh (bytes, minified): all of it is read and compiled at
 * every cold start. `infra/bundle.test.ts` fails a bundle over its budget; `npm run bench` reports
 * the sizes and the cold import time they cost.
 */
export const BUNDLE_BUDGET_BYTES: Readonly<Record<string, number>> = { api: 420 * 1024, jobs: 370 * 1024 };

export interface BundleOptions {
  /** Where the package is written; defaults to dist/lambda/<name>. */
  outdir?: string;
  /** Defaults to the entry's folder name (functions/api/handler.ts -> api). */
  name?: string;
  minify?: boolean;
  /**
   * "beside" (the default, what is deployed): the map goes next to the package. "linked": inside it,
   * named by the module, as `--enable-source-maps` needs (the bench measures what that costs).
   */
  sourceMap?: "beside" | "linked";
}

export interface BundledFunction {
  name: string;
  /** The folder to zip: index.mjs. */
  outdir: string;
  /** Bytes of index.mjs, what Lambda loads at cold start. */
  sizeBytes: number;
  /** The source map: beside the package (not deployed), unless asked for inside it. */
  sourceMapFile: string;
  sourceMapBytes: number;
  /** Bytes each source file contributes to index.mjs (esbuild's metafile), by path from the repository root. */
  inputs: Record<string, number>;
}

/** Bytes of a bundle by npm package (or, for the project's own code, by top-level folder). */
export function bytesByPackage(inputs: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [path, bytes] of Object.entries(inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.split("/")[0]!;
    out[pkg] = (out[pkg] ?? 0) + bytes;
  }
  return Object.fromEntries(Object.entries(out).sort(([, a], [, b]) => b - a));
}

export class BundleError extends Error {
  override name = "BundleError";
  constructor(
    message: string,
    readonly entry: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// esbuild's ESM output cannot `require` Node built-ins from bundled CommonJS packages (the AWS SDK
// has some); giving the module a real `require` fixes that.
const REQUIRE_SHIM = "import { createRequire as __wkmCreateRequire } from 'node:module'; const require = __wkmCreateRequire(import.meta.url);";

/**
 * The SDK clients import the default credential chain (`@aws-sdk/credential-provider-node`: SSO,
 * STS web identity, INI profiles, instance metadata) even when they are given credentials; a Lambda
 * only ever uses the environment's. This puts functions/aws-credentials.ts in its place, so none
 * of that code is loaded at a cold start (infra/bundle.test.ts checks the metafile).
 */
export const ENVIRONMENT_CREDENTIALS_ONLY: Plugin = {
  name: "environment-credentials-only",
  setup(b) {
    b.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: join(REPO_ROOT, "functions", "aws-credentials.ts") }));
  },
};

/** Dynamically imported by @smithy/core for event-stream operations only (see bundleFunction). */
export const EVENT_STREAMS_MODULE = "@smithy/core/event-streams";

export async function bundleFunction(entry: string, options: BundleOptions = {}): Promise<BundledFunction> {
  const entryPath = resolve(REPO_ROOT, entry);
  const name = options.name ?? basename(dirname(entryPath));
  const outdir = resolve(options.outdir ?? join(DEFAULT_BUNDLE_ROOT, name));
  try {
    await stat(entryPath);
  } catch (cause) {
    throw new BundleError(`the Lambda entry point ${relative(REPO_ROOT, entryPath)} does not exist`, entry, { cause });
  }
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  let metafile;
  try {
    ({ metafile } = await build({
      absWorkingDir: REPO_ROOT,
      entryPoints: { index: entryPath },
      outdir,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      mainFields: ["module", "main"],
      minify: options.minify ?? true,
      sourcemap: options.sourceMap === "linked" ? "linked" : "external",
      sourcesContent: false,
      legalComments: "none",
      banner: { js: REQUIRE_SHIM },
      logLevel: "silent",
      metafile: true,
      plugins: [ENVIRONMENT_CREDENTIALS_ONLY],
      // The SDK loads its event-stream serde with a dynamic import, only for operations that stream
      // events; neither DynamoDB nor Secrets Manager has one, so the bundle leaves it to the Lambda
      // runtime's own SDK (nodejs22.x ships it) instead of carrying 15 KB no request ever loads.
      external: [EVENT_STREAMS_MODULE],
    }));
  } catch (cause) {
    throw new BundleError(`esbuild could not bundle ${relative(REPO_ROOT, entryPath)}: ${(cause as Error).message}`, entry, { cause });
  }
  const sizeBytes = (await stat(join(outdir, "index.mjs"))).size;
  let sourceMapFile = join(outdir, "index.mjs.map");
  if (options.sourceMap !== "linked") {
    await rename(sourceMapFile, `${outdir}.index.mjs.map`);
    sourceMapFile = `${outdir}.index.mjs.map`;
  }
  const sourceMapBytes = (await stat(sourceMapFile)).size;
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith("index.mjs"))?.[1];
  const inputs = Object.fromEntries(Object.entries(output?.inputs ?? {}).map(([path, v]) => [path, v.bytesInOutput]));
  return { name, outdir, sizeBytes, sourceMapFile, sourceMapBytes, inputs };
}
