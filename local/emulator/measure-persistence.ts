/**
 * `npx tsx local/emulator/measure-persistence.ts [n]`: what the emulator's write-through persistence
 * costs a burst of n claims (default 300): each claim's two upstream writes (POST /keys, then the
 * guardrail assignment), n at once, against an emulator in memory and one journaling to a data file,
 * in the same run (compare the ratio; the machine's noise cancels out). Prints one JSON line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEmulator } from "./index.js";

const n = Number(process.argv[2] ?? 300);
const key = `sk-or-v1-${"9d".repeat(32)}`;
const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };

async function burst(dataFile: string | undefined): Promise<number> {
  const e = createEmulator({ managementKey: key, dataFile });
  const g = await e.app.request("/api/v1/guardrails", { method: "POST", headers, body: JSON.stringify({ name: "g", allowed_models: ["openai/gpt-4o-mini"] }) });
  const guardrail = ((await g.json()) as { data: { id: string } }).data.id;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await e.app.request("/api/v1/keys", { method: "POST", headers, body: JSON.stringify({ name: `m/${i}`, limit: 2, expires_at: "2099-01-01T00:00:00Z" }) });
      const hash = ((await res.json()) as { data: { hash: string } }).data.hash;
      await e.app.request(`/api/v1/guardrails/${guardrail}/assignments/keys`, { method: "POST", headers, body: JSON.stringify({ key_hashes: [hash] }) });
    }),
  );
  const ms = performance.now() - started;
  await e.flush();
  return ms;
}

const dir = mkdtempSync(join(tmpdir(), "measure-persistence-"));
try {
  await burst(undefined); // warm-up
  const rounds = 11;
  const memory: number[] = [];
  const persisted: number[] = [];
  for (let r = 0; r < rounds; r++) {
    memory.push(await burst(undefined));
    persisted.push(await burst(join(dir, `r${r}.json`)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const m = median(memory);
  const p = median(persisted);
  console.log(
    JSON.stringify({
      claims: n,
      memory_burst_ms: Math.round(m),
      persisted_burst_ms: Math.round(p),
      extra_per_claim_us: Math.round(((p - m) / n) * 1000),
      ratio: Number((p / m).toFixed(2)),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
