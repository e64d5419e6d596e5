/**
 * Runs the real entry point (infra/index.ts: stack settings, workshop files, web build, esbuild
 * bundles) under Pulumi's mocks, in the same Node ESM + tsx setting `pulumi up` uses, and prints
 * what it would declare: a preview that needs no AWS account and no Pulumi CLI.
 *
 *   node --import tsx infra/mock-preview.ts            # summary
 *   node --import tsx infra/mock-preview.ts --json     # every resource and its inputs (files as path + sha256)
 *   ... --provider-out FILE                            # also writes the serialized guardrail (or workspace) provider
 *   ... --config workshop-key-minter:governance=workspace   # a workspace per workshop instead of a guardrail
 *   ... --now 2026-04-01T00:00:00Z                     # as a deploy on that day would declare it
 *   ... --config workshop-key-minter:KEY=VALUE         # stack config (repeatable), as `pulumi config set`
 *
 * stdout carries only the JSON: anything the program prints while it runs goes to stderr. The
 * management key is never needed: a mocked preview calls no provider.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { DEFAULT_GOVERNANCE, governanceLine, isGovernanceMode } from "../workshops/derive.js";
import { REPO_ROOT } from "./bundle.js";
import { installMocks, settle } from "./pulumi-mocks.js";

// Pulumi's own log (info and debug, without an engine) and the web build print with console.log.
const stdoutLog = console.log;
console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);

const nowArg = process.argv.indexOf("--now");
if (nowArg > 0) process.env.WKM_DEPLOY_NOW = process.argv[nowArg + 1];
const config = Object.fromEntries(
  process.argv.flatMap((arg, i) => (arg === "--config" && process.argv[i + 1]?.includes("=") ? [process.argv[i + 1].split(/=(.*)/s).slice(0, 2)] : [])),
);
const program = installMocks(config);
const started = performance.now();
await import("./index.js");
await settle();

const byType = new Map<string, number>();
for (const r of program.resources) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);

// The guardrail (or, under governance "workspace", the workspace) provider as the Pulumi host will load it: from its serialized text.
const requireFromString = createRequire(import.meta.url)("require-from-string") as (code: string) => { handler: () => object };
const providerOf = (type: string) => program.resources.find((r) => r.type === `pulumi-nodejs:dynamic/openrouter:${type}`);
const methodsOf = (r: ReturnType<typeof providerOf>) => (r ? Object.keys(requireFromString(r.inputs.__provider as string).handler()).sort() : []);
const guardrail = providerOf("Guardrail");
const workspace = providerOf("Workspace");
const providerMethods = methodsOf(guardrail);
const out = process.argv.indexOf("--provider-out");
if (out > 0 && (guardrail ?? workspace)) writeFileSync(process.argv[out + 1], (guardrail ?? workspace)!.inputs.__provider as string);

// How keys get their allow-list, as the functions are told (OPENROUTER_GOVERNANCE).
const apiEnv = program.resources.find((r) => r.name === "functions-api")?.inputs.environment?.variables?.OPENROUTER_GOVERNANCE;
const governance = governanceLine(isGovernanceMode(apiEnv) ? apiEnv : DEFAULT_GOVERNANCE);
console.error(governance);

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const filesUnder = (dir: string): string[] =>
  readdirSync(dir)
    .sort()
    .flatMap((entry) => (statSync(join(dir, entry)).isDirectory() ? filesUnder(join(dir, entry)) : [join(dir, entry)]));

/** Inputs as JSON: a file asset becomes its path (from the repository root) and content hash. */
async function describe(value: unknown): Promise<unknown> {
  if (typeof value !== "object" || value === null) return value;
  const v = value as Record<string, unknown>;
  if (v.__pulumiAsset || v.__pulumiArchive) {
    const path = await (v.path as Promise<string> | string | undefined);
    if (typeof path !== "string") return { kind: v.__pulumiAsset ? "asset" : "archive" };
    const files = statSync(path).isDirectory() ? filesUnder(path) : [path];
    return { path: relative(REPO_ROOT, path), files: Object.fromEntries(files.map((f) => [relative(path, f) || ".", sha256(f)])) };
  }
  if (Array.isArray(value)) return Promise.all(value.map(describe));
  return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await describe(x)] as const)));
}

const json = process.argv.includes("--json")
  ? await Promise.all(program.resources.map(async (r) => ({ type: r.type, name: r.name, inputs: await describe({ ...r.inputs, __provider: undefined }) })))
  : {
      resources: program.resources.length,
      byType: Object.fromEntries([...byType].sort()),
      governance,
      guardrailProviderMethods: providerMethods,
      guardrailProviderBytes: guardrail ? String(guardrail.inputs.__provider).length : 0,
      ...(workspace ? { workspaceProviderMethods: methodsOf(workspace), workspaceProviderBytes: String(workspace.inputs.__provider).length } : {}),
      ms: Math.round(performance.now() - started),
    };
stdoutLog(JSON.stringify(json, null, 2));
