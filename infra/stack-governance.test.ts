import { beforeAll, describe, expect, it } from "vitest";
import { workspaceSpec } from "../workshops/workspace.js";
import type { Workshop } from "../workshops/schema.js";
import { declareStack, revealed, type MockedProgram } from "./pulumi-mocks.js";

/**
 * `governance: workspace`: each live workshop gets an OpenRouter workspace (a dynamic resource)
 * instead of a guardrail, its ids go into the workshop item, and both Lambdas are told the mode. A
 * separate file because Pulumi's mocks and config are process-wide.
 */

const WORKSPACE = "pulumi-nodejs:dynamic/openrouter:Workspace";
const GUARDRAIL = "pulumi-nodejs:dynamic/openrouter:Guardrail";
let program: MockedProgram;
let workshops: Workshop[];
let outputs: Record<string, unknown>;

beforeAll(async () => {
  ({ program, workshops, outputs } = await declareStack({
    "workshop-key-minter:governance": "workspace",
    "workshop-key-minter:sesFromEmail": "keys@example.org",
    "workshop-key-minter:sesIdentityArn": "arn:aws:ses:eu-central-1:123456789012:identity/example.org",
  }));
});

describe('governance "workspace"', () => {
  it("declares one workspace per workshop, with the workshop's allow-list for its default guardrail, and no guardrail", () => {
    expect(program.ofType(GUARDRAIL)).toEqual([]);
    expect(program.ofType(WORKSPACE)).toHaveLength(workshops.length);
    for (const w of workshops) {
      const spec = workspaceSpec(w, "test");
      const ws = program.ofType(WORKSPACE).find((r) => r.name === `workshop-${w.slug}-workspace`)!;
      expect(ws.inputs).toMatchObject({
        slug: spec.slug,
        guardrailName: spec.guardrail.name,
        allowedModels: spec.guardrail.allowed_models,
        limitUsd: spec.guardrail.limit_usd,
        resetInterval: spec.guardrail.reset_interval,
        baseUrl: "https://openrouter.ai/api/v1",
      });
    }
  });

  it("writes the workspace and its default guardrail into the workshop item", () => {
    for (const w of workshops) {
      const item = program.ofType("aws:dynamodb/tableItem:TableItem").find((r) => r.name === `workshop-${w.slug}-item`)!;
      const stored = JSON.parse(item.inputs.item as string);
      expect(stored.workspace_id).toEqual({ S: `ws-workshop-${w.slug}-workspace` });
      expect(stored.guardrail_id).toEqual({ S: `ws-default-gr-workshop-${w.slug}-workspace` });
    }
    expect(outputs.workspaceIds).toEqual(Object.fromEntries(workshops.map((w) => [w.slug, `ws-workshop-${w.slug}-workspace`])));
  });

  it("tells both Lambdas, and their config readers accept it", async () => {
    const { readConfig } = await import("../functions/config.js");
    const { readJobsConfig } = await import("../functions/jobs/config.js");
    const fns = program.ofType("aws:lambda/function:Function");
    const env = (name: string) => revealed(fns.find((f) => f.name === name)!.inputs.environment).variables;
    expect(env("functions-api").OPENROUTER_GOVERNANCE).toBe("workspace");
    expect(env("functions-jobs").OPENROUTER_GOVERNANCE).toBe("workspace");
    expect(readConfig(env("functions-api")).openrouter.governance).toBe("workspace");
    expect(readJobsConfig(env("functions-jobs")).openrouter.governance).toBe("workspace");
  });
});
