import { guardrailSpec } from "../../workshops/derive.js";
import { workspaceSpec } from "../../workshops/workspace.js";
import type { JobRun } from "./job-run.js";

/**
 * The open job: makes sure the workshop's guardrail (under governance "workspace": its workspace,
 * with the default guardrail configured to the allow-list) exists upstream and its ids are
 * recorded, and that its ledger exists.
 */
export async function openWorkshop(run: JobRun): Promise<void> {
  const { store, housekeeping, openrouter, now } = run.deps;
  const slug = run.w.slug;
  try {
    if (run.deps.governance === "workspace") {
      const ws = await openrouter.ensureWorkspace(workspaceSpec(run.w, run.record.key_namespace));
      run.summary.workspace_id = ws.workspaceId;
      run.summary.guardrail_id = ws.guardrailId;
      run.summary.guardrail_recorded = false;
      if (run.record.workspace_id !== ws.workspaceId || run.record.guardrail_id !== ws.guardrailId) {
        await store.setWorkspace(slug, ws, now());
        run.summary.guardrail_recorded = true;
      }
    } else {
      const g = await openrouter.ensureGuardrail(guardrailSpec(run.w, run.record.key_namespace));
      run.summary.guardrail_id = g.id;
      run.summary.guardrail_recorded = false;
      if (run.record.guardrail_id !== g.id) {
        await store.setGuardrailId(slug, g.id, now());
        run.summary.guardrail_recorded = true;
      }
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
