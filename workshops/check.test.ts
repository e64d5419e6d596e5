import { describe, expect, it } from "vitest";
import { checkWorkshops } from "./check.js";
import { WORKSHOPS_DIR } from "./load.js";

/** `npm run workshops:check` says how the stack's keys get their allow-list (`--governance`). */
describe("workshops:check", () => {
  it("shows the governance mode beside the workshops: assignment by default, workspace when told", () => {
    const byDefault = checkWorkshops(WORKSHOPS_DIR);
    expect(byDefault.ok).toBe(true);
    expect(byDefault.lines).toContain("keys    governance: assignment (each key assigned to the workshop's guardrail; 2 OpenRouter calls per claim)");
    expect(checkWorkshops(WORKSHOPS_DIR, "workspace").lines).toContain(
      "keys    governance: workspace (one OpenRouter workspace per workshop; its default guardrail carries the allow-list; 1 OpenRouter call per claim)",
    );
  });
});
