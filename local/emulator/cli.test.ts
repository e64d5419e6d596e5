import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

/** `npm run emulator -- --port 0 --data <file>`: prints its base URL, serves, writes its state, stops on SIGTERM. */

const dir = mkdtempSync(join(tmpdir(), "emulator-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("runs alone, prints its base URL, and keeps its state in the data file", async () => {
  const managementKey = `sk-or-v1-${"3e".repeat(32)}`;
  const dataFile = join(dir, "state.json");
  // The key comes from the environment, so the CLI has no key of its own to print.
  const cli = await startCli(dataFile, managementKey);
  try {
    expect(cli.output()).not.toMatch(/sk-or-v1-[0-9a-f]{16,}/);

    const created = await fetch(`${cli.url}/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${managementKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "cli/1", limit: 1, expires_at: "2099-01-01T00:00:00Z" }),
    });
    expect(created.status).toBe(201);
    await created.text();
  } finally {
    cli.child.kill("SIGTERM");
    expect((await cli.exited).code).toBe(0);
  }
  expect(existsSync(dataFile)).toBe(true);
});

/** Starts the CLI on `dataFile` and answers its base URL, the process and everything it printed. */
async function startCli(dataFile: string, managementKey: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "local/emulator/cli.ts", "--port", "0", "--data", dataFile], {
    cwd: process.cwd(),
    env: { ...process.env, OPENROUTER_MANAGEMENT_KEY: managementKey },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed; output so far: ${output}`)), 30_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const m = /OpenRouter emulator: (http:\/\/127\.0\.0\.1:\d+\/api\/v1)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`exited early with ${code}: ${output}`)));
  });
  return { url, child, exited, output: () => output };
}

it("has every answered change on disk: killed the moment it answers, it restarts knowing every key it handed out", async () => {
  const managementKey = `sk-or-v1-${"5a".repeat(32)}`;
  const dataFile = join(dir, "killed.json");
  const first = await startCli(dataFile, managementKey);
  const create = (i: number) =>
    fetch(`${first.url}/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${managementKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `burst/${i}`, limit: 1, expires_at: "2099-01-01T00:00:00Z" }),
    });
  // A burst; the process is SIGKILLed in the same tick the tenth answer arrives, before any timer
  // or pending write of its own could run.
  const answered: string[] = [];
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      create(i).then(
        async (res) => {
          const hash = ((await res.json()) as { data: { hash: string } }).data.hash;
          answered.push(hash);
          if (answered.length === 10) first.child.kill("SIGKILL");
        },
        () => undefined,
      ),
    ),
  );
  expect((await first.exited).signal).toBe("SIGKILL");
  expect(answered.length).toBeGreaterThanOrEqual(10);

  const second = await startCli(dataFile, managementKey);
  try {
    for (const hash of answered) {
      const res = await fetch(`${second.url}/keys/${hash}`, { headers: { authorization: `Bearer ${managementKey}` } });
      expect(res.status, `key ${hash.slice(0, 8)} answered before the kill`).toBe(200);
      await res.arrayBuffer();
    }
  } finally {
    second.child.kill("SIGTERM");
    await second.exited;
  }
});
