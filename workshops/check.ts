/**
 * `npm run workshops:check`: validates every workshop file, prints one line per workshop and every
 * warning, and exits non-zero on any error. The PR check runs it before anything is previewed.
 * `--governance workspace` says how the stack's keys get their allow-list (the stack's `governance`
 * setting; default assignment): a guardrail per workshop, or a workspace per workshop.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkModels, type ListedModel } from "./model-check.js";
import { DEFAULT_GOVERNANCE, effectiveCapacity, GOVERNANCE_MODES, governanceLine, isGovernanceMode, keyExpiresAt, workshopWarnings, worstCaseSpendUsd, type GovernanceMode } from "./derive.js";
import { formatProblem, readWorkshops, WORKSHOPS_DIR } from "./load.js";
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

export function checkWorkshops(dir: string, governance: GovernanceMode = DEFAULT_GOVERNANCE): { ok: boolean; lines: string[] } {
  const { workshops, problems } = readWorkshops(dir);
  const lines: string[] = [];
  for (const w of workshops) lines.push(`ok      ${summaryLine(w)}`);
  lines.push(`keys    ${governanceLine(governance)}`);
  for (const w of workshops) for (const warn of workshopWarnings(w)) lines.push(`warning ${warn.slug}: ${warn.message}`);
  for (const p of problems) lines.push(`error   ${formatProblem(p)}`);
  const files = workshops.length + new Set(problems.map((p) => p.file)).size;
  lines.push(
    problems.length === 0
      ? `${countOf(workshops.length, "workshop file")} valid`
      : `${countOf(problems.length, "error")} in ${files - workshops.length} of ${countOf(files, "file")}`,
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
export function checkWorkshopsWithModels(dir: string, source: ModelListSource, governance: GovernanceMode = DEFAULT_GOVERNANCE): { ok: boolean; lines: string[] } {
  const base = checkWorkshops(dir, governance);
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
      governance: { type: "string", default: DEFAULT_GOVERNANCE },
    },
  });
  if (!isGovernanceMode(values.governance)) {
    console.error(`--governance must be one of ${GOVERNANCE_MODES.join(", ")} (got ${values.governance})`);
    process.exit(2);
  }
  const governance = values.governance;
  const withModels = values.models || values["models-file"] !== undefined;
  const { ok, lines } = withModels
    ? checkWorkshopsWithModels(values.dir!, await modelList({ file: values["models-file"], offline: values.offline }), governance)
    : checkWorkshops(values.dir!, governance);
  for (const l of lines) (l.startsWith("error") ? console.error : console.log)(l);
  process.exitCode = ok ? 0 : 1;
}
