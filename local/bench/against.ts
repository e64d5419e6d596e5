import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { round } from "./claims.js";
import { runNode } from "./node-child.js";
import { median } from "./rig.js";
import type { GovernanceMode } from "../../workshops/derive.js";

/** The probe's environment variable for the working tree's governance (claims-probe.ts). */
export const PROBE_GOVERNANCE_ENV = "BENCH_GOVERNANCE";

/**
 * `npm run bench -- --against <commit> [--pairs N]`: the claim figures of another commit beside the
 * working tree's, measured in one run by one harness. The commit's files are exported (git archive)
 * into a temporary folder that borrows this tree's node_modules; claims-probe.ts and claims.ts are
 * copied into it, so both sides run the same probe over their own code. The two sides alternate
 * (old-new, new-old, ...) so that a busy moment of a shared machine touches both alike, and each
 * figure is reported as the working tree's value over the commit's, per pair: the median ratio and
 * its spread (min-max over the pairs).
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PROBE_FILES = ["local/bench/claims-probe.ts", "local/bench/claims.ts"];

type Figures = Record<string, number>;

/** The commit's tree in a temporary folder, with the working tree's probe and node_modules. */
function exportCommit(commit: string): string {
  const dir = mkdtempSync(join(tmpdir(), "wkm-bench-against-"));
  execFileSync("sh", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", ROOT, commit, dir], { stdio: ["ignore", "ignore", "pipe"] });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  for (const file of PROBE_FILES) copyFileSync(join(ROOT, file), join(dir, file));
  return dir;
}

/** `governance`: given to the working tree's probe only (an older commit's rigs may not know the option; they run their own default). */
async function probe(tree: string, governance?: GovernanceMode): Promise<Figures> {
  const { code, out, err } = await runNode(["--import", "tsx", join(tree, "local/bench/claims-probe.ts")], {
    cwd: tree,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...(governance ? { [PROBE_GOVERNANCE_ENV]: governance } : {}) },
  });
  const line = out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (code !== 0 || !line) throw new Error(`the probe in ${tree} failed (exit ${code}): ${err.slice(-800)}`);
  return JSON.parse(line) as Figures;
}

export interface AgainstOptions {
  commit: string;
  pairs: number;
  /** The working tree's claim governance; the commit runs with what it knows (its own default). */
  governance?: GovernanceMode;
  print: (line: string) => void;
}

export interface AgainstReport {
  commit: string;
  pairs: { against: Figures; working_tree: Figures }[];
  /** Per figure: medians of each side and the ratio working tree / commit (median, min, max over the pairs). */
  figures: Record<string, { against: number; working_tree: number; ratio: { median: number; min: number; max: number } | null }>;
}

export async function benchAgainst({ commit, pairs, governance, print }: AgainstOptions): Promise<AgainstReport> {
  const sha = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", `${commit}^{commit}`], { encoding: "utf8" }).trim();
  const other = exportCommit(sha);
  const report: AgainstReport = { commit: sha, pairs: [], figures: {} };
  try {
    print(`Claims of ${sha} beside the working tree, ${pairs} interleaved pairs (same probe on both sides: local/bench/claims-probe.ts)`);
    if (governance) print(`  the working tree claims under governance ${governance}; ${sha} under its own default`);
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 === 0 ? (["against", "working_tree"] as const) : (["working_tree", "against"] as const);
      const pair = {} as { against: Figures; working_tree: Figures };
      for (const side of order) pair[side] = side === "against" ? await probe(other) : await probe(ROOT, governance);
      report.pairs.push(pair);
      print(`  pair ${i + 1} (${order.join(" then ")}): burst ${pair.against.split_burst_wall_ms} -> ${pair.working_tree.split_burst_wall_ms} ms, sequential ${pair.against.split_sequential_100ms_median_ms} -> ${pair.working_tree.split_sequential_100ms_median_ms} ms`);
    }
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
  const ids = [...new Set(report.pairs.flatMap((p) => [...Object.keys(p.against), ...Object.keys(p.working_tree)]))];
  print(`\n  ${"figure".padEnd(44)} ${sha.padStart(10)} ${"working".padStart(10)}   ratio median (min-max over ${pairs} pairs)`);
  for (const id of ids) {
    const olds = report.pairs.map((p) => p.against[id]).filter((x): x is number => x !== undefined);
    const news = report.pairs.map((p) => p.working_tree[id]).filter((x): x is number => x !== undefined);
    const ratios = report.pairs.filter((p) => p.against[id] && p.working_tree[id] !== undefined).map((p) => p.working_tree[id]! / p.against[id]!);
    const ratio = ratios.length ? { median: round(median(ratios), 2), min: round(Math.min(...ratios), 2), max: round(Math.max(...ratios), 2) } : null;
    report.figures[id] = { against: median(olds), working_tree: median(news), ratio };
    print(`  ${id.padEnd(44)} ${String(median(olds)).padStart(10)} ${String(median(news)).padStart(10)}   ${ratio ? `x${ratio.median} (${ratio.min}-${ratio.max})` : "-"}`);
  }
  return report;
}
