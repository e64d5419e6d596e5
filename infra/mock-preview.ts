/**
 * Runs the real entry point (infra/index.ts: stack settings, workshop files, web build, esbuild
 * bundles) under Pulumi's mocks, in the same Node ESM + tsx setting `pulumi up` uses, and prints
 * what it would declare: a preview that needs no AWS account and no Pulumi CLI.
 *
 *   node --import tsx infra/mock-preview.ts            # summary
 *   node --import tsx infra/mock-preview.ts --json     # every resource and its inputs
 *   ... --provider-out FILE                            # also writes the serialized guardrail provider
 *
 * The management key is never needed: a mocked preview calls no provider.
 */
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { installMocks, settle } from "./pulumi-mocks.js";

const program = installMocks({});
const started = performance.now();
await import("./index.js");
await settle();

const byType = new Map<string, number>();
for (const r of program.resources) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);

// The guardrail provider as the Pulumi host will load it: from its serialized text.
const guardrail = program.resources.find((r) => r.type === "pulumi-nodejs:dynamic/openrouter:Guardrail");
let providerMethods: string[] = [];
if (guardrail) {
  const requireFromString = createRequire(import.meta.url)("require-from-string") as (code: string) => { handler: () => object };
  providerMethods = Object.keys(requireFromString(guardrail.inputs.__provider as string).handler()).sort();
  const out = process.argv.indexOf("--provider-out");
  if (out > 0) writeFileSync(process.argv[out + 1], guardrail.inputs.__provider as string);
}

if (process.argv.includes("--json")) {
  console.log(JSON.stringify(program.resources.map((r) => ({ type: r.type, name: r.name, inputs: { ...r.inputs, __provider: undefined } })), null, 2));
} else {
  console.log(
    JSON.stringify(
      {
        resources: program.resources.length,
        byType: Object.fromEntries([...byType].sort()),
        guardrailProviderMethods: providerMethods,
        guardrailProviderBytes: guardrail ? String(guardrail.inputs.__provider).length : 0,
        ms: Math.round(performance.now() - started),
      },
      null,
      2,
    ),
  );
}
