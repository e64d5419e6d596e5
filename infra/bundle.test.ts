import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { BUNDLE_BUDGET_BYTES, BundleError, bundleFunction, bytesByPackage } from "./bundle.js";
import { FUNCTION_SPECS } from "./functions.js";

/** The deployment packages: esbuild on the real entry points, then loaded the way Lambda loads them. */

const outRoot = mkdtempSync(join(tmpdir(), "wkm-lambda-"));

describe("bundleFunction", () => {
  for (const [name, spec] of Object.entries(FUNCTION_SPECS)) {
    it(`packages the ${name} function (${spec.entry}) into one minified ES module that Node can load`, async () => {
      const bundle = await bundleFunction(spec.entry, { name, outdir: join(outRoot, name) });
      expect(bundle.name).toBe(name);
      expect(bundle.sizeBytes).toBeGreaterThan(10_000);
      // Everything (the AWS SDK included) is inside; a Lambda package must stay far below 50 MB zipped.
      expect(bundle.sizeBytes).toBeLessThan(5 * 1024 * 1024);
      const code = readFileSync(join(bundle.outdir, "index.mjs"), "utf8");
      // The package is the module alone: its source map stays beside it (see bundle.ts).
      expect(readdirSync(bundle.outdir)).toEqual(["index.mjs"]);
      expect(code).not.toMatch(/sourceMappingURL/);
      // Minified: long lines (only template literals keep their newlines).
      expect(code.length / code.split("\n").length).toBeGreaterThan(1000);
      console.log(`${name}: index.mjs ${(bundle.sizeBytes / 1024).toFixed(0)} KiB, map ${(bundle.sourceMapBytes / 1024).toFixed(0)} KiB`);
      // Within its size budget: what a cold start reads and compiles. The largest parts are named
      // when it is not, so the cause shows in the failure.
      const budget = BUNDLE_BUDGET_BYTES[name]!;
      expect(budget).toBeGreaterThan(0);
      const largest = Object.entries(bytesByPackage(bundle.inputs)).slice(0, 6).map(([pkg, bytes]) => `${pkg} ${(bytes / 1024).toFixed(0)} KB`);
      expect(bundle.sizeBytes, `${name} bundle over its ${budget / 1024} KB budget; largest parts: ${largest.join(", ")}`).toBeLessThanOrEqual(budget);
      // Environment credentials only: the SDK's default chain (SSO, STS, INI, instance metadata) is not in it.
      const packages = Object.keys(bytesByPackage(bundle.inputs));
      expect(packages).toContain("@aws-sdk/client-dynamodb");
      expect(packages).toContain("@aws-sdk/credential-provider-env");
      for (const chain of ["@aws-sdk/credential-provider-node", "@aws-sdk/credential-provider-sso", "@aws-sdk/credential-provider-ini", "@aws-sdk/credential-provider-web-identity", "@aws-sdk/nested-clients", "@aws-sdk/token-providers", "@smithy/credential-provider-imds"]) {
        expect(packages).not.toContain(chain);
      }
      const map = JSON.parse(readFileSync(bundle.sourceMapFile, "utf8"));
      expect(map.sources.some((s: string) => s.includes(spec.entry.split("/").slice(0, 2).join("/")))).toBe(true);

      // Loading it runs the module scope, as a cold start does: the environment is read there, and
      // with a complete environment the module loads and exports `handler` (proves the `require`
      // shim works for the bundled CommonJS dependencies).
      const env = {
        ATTENDEES_TABLE: "t-attendees",
        WORKSHOPS_TABLE: "t-workshops",
        OPENROUTER_SECRET_ARN: "arn:aws:secretsmanager:eu-central-1:123456789012:secret:k",
        AUTH_ISSUER: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_x",
        AUTH_CLIENT_ID: "client",
        AWS_REGION: "eu-central-1",
        // Credentials the SDK would find in Lambda; nothing is sent (no request is made here).
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "example",
      };
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      try {
        const mod = (await import(pathToFileURL(join(bundle.outdir, "index.mjs")).href)) as { handler?: unknown };
        expect(typeof mod.handler).toBe("function");
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    });
  }

  it("says which entry point is missing", async () => {
    const error = await bundleFunction("functions/nope/handler.ts", { outdir: join(outRoot, "nope") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toContain("functions/nope/handler.ts does not exist");
  });

  it("says what does not compile", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wkm-broken-"));
    writeFileSync(join(dir, "broken.ts"), "export const handler = (;\n");
    const error = await bundleFunction(join(dir, "broken.ts"), { outdir: join(outRoot, "broken") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toMatch(/could not bundle/);
  });
});
