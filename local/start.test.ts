import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnNpmStart, waitForRunningUrl } from "./testing.js";

/**
 * `npm start` as a person runs it: the CLI prints the URL, the mode and the workshops, the URL
 * answers, and Ctrl-C (SIGINT) stops everything and exits 0.
 */

const dataDir = mkdtempSync(join(tmpdir(), "wkm-cli-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("npm start", () => {
  it("prints where it runs, serves, and stops cleanly on Ctrl-C", async () => {
    const spawnedAt = Date.now();
    const cli = spawnNpmStart(["--port", "0", "--data", dataDir, "--admin", "lead@example.com"], { LOCAL_ADMINS: "second@example.com" });
    // Throws with what it printed when no URL comes.
    const url = await waitForRunningUrl(cli);
    const waited = (Date.now() - spawnedAt) / 1000;
    const out = cli.output();
    // "ready in" is what the person waited: from the process's start, module loading included, not
    // from when the stack began to start (which left out a good part of the wait).
    const ready = Number(/ready in (\d+\.\d) s/.exec(out)?.[1]);
    expect(ready, out).toBeGreaterThan(waited * 0.8);
    expect(ready).toBeLessThanOrEqual(waited + 0.1);
    expect(out).toContain("OpenRouter emulator at");
    expect(out).toContain("keys:      governance: assignment (each key assigned to the workshop's guardrail; 2 OpenRouter calls per claim)");
    expect(out).toMatch(/- local-demo \(local demo\): claims open until/);
    expect(out).toMatch(/- pyconde-2026-darmstadt-sql-agents: claims/);
    expect(out).toContain("second@example.com, lead@example.com");
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    cli.child.kill("SIGINT");
    const code = await Promise.race([cli.exited.then((e) => e.code), new Promise((r) => setTimeout(() => r("still running"), 15_000))]);
    expect(code, cli.output()).toBe(0);
    expect(cli.output()).toContain("Stopped. Everything is kept in the data folder.");
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe("npm start's options", () => {
  it("adds the demo workshop against the emulator, and against real OpenRouter only when asked", async () => {
    const { parseCli } = await import("./start.js");
    expect(parseCli([])?.demo).toBe(true);
    expect(parseCli(["--no-demo"])?.demo).toBe(false);
    expect(parseCli(["--openrouter", "real"])?.demo).toBe(false);
    expect(parseCli(["--openrouter", "real", "--demo"])?.demo).toBe(true);
    expect(parseCli(["--openrouter", "real", "--demo", "--no-demo"])?.demo).toBe(false);
  });

  it("takes the room network's address and the URL the room opens", async () => {
    const { parseCli } = await import("./start.js");
    expect(parseCli(["--host", "0.0.0.0", "--public-url", "http://192.168.1.20:8787"])).toMatchObject({ host: "0.0.0.0", publicUrl: "http://192.168.1.20:8787" });
  });

  it("refuses what it cannot use, with the reason", async () => {
    const { parseCli } = await import("./start.js");
    expect(() => parseCli(["--port", "http"])).toThrow(/--port must be a port number/);
    expect(() => parseCli(["--openrouter", "staging"])).toThrow(/--openrouter must be "emulator" or "real"/);
    expect(() => parseCli(["--colour"])).toThrow();
    expect(() => parseCli(["--governance", "workspaces"])).toThrow(/--governance must be one of assignment, workspace \(got workspaces\)/);
  });

  it("governs keys by assignment unless told --governance workspace", async () => {
    const { parseCli } = await import("./start.js");
    expect(parseCli([])?.governance).toBe("assignment");
    expect(parseCli(["--governance", "workspace"])?.governance).toBe("workspace");
  });
});
