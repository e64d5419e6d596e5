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

/**
 * The real entry point (infra/index.ts) in a separate Node process with `--import tsx`, the loader
 * Pulumi.yaml gives the Pulumi runtime: native ES modules, top-level await, the real web build and
 * esbuild bundles, under Pulumi's mocks. Then the guardrail provider text that run serialized is
 * loaded as the provider host loads it and driven against the emulator.
 */

const run = promisify(execFile);
let summary: { resources: number; byType: Record<string, number>; guardrailProviderMethods: string[] };
let providerText: string;
let emu: RunningEmulator;

beforeAll(async () => {
  const providerFile = join(mkdtempSync(join(tmpdir(), "wkm-entry-")), "provider.js");
  const env = { ...process.env };
  delete env.OPENROUTER_MANAGEMENT_KEY;
  const { stdout } = await run(process.execPath, ["--import", "tsx", "infra/mock-preview.ts", "--provider-out", providerFile], {
    cwd: REPO_ROOT,
    env,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  summary = JSON.parse(stdout);
  providerText = readFileSync(providerFile, "utf8");
  emu = await startEmulator({ port: 0 });
}, 150_000);

afterAll(async () => {
  await emu?.close();
});

describe("infra/index.ts under Node ESM + tsx", () => {
  it("declares the whole stack from the real workshop files and web build", () => {
    const workshops = loadWorkshops();
    expect(summary.byType["pulumi-nodejs:dynamic/openrouter:Guardrail"]).toBe(workshops.length);
    expect(summary.byType["aws:dynamodb/tableItem:TableItem"]).toBe(workshops.length);
    expect(summary.byType["aws:lambda/function:Function"]).toBe(2);
    expect(summary.byType["aws:cloudfront/distribution:Distribution"]).toBe(1);
    // index.html, catalog.json, favicon, the JS and CSS bundles, and config.json.
    expect(summary.byType["aws:s3/bucketObjectv2:BucketObjectv2"]).toBeGreaterThanOrEqual(5);
    expect(summary.guardrailProviderMethods).toEqual(["check", "create", "delete", "diff", "read", "update"]);
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
