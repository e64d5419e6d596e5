/**
 * Vitest global setup: creates the secret guard's record file before any test runs and, after the
 * last one, fails the whole run if any test process printed something that looks like an
 * OpenRouter key (see `local/log-guard.ts`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), "log-guard-"));
  const file = join(dir, "leaks.txt");
  writeFileSync(file, "");
  process.env.LOG_GUARD_FILE = file;
  return () => {
    const leaks = readFileSync(file, "utf8").trim();
    rmSync(dir, { recursive: true, force: true });
    if (leaks) {
      // A teardown error alone does not change vitest's exit code.
      process.exitCode = 1;
      throw new Error(`An OpenRouter key appeared in what the test run logged (keys redacted here):\n${leaks}`);
    }
  };
}
