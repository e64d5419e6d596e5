import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../local/emulator/index.js";
import { loadWorkshops } from "../workshops/load.js";
import { REPO_ROOT } from "./bundle.js";
import type { GuardrailInputs, GuardrailProvider } from "./guardrail.js";
import { BEFORE_EVERY_WORKSHOP } from "./pulumi-mocks.js";

/**
 * The real entry point (infra/index.ts) in a separate Node process with `--import tsx`, the loader
 * Pulumi.yaml gives the Pulumi runtime: native ES modules, top-level await, the real web build and
 * esbuild bundles, under Pulumi's mocks (`npm run infra:mock-preview`). It runs from the
 * repository root and from infra/ (where `pulumi` runs the program), and both must declare the same
 * files. Then the guardrail provider text that run serialized is loaded as the provider host loads
 * it and driven against the emulator.
 */

const run = promisify(execFile);

interface DeclaredResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
interface Summary {
  resources: number;
  byType: Record<string, number>;
  guardrailProviderMethods: string[];
  governance: string;
  workspaceProviderMethods?: string[];
}

let fromRoot: DeclaredResource[];
let fromInfra: DeclaredResource[];
let summary: Summary;
let workspaceSummary: Summary;
let providerText: string;
let emu: RunningEmulator;

beforeAll(async () => {
  const providerFile = join(mkdtempSync(join(tmpdir(), "wkm-entry-")), "provider.js");
  const env = { ...process.env };
  delete env.OPENROUTER_MANAGEMENT_KEY;
  const options = { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 };
  // Exactly what the README gives, parsed as JSON: stdout must hold nothing else.
  // On a day before every workshop in the repository, so each one is declared whole (guardrail
  // included); with Google sign-in, so a room of sign-ups passes the email check.
  const now = [
    "--now",
    new Date(BEFORE_EVERY_WORKSHOP).toISOString(),
    "--config",
    "workshop-key-minter:googleClientId=1234.apps.googleusercontent.com",
    "--config",
    "workshop-key-minter:googleClientSecret=google-client-secret-for-tests",
  ];
  const root = await run("npm", ["run", "-s", "infra:mock-preview", "--", "--json", "--provider-out", providerFile, ...now], { ...options, cwd: REPO_ROOT });
  fromRoot = JSON.parse(root.stdout);
  providerText = readFileSync(providerFile, "utf8");
  // As Pulumi runs it: from the program's folder (Pulumi.yaml `main: infra/`).
  const infra = await run(process.execPath, ["--import", "tsx", "mock-preview.ts", "--json", ...now], { ...options, cwd: join(REPO_ROOT, "infra") });
  fromInfra = JSON.parse(infra.stdout);
  summary = JSON.parse((await run(process.execPath, ["--import", "tsx", "infra/mock-preview.ts", ...now], { ...options, cwd: REPO_ROOT })).stdout);
  const workspaceMode = ["--config", "workshop-key-minter:governance=workspace"];
  workspaceSummary = JSON.parse((await run(process.execPath, ["--import", "tsx", "infra/mock-preview.ts", ...now, ...workspaceMode], { ...options, cwd: REPO_ROOT })).stdout);
  emu = await startEmulator({ port: 0 });
}, 300_000);

afterAll(async () => {
  await emu?.close();
});

/** Every file a deploy uploads (site files and Lambda packages), as name -> content hashes. */
function uploadedFiles(resources: DeclaredResource[]): [string, string][] {
  return resources
    .filter((r) => r.inputs.source?.files || r.inputs.code?.files)
    .map((r): [string, string] => [r.name, JSON.stringify((r.inputs.source ?? r.inputs.code).files)])
    .sort(([a], [b]) => a.localeCompare(b));
}

