import { guardrailSpec } from "../../workshops/derive.js";
import type { JobRun } from "./job-run.js";

/** The open job: makes sure the workshop's guardrail exists upstream (and its id is recorded) and its ledger exists. */
export async function openWorkshop(run: JobRun): Promise<void> {
  const { store, housekeeping, openrouter, now } = run.deps;
  const slug = run.w.slug;
  try {
    const g = await openrouter.ensureGuardrail(guardrailSpec(run.w, run.record.key_namespace));
    run.summary.guardrail_id = g.id;
    run.summary.guardrail_recorded = false;
    if (run.record.guardrail_id !== g.id) {
      await store.setGuardrailId(slug, g.id, now());
      run.summary.guardrail_recorded = true;
    }
  } catch (err) {
    run.fail("guardrail", err);
  }
  try {
    run.summary.ledger_created = await housekeeping.ensureLedger(slug);
  } catch (err) {
    run.fail("ledger", err);
  }
}
