/**
 * `npm run workshops:check`: validates every workshop file, prints one line per workshop and every
 * warning, and exits non-zero on any error. The PR check runs it before anything is previewed.
 * `--base <git revision>` (the PR check: the pull request's base) also judges each file against its
 * version there: a change that would move a started workshop's claims to other partitions is an
 * error (`shardChangeRefusal`). Without `--base` it compares with `origin/main` or `main` when the
 * repository has one.
 * `--governance workspace` says how the stack's keys get their allow-list (the stack's `governance`
 * setting; default assignment): a guardrail per workshop, or a workspace per workshop.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { checkModels, type ListedModel } from "./model-check.js";
import { DEFAULT_GOVERNANCE, effectiveCapacity, GOVERNANCE_MODES, governanceLine, isGovernanceMode, keyExpiresAt, shardChangeRefusal, workshopWarnings, worstCaseSpendUsd, type GovernanceMode } from "./derive.js";
import { formatProblem, parseWorkshop, readWorkshops, WORKSHOPS_DIR, type WorkshopProblem } from "./load.js";
import type { Workshop } from "./schema.js";
import { countOf } from "./wording.js";
import { whoMayClaim } from "./who-may-claim.js";

export function summaryLine(w: Workshop): string {
  const models = w.openrouter.models.map((m) => m.id).join(", ");
  return (
    `${w.slug}: claims ${w.claims_open_at} → ${w.claims_close_at}, keys expire ${keyExpiresAt(w)}; ` +
    `${countOf(effectiveCapacity(w), "key")} × $${w.openrouter.budget_usd} (worst case $${worstCaseSpendUsd(w)} of cap $${w.openrouter.guardrail.cap_usd}); ` +
    `${roomCodeSummary(w)}; who may claim: ${whoMayClaim(w)}; models: ${models}${w.is_active ? "" : " [inactive]"}`
  );
}

function roomCodeSummary(w: Workshop): string {
  const c = w.claim_code;
  if (!c) return "no room code (anyone signed in can claim)";
  return `room code from the projector, new every ${c.rotate_minutes} min (the previous one accepted ${c.grace_minutes} min longer)`;
}

/** The files' versions at a git revision, for judging a change against what is deployed. */
export interface BaseRevision {
  /** A git revision (`HEAD^1`, `origin/main`, a commit). */
  ref: string;
  /** The workshop clock: whether claims have opened. */
  nowMs: number;
}

/** A revision to compare with when none is given: the repository's main branch, if it has one. */
export function defaultBase(dir: string): string | undefined {
  return ["origin/main", "main"].find((ref) => revisionExists(dir, ref));
}

