import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANAGEMENT_OPERATIONS } from "./emulator/index.js";
import { DEMO_SLUG } from "./demo.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { callApi, signIn, tempDirs } from "./testing.js";

/**
 * `npm start -- --governance workspace`: the emulator runs as an organization's account, each
 * workshop gets its own workspace at start-up, and a claim through the API is one OpenRouter call.
 */

const tempDir = tempDirs();
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, dataDir: tempDir("wkm-governance-"), quiet: true, governance: "workspace" });
});
afterAll(async () => {
  await stack?.close();
});

describe('the local stack under governance "workspace"', () => {
  it("gives each workshop a workspace at start-up and mints a claim with one OpenRouter call, governed from its first request", async () => {
    expect(stack.governance).toBe("workspace");
    for (const w of stack.workshops) {
      const record = (await stack.store.getWorkshop(w.slug))!;
      const ws = stack.emulator!.state.workspaces!.find((x) => x.id === record.workspace_id);
      expect(ws?.default_guardrail_id, w.slug).toBe(record.guardrail_id);
    }

    const token = await signIn(stack.url, "ada@example.com", { name: "Ada" });
    expect((await callApi(stack.url, token, "PUT", "/api/me", { display_name: "Ada", marketing_opted_in: false, workshop: DEMO_SLUG })).status).toBe(200);
    stack.emulator!.resetStats();
    const claim = await callApi(stack.url, token, "POST", `/api/workshops/${DEMO_SLUG}/claim`);
    expect(claim.status).toBe(201);
    expect(claim.body.key.status).toBe("ACTIVE");
    const calls = stack.emulator!.stats().calls as Record<string, number>;
    expect(Object.fromEntries(MANAGEMENT_OPERATIONS.filter((op) => calls[op]).map((op) => [op, calls[op]]))).toEqual({ "keys.create": 1 });

    const chat = (model: string) =>
      fetch(`${claim.body.key.base_url}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${claim.body.key.key}`, "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
      }).then((r) => r.status);
    expect(await chat("meta-llama/llama-3.3-70b-instruct")).toBe(403);
    expect(await chat("openai/gpt-5-nano")).toBe(200);
  });
});
