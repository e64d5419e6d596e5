import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkWorkshops } from "./check.js";
import { WORKSHOPS_DIR } from "./load.js";

/**
 * `npm run workshops:check --base <revision>` judges each file against its version at the base (the
 * PR check passes the pull request's base): a change that moves a started workshop's claims to other
 * partitions is refused with the file, the field and the fix. In a real git repository in a temp dir.
 */

const EXAMPLE = readFileSync(join(WORKSHOPS_DIR, "pyconde-2026-darmstadt-sql-agents.yaml"), "utf8");
const NOW = Date.parse("2026-12-06T12:00:00Z");
let dir: string;

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const git = (...args: string[]) => execFileSync("git", ["-C", dir, "-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { stdio: "ignore" });

/** A repository holding `slug.yaml` (the example workshop, claims opened in April 2026) committed as HEAD. */
function repoWith(slug: string, edit: (text: string) => string = (t) => t): void {
  dir = mkdtempSync(join(tmpdir(), "wkm-check-"));
  git("init", "-q");
  writeFileSync(join(dir, `${slug}.yaml`), edit(EXAMPLE.replace(/^slug: .*$/m, `slug: ${slug}`)));
  git("add", ".");
  git("commit", "-q", "-m", "base");
}

const editFile = (slug: string, edit: (text: string) => string) => writeFileSync(join(dir, `${slug}.yaml`), edit(readFileSync(join(dir, `${slug}.yaml`), "utf8")));
const places = (maxKeys: number, capUsd: number) => (t: string) => t.replace(/max_keys: \d+/, `max_keys: ${maxKeys}`).replace(/cap_usd: \d+/, `cap_usd: ${capUsd}`);

describe("a change to a workshop whose claims opened", () => {
  it("is refused when it changes the workshop's claim partitions, naming the file, the field and the fix", () => {
    repoWith("started");
    editFile("started", places(2_500, 6_000));
    const { ok, lines } = checkWorkshops(dir, { base: { ref: "HEAD", nowMs: NOW } });
    expect(ok).toBe(false);
    const error = lines.find((l) => l.startsWith("error"))!;
    expect(error).toContain("started.yaml: openrouter.guardrail.max_keys: ");
    expect(error).toContain("openrouter.guardrail.max_keys: 300 → 2500, with openrouter.guardrail.cap_usd 800 → 6000 changes the workshop's places from 300 to 2500");
    expect(error).toContain("claim partitions from 1 to 3");
    expect(error).toContain("Keep the places (min(max_keys, floor(cap_usd / budget_usd))) at most 1000, or make it a new workshop");
    expect(lines.at(-1)).toBe("1 error in 1 of 1 file");
  });

  it("passes when the partitions stay the same, and for a workshop whose claims open later", () => {
    repoWith("started");
    editFile("started", places(900, 2_000));
    expect(checkWorkshops(dir, { base: { ref: "HEAD", nowMs: NOW } }).ok).toBe(true);

    rmSync(dir, { recursive: true, force: true });
    repoWith("later", (t) => t.replace(/2026-04-1(\d)/g, "2027-04-1$1"));
    editFile("later", places(2_500, 6_000));
    expect(checkWorkshops(dir, { base: { ref: "HEAD", nowMs: NOW } }).ok).toBe(true);
    // Within the hour before claims open, the functions may already hold the old count: refused.
    expect(checkWorkshops(dir, { base: { ref: "HEAD", nowMs: Date.parse("2027-04-13T15:30:00Z") } }).ok).toBe(false);
  });

  it("fails the command (exit 1) with --base, and an unknown base is an error, not a skipped check", () => {
    repoWith("started");
    editFile("started", places(2_500, 6_000));
    const run = (...args: string[]) => spawnSync("npx", ["tsx", join(WORKSHOPS_DIR, "check.ts"), "--dir", dir, ...args], { encoding: "utf8" });
    const refused = run("--base", "HEAD");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("claim partitions from 1 to 3");
    const unknown = run("--base", "no-such-branch");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("--base no-such-branch is not a revision of this repository");
  }, 60_000);
});

/** `npm run workshops:check` says how the stack's keys get their allow-list (`--governance`). */
describe("workshops:check", () => {
  it("shows the governance mode beside the workshops: assignment by default, workspace when told", () => {
    const byDefault = checkWorkshops(WORKSHOPS_DIR);
    expect(byDefault.ok).toBe(true);
    expect(byDefault.lines).toContain("keys    governance: assignment (each key assigned to the workshop's guardrail; 2 OpenRouter calls per claim)");
    expect(checkWorkshops(WORKSHOPS_DIR, { governance: "workspace" }).lines).toContain(
      "keys    governance: workspace (one OpenRouter workspace per workshop; its default guardrail carries the allow-list; 1 OpenRouter call per claim)",
    );
  });
});
