import { beforeAll, describe, expect, it } from "vitest";
import { keyExpiresAt } from "../workshops/derive.js";
import type { Workshop } from "../workshops/schema.js";
import { declareStack, type MockedProgram } from "./pulumi-mocks.js";

/**
 * A deploy whose clock is after every workshop in the repository, as a fork's first deploy of an
 * old sample would be: the workshops are history (workshop.ts `isHistory`), so nothing outside the
 * table happens for them.
 */
let program: MockedProgram;
let workshops: Workshop[];
let outputs: Record<string, unknown>;

beforeAll(async () => {
  const { loadWorkshops } = await import("../workshops/load.js");
  const afterEveryWorkshop = Math.max(...loadWorkshops().map((w) => Date.parse(keyExpiresAt(w)))) + 60_000;
  ({ program, workshops, outputs } = await declareStack({ "workshop-key-minter:adminEmails": JSON.stringify(["admin@example.org"]) }, [], afterEveryWorkshop));
}, 60_000);

describe("a deploy after every workshop has ended", () => {
  it("creates no guardrail, no schedule and no organizer account for them", () => {
    expect(workshops.length).toBeGreaterThan(0);
    expect(program.ofType("pulumi-nodejs:dynamic/openrouter:Guardrail")).toEqual([]);
    expect(program.ofType("aws:scheduler/schedule:Schedule")).toEqual([]);
    // Only the admin is invited: no organizer gets a temporary password for a past workshop.
    expect(program.ofType("aws:cognito/user:User").map((u) => u.inputs.username)).toEqual(["admin@example.org"]);
    expect(outputs.guardrailIds).toEqual({});
  });

  it("still writes their items, so the organizer dashboard and the catalog show them as ended", () => {
    for (const w of workshops) {
      const item = JSON.parse(program.one("aws:dynamodb/tableItem:TableItem", `workshop-${w.slug}-item`).inputs.item as string);
      expect(item.sk).toEqual({ S: `CONFIG#${w.slug}` });
      expect(item.guardrail_id).toBeUndefined();
    }
    const index = JSON.parse(program.one("aws:dynamodb/tableItem:TableItem", "workshop-index").inputs.item as string);
    expect(Object.keys(index.workshops.M).sort()).toEqual(workshops.map((w) => w.slug).sort());
  });
});
