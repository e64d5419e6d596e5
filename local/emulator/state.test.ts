import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "../testing.js";
import { createEmulator } from "./index.js";
import { EmulatorDataError } from "./state.js";

/**
 * The emulator's persistence, file by file: every answered change is in the journal before the answer
 * goes out, a restart replays it, a flush folds it into the data file, a line cut short by a crash is
 * dropped, and a damaged journal is refused rather than guessed at.
 */

const tempDir = tempDirs();
const MANAGEMENT_KEY = `sk-or-v1-${"7c".repeat(32)}`;
const auth = { authorization: `Bearer ${MANAGEMENT_KEY}`, "content-type": "application/json" };

async function createKey(e: ReturnType<typeof createEmulator>, name: string): Promise<string> {
  const res = await e.app.request("/api/v1/keys", { method: "POST", headers: auth, body: JSON.stringify({ name, limit: 2, expires_at: "2099-01-01T00:00:00Z" }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { hash: string } }).data.hash;
}

describe("the emulator's data file and journal", () => {
  it("journals each change before answering; a new emulator on the same file sees it, a flush folds it in", async () => {
    const dataFile = join(tempDir("emulator-state-"), "or.json");
    const first = createEmulator({ managementKey: MANAGEMENT_KEY, dataFile });
    const hash = await createKey(first, "journal/1");
    const g = await first.app.request("/api/v1/guardrails", { method: "POST", headers: auth, body: JSON.stringify({ name: "g", allowed_models: ["openai/gpt-4o-mini"] }) });
    const guardrailId = ((await g.json()) as { data: { id: string } }).data.id;
    await first.app.request(`/api/v1/guardrails/${guardrailId}/assignments/keys`, { method: "POST", headers: auth, body: JSON.stringify({ key_hashes: [hash] }) });
    await first.app.request(`/api/v1/keys/${hash}`, { method: "PATCH", headers: auth, body: JSON.stringify({ disabled: true }) });
    // No flush, no timer: the answers above are all the first emulator gave.
    expect(existsSync(`${dataFile}.journal`)).toBe(true);

    const second = createEmulator({ managementKey: MANAGEMENT_KEY, dataFile });
    expect(second.state.keys.map((k) => [k.hash, k.disabled])).toEqual([[hash, true]]);
    expect(second.state.assignments.map((a) => [a.key_hash, a.guardrail_id])).toEqual([[hash, guardrailId]]);
    // Loading folded the journal into the data file.
    expect(existsSync(`${dataFile}.journal`)).toBe(false);
    expect(JSON.parse(readFileSync(dataFile, "utf8")).keys).toHaveLength(1);

    await second.app.request(`/api/v1/keys/${hash}`, { method: "DELETE", headers: auth });
    await second.flush();
    expect(existsSync(`${dataFile}.journal`)).toBe(false);
    const third = createEmulator({ managementKey: MANAGEMENT_KEY, dataFile });
    expect(third.state.keys).toEqual([]);
    expect(third.state.assignments).toEqual([]);
  });

  it("drops a last line cut short (never answered), and refuses a damaged line before it", async () => {
    const dataFile = join(tempDir("emulator-torn-"), "or.json");
    const first = createEmulator({ managementKey: MANAGEMENT_KEY, dataFile });
    const kept = await createKey(first, "torn/1");
    appendFileSync(`${dataFile}.journal`, '{"keys":{"abc":{"hash":"ab');
    const second = createEmulator({ managementKey: MANAGEMENT_KEY, dataFile });
    expect(second.state.keys.map((k) => k.hash)).toEqual([kept]);

    await createKey(second, "torn/2");
    const journal = readFileSync(`${dataFile}.journal`, "utf8");
    writeFileSync(`${dataFile}.journal`, `{"keys":\n${journal}`);
    expect(() => createEmulator({ managementKey: MANAGEMENT_KEY, dataFile })).toThrow(EmulatorDataError);
    expect(() => createEmulator({ managementKey: MANAGEMENT_KEY, dataFile })).toThrow(/or\.json\.journal line 1 is not a journal entry/);
    // Refused, not replaced: the journal is still there for a person to look at.
    expect(readFileSync(`${dataFile}.journal`, "utf8")).toBe(`{"keys":\n${journal}`);
  });
});