describe("infra/index.ts under Node ESM + tsx", () => {
  it("declares the whole stack from the real workshop files and web build", () => {
    const workshops = loadWorkshops();
    expect(summary.byType["pulumi-nodejs:dynamic/openrouter:Guardrail"]).toBe(workshops.length);
    // One item per workshop, and the index listing them all.
    expect(summary.byType["aws:dynamodb/tableItem:TableItem"]).toBe(workshops.length + 1);
    expect(summary.byType["aws:lambda/function:Function"]).toBe(2);
    expect(summary.byType["aws:cloudfront/distribution:Distribution"]).toBe(1);
    // The API's own cache policy and the origin-verify secret.
    expect(summary.byType["aws:cloudfront/cachePolicy:CachePolicy"]).toBe(1);
    expect(summary.byType["random:index/randomPassword:RandomPassword"]).toBe(1);
    // index.html, catalog.json, favicon, the JS and CSS bundles, and config.json.
    expect(summary.byType["aws:s3/bucketObjectv2:BucketObjectv2"]).toBeGreaterThanOrEqual(5);
    expect(summary.guardrailProviderMethods).toEqual(["check", "create", "delete", "diff", "read", "update"]);
    expect(summary.resources).toBe(fromRoot.length);
    expect(summary.governance).toMatch(/^governance: assignment \(.*2 OpenRouter calls per claim\)$/);
  });

  it("shows the governance mode, and under workspace declares a workspace per workshop instead of a guardrail", () => {
    const workshops = loadWorkshops();
    expect(workspaceSummary.governance).toMatch(/^governance: workspace \(.*1 OpenRouter call per claim\)$/);
    expect(workspaceSummary.byType["pulumi-nodejs:dynamic/openrouter:Workspace"]).toBe(workshops.length);
    expect(workspaceSummary.byType["pulumi-nodejs:dynamic/openrouter:Guardrail"]).toBeUndefined();
    expect(workspaceSummary.workspaceProviderMethods).toEqual(["check", "create", "delete", "diff", "read", "update"]);
  });

  it("shows the stack's security settings in its JSON: refresh-token rotation, no cookie to the API, uncached errors, the origin secret loaded from Secrets Manager", () => {
    const one = (type: string) => fromRoot.filter((r) => r.type === type);
    const client = one("aws:cognito/userPoolClient:UserPoolClient")[0].inputs;
    expect(client.refreshTokenRotation).toMatchObject({ feature: "ENABLED" });
    expect(client.explicitAuthFlows).not.toContain("ALLOW_REFRESH_TOKEN_AUTH");
    expect(one("aws:cloudfront/originRequestPolicy:OriginRequestPolicy")[0].inputs.cookiesConfig).toEqual({ cookieBehavior: "none" });
    const distribution = one("aws:cloudfront/distribution:Distribution")[0].inputs;
    expect(distribution.customErrorResponses.every((e: { errorCachingMinTtl: number }) => e.errorCachingMinTtl === 0)).toBe(true);
    const api = fromRoot.find((r) => r.name === "functions-api")!.inputs;
    expect(JSON.stringify(api.environment)).toContain("ORIGIN_VERIFY_SECRET_ARN");
    expect(one("aws:secretsmanager/secretVersion:SecretVersion")).toHaveLength(1);
  });

  it("builds the same site and Lambda packages whether it runs from the repository root or from infra/", () => {
    const root = uploadedFiles(fromRoot);
    expect(root.map(([name]) => name)).toEqual(expect.arrayContaining(["site-file-index.html", "site-file-catalog.json", "functions-api", "functions-jobs"]));
    expect(root.filter(([name]) => name.startsWith("site-file-assets/")).length).toBeGreaterThanOrEqual(2);
    expect(uploadedFiles(fromInfra)).toEqual(root);
  });

  it("ships a production CSP without any loopback allowance, in the page and in CloudFront's header", () => {
    const index = fromRoot.find((r) => r.name === "site-file-index.html")!;
    const html = readFileSync(join(REPO_ROOT, index.inputs.source.path), "utf8");
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    expect(meta).toBeDefined();
    const header = fromRoot.find((r) => r.type === "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")!.inputs.securityHeadersConfig.contentSecurityPolicy
      .contentSecurityPolicy as string;
    for (const csp of [meta!, header]) {
      expect(csp).not.toMatch(/127\.0\.0\.1|localhost|http:/);
      // The page may talk only to itself, this stack's Cognito and OpenRouter (the key page's "Test my key").
      const connect = /connect-src ([^;]+)/.exec(csp)![1].split(" ");
      expect(connect[0]).toBe("'self'");
      expect(connect).toContain("https://openrouter.ai");
      for (const source of connect.slice(1)) expect(source).toMatch(/^https:\/\/([a-z0-9.-]+\.(amazonaws|amazoncognito)\.com|openrouter\.ai)$/);
    }
  });

  it("serializes a guardrail provider that works when loaded the way Pulumi's provider host loads it", async () => {
    const requireFromString = createRequire(import.meta.url)("require-from-string") as (code: string) => { handler: () => GuardrailProvider };
    const provider = requireFromString(providerText).handler();
    const saved = process.env.OPENROUTER_MANAGEMENT_KEY;
    // As `pulumi up` gives it: in the provider host's environment.
    process.env.OPENROUTER_MANAGEMENT_KEY = emu.managementKey;
    try {
      const inputs: GuardrailInputs = {
        name: "workshop-entrypoint",
        description: "from the tsx-serialized provider",
        allowedModels: ["openai/gpt-5-nano"],
        limitUsd: 10,
        resetInterval: "monthly",
        baseUrl: emu.url,
      };
      expect((await provider.check(inputs, inputs)).failures ?? []).toEqual([]);
      const created = await provider.create(inputs);
      expect((await provider.read(created.id, created.outs)).props?.allowedModels).toEqual(["openai/gpt-5-nano"]);
      await provider.delete(created.id, created.outs);
      expect(await provider.read(created.id, created.outs)).toEqual({});
    } finally {
      if (saved === undefined) delete process.env.OPENROUTER_MANAGEMENT_KEY;
      else process.env.OPENROUTER_MANAGEMENT_KEY = saved;
    }
  });
});
