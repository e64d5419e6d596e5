/**
 * `npm run workshops:check`: validates every workshop file, prints one line per workshop and every
 * warning, and exits non-zero on any error. The PR check runs it before anything is previewed.
 */
import { parseArgs } from "node:util";
import { effectiveCapacity, keyExpiresAt, workshopWarnings, worstCaseSpendUsd } from "./derive.js";
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

export function checkWorkshops(dir: string): { ok: boolean; lines: string[] } {
  const { workshops, problems } = readWorkshops(dir);
  const lines: string[] = [];
  for (const w of workshops) lines.push(`ok      ${summaryLine(w)}`);
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { dir: { type: "string", default: WORKSHOPS_DIR } } });
  const { ok, lines } = checkWorkshops(values.dir!);
  for (const l of lines) (l.startsWith("error") ? console.error : console.log)(l);
  process.exitCode = ok ? 0 : 1;
}