function revisionExists(dir: string, ref: string): boolean {
  try {
    execFileSync("git", ["-C", dir, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Each workshop file judged against its version at `base.ref`: a change of a workshop whose claims
 * opened (or open within the hour) that would change its claim partitions is refused, naming the
 * file, the field and the fix. A file new since then, or invalid there, has nothing to compare.
 */
export function shardChangeProblems(dir: string, base: BaseRevision): WorkshopProblem[] {
  if (!revisionExists(dir, base.ref)) {
    return [{ file: dir, path: "", message: `--base ${base.ref} is not a revision of this repository (fetch it, or pass another)` }];
  }
  const { workshops } = readWorkshops(dir);
  const files = new Map(readdirSync(dir).filter((f) => f.endsWith(".yaml")).map((f) => [f.slice(0, -".yaml".length), f]));
  const problems: WorkshopProblem[] = [];
  for (const after of workshops) {
    const file = files.get(after.slug)!;
    let text: string;
    try {
      text = execFileSync("git", ["-C", dir, "show", `${base.ref}:./${file}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch {
      continue;
    }
    const before = parseWorkshop(file, text).workshop;
    const refusal = before && shardChangeRefusal(before, after, base.nowMs);
    if (refusal) problems.push({ file: displayPath(dir, file), path: refusal.path, message: `${refusal.message} (compared with ${base.ref})` });
  }
  return problems;
}

/** As readWorkshops names files in its problems. */
const displayPath = (dir: string, file: string) => relative(process.cwd(), join(dir, file)) || file;

export interface CheckOptions {
  /** Judge each file against its version at this revision too (the PR check: the pull request's base). */
  base?: BaseRevision;
  /** How the stack's keys get their allow-list (its `governance` setting), shown beside the workshops. */
  governance?: GovernanceMode;
}

export function checkWorkshops(dir: string, { base, governance = DEFAULT_GOVERNANCE }: CheckOptions = {}): { ok: boolean; lines: string[] } {
  const { workshops, problems: invalid } = readWorkshops(dir);
  const changes = base ? shardChangeProblems(dir, base) : [];
  const problems = [...invalid, ...changes];
  const lines: string[] = [];
  // A valid file whose change is refused is not "ok".
  const refused = new Set(changes.map((p) => p.file));
  for (const w of workshops) if (!refused.has(relative(process.cwd(), join(dir, `${w.slug}.yaml`)))) lines.push(`ok      ${summaryLine(w)}`);
  lines.push(`keys    ${governanceLine(governance)}`);
  for (const w of workshops) for (const warn of workshopWarnings(w)) lines.push(`warning ${warn.slug}: ${warn.message}`);
  for (const p of problems) lines.push(`error   ${formatProblem(p)}`);
  const withProblems = new Set(problems.map((p) => p.file)).size;
  const files = workshops.length + new Set(invalid.map((p) => p.file)).size;
  lines.push(
    problems.length === 0
      ? `${countOf(workshops.length, "workshop file")} valid`
      : `${countOf(problems.length, "error")} in ${withProblems} of ${countOf(files, "file")}`,
  );
  return { ok: problems.length === 0, lines };
}

/** OpenRouter's public model list: no key needed (the PR workflow has network). */
export const OPENROUTER_MODELS_URL = "https://openrouter.ai/api/v1/models";

export interface ModelListSource {
  models: ListedModel[];
  /** Where the list came from, said in the output. */
  from: string;
}

/**
 * The model list to check against: a recorded file, OpenRouter's live list, or (offline, or when
 * OpenRouter does not answer) the emulator's catalogue, which says so.
 */
export async function modelList(opts: { file?: string; offline?: boolean; url?: string; timeoutMs?: number }): Promise<ModelListSource> {
  if (opts.file) return { models: (JSON.parse(readFileSync(opts.file, "utf8")) as { data: ListedModel[] }).data, from: `the recorded list ${opts.file}` };
  const offline = async (why: string) => {
    const { OPENROUTER_MODELS, modelResponse } = await import("../local/emulator/catalogue.js");
    return { models: OPENROUTER_MODELS.map((m) => modelResponse(m, 0)), from: `the emulator's catalogue (${why}; OpenRouter's live list was not checked)` };
  };
  if (opts.offline) return offline("offline");
  const url = opts.url ?? OPENROUTER_MODELS_URL;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
    if (!res.ok) return offline(`${url} answered ${res.status}`);
    return { models: ((await res.json()) as { data: ListedModel[] }).data, from: `OpenRouter's model list (${url})` };
  } catch (err) {
    return offline(`${url} did not answer: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `checkWorkshops` plus the model findings: unknown and retiring models are errors, stale prices warnings. */
export function checkWorkshopsWithModels(dir: string, source: ModelListSource, options: CheckOptions = {}): { ok: boolean; lines: string[] } {
  const base = checkWorkshops(dir, options);
  const findings = checkModels(readWorkshops(dir).workshops, source.models);
  const lines = [`models  checked against ${source.from}`];
  for (const f of findings) lines.push(`${f.severity === "error" ? "error  " : "warning"} ${f.slug}: ${f.message}`);
  const errors = findings.filter((f) => f.severity === "error").length;
  return { ok: base.ok && errors === 0, lines: [...base.lines.slice(0, -1), ...lines, base.lines.at(-1)!, ...(errors ? [`${countOf(errors, "model error")}`] : [])] };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      dir: { type: "string", default: WORKSHOPS_DIR },
      // The PR workflow passes --models; locally add --offline to use the emulator's catalogue.
      models: { type: "boolean", default: false },
      offline: { type: "boolean", default: false },
      "models-file": { type: "string" },
      // The PR check passes the pull request's base; locally origin/main or main is used.
      base: { type: "string" },
      governance: { type: "string", default: DEFAULT_GOVERNANCE },
    },
  });
  if (!isGovernanceMode(values.governance)) {
    console.error(`--governance must be one of ${GOVERNANCE_MODES.join(", ")} (got ${values.governance})`);
    process.exit(2);
  }
  const governance = values.governance;
  const withModels = values.models || values["models-file"] !== undefined;
  const ref = values.base ?? defaultBase(values.dir!);
  const revision = ref === undefined ? undefined : { ref, nowMs: Date.now() };
  if (!revision) console.log("note    no --base revision and no main branch: changes to started workshops were not compared");
  const { ok, lines } = withModels
    ? checkWorkshopsWithModels(values.dir!, await modelList({ file: values["models-file"], offline: values.offline }), { base: revision, governance })
    : checkWorkshops(values.dir!, { base: revision, governance });
  for (const l of lines) (l.startsWith("error") ? console.error : console.log)(l);
  process.exitCode = ok ? 0 : 1;
}
