import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDirs, workshopFileAround, writeWorkshopFiles } from "../local/testing.js";
import { checkWorkshopsWithModels, modelList } from "./check.js";

/**
 * `workshops:check --models` against a model list in OpenRouter's `GET /models` shape
 * (testdata/openrouter-models.json: assembled by hand in that shape, with an alias whose canonical
 * slug differs, a model retiring on 2026-01-15 and changed prices; not captured live).
 */

const RECORDED = join(import.meta.dirname, "testdata", "openrouter-models.json");
const tempDir = tempDirs();
const servers: { close: () => void }[] = [];
afterAll(() => servers.forEach((s) => s.close()));

function workshopDir(models: { id: string; label: string; price_in_per_mtok?: number; price_out_per_mtok?: number }[]): string {
  const file = workshopFileAround("models-checked", Date.parse("2026-02-01T10:00:00Z"));
  (file.openrouter as Record<string, unknown>).models = models;
  return writeWorkshopFiles(tempDir("wkm-models-"), [file]);
}

describe("workshops:check --models", () => {
  it("reports an unknown model, a retiring one and a stale price, each with the fix", async () => {
    const dir = workshopDir([
      { id: "openai/gpt-5-nano", label: "nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 },
      { id: "openai/gpt-5-mni", label: "typo" },
      { id: "google/gemini-2.0-flash-001", label: "retiring" },
      { id: "anthropic/claude-sonnet-4.6", label: "sonnet", price_in_per_mtok: 3, price_out_per_mtok: 15 },
    ]);
    const { ok, lines } = checkWorkshopsWithModels(dir, await modelList({ file: RECORDED }));
    expect(ok).toBe(false);
    const out = lines.join("\n");
    expect(out).toContain(`models  checked against the recorded list ${RECORDED}`);
    expect(out).toContain('error   models-checked: openrouter.models[1].id: OpenRouter has no model "openai/gpt-5-mni"; use an id from https://openrouter.ai/models (closest: openai/gpt-5-mini)');
    expect(out).toMatch(/error {3}models-checked: openrouter\.models\[2\]\.id: OpenRouter retires "google\/gemini-2\.0-flash-001" on 2026-01-15, before the workshop's keys expire \(2026-02-01T13:30:00Z\); pick another model/);
    expect(out).toContain(
      "warning models-checked: openrouter.models[3]: the YAML says $3 in / $15 out per million tokens, OpenRouter lists $3.3 / $16.5; set price_in_per_mtok: 3.3 and price_out_per_mtok: 16.5",
    );
    expect(lines.filter((l) => !l.startsWith("ok") && l.includes("openai/gpt-5-nano"))).toEqual([]);
    expect(lines.at(-1)).toBe("2 model errors");
  });

  it("passes a workshop whose models OpenRouter lists, fetched over HTTP as the PR check does", async () => {
    const body = JSON.stringify(JSON.parse((await import("node:fs")).readFileSync(RECORDED, "utf8")));
    const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(body));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/models`;
    const dir = workshopDir([{ id: "openai/gpt-5-nano", label: "nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 }]);
    const { ok, lines } = checkWorkshopsWithModels(dir, await modelList({ url }));
    expect(ok).toBe(true);
    expect(lines).toContain(`models  checked against OpenRouter's model list (${url})`);
  });

  it("offline (or when OpenRouter does not answer) it uses the emulator's catalogue and says so", async () => {
    const dir = workshopDir([{ id: "openai/gpt-5-nano", label: "nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 }]);
    const offline = await modelList({ offline: true });
    expect(offline.from).toBe("the emulator's catalogue (offline; OpenRouter's live list was not checked)");
    expect(checkWorkshopsWithModels(dir, offline).ok).toBe(true);
    const down = await modelList({ url: "http://127.0.0.1:9/api/v1/models", timeoutMs: 2_000 });
    expect(down.from).toMatch(/^the emulator's catalogue \(http:\/\/127\.0\.0\.1:9\/api\/v1\/models did not answer: .*; OpenRouter's live list was not checked\)$/);
  });
});
