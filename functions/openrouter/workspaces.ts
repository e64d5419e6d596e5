import * as z from "zod/mini";
import type { WorkspaceSpec } from "../../workshops/workspace.js";
import { GovernanceUnavailableError, ManagementKeyRejectedError, NotFoundError, OpenRouterError } from "./errors.js";
import { guardrailDrift } from "./guardrails.js";
import { deleted, type Call } from "./request.js";
import type { Guardrail, OpenRouterClient, Workspace } from "./types.js";

// Only the fields read here; upstream sends more.
const WorkspaceSchema = z.object({
  id: z.string(),
  name: z.string(),
  slug: z.string(),
  description: z.optional(z.nullable(z.string())),
  default_guardrail_id: z.string(),
});
const WorkspaceAnswer = z.object({ data: WorkspaceSchema });
const AnyAnswer = z.unknown();

type WorkspaceOperations = Pick<OpenRouterClient, "createWorkspace" | "getWorkspace" | "deleteWorkspace" | "ensureWorkspace">;

/**
 * `/workspaces`: one per workshop under governance "workspace". A key created in a workspace is
 * governed by the workspace's default guardrail with no assignment call, so a claim is one upstream
 * call. Only an organization's admins may create (and delete) workspaces: a personal account's 403
 * becomes `GovernanceUnavailableError`, which names the setting to change.
 */
export function workspaceOperations(call: Call, guardrails: Pick<OpenRouterClient, "getGuardrail" | "updateGuardrail">): WorkspaceOperations {
  const ops: WorkspaceOperations = {
    async createWorkspace(spec) {
      try {
        const res = await call(
          "workspaces.create",
          "POST /workspaces",
          { method: "POST", path: "/workspaces", body: { name: spec.name, slug: spec.slug, description: spec.description } },
          WorkspaceAnswer,
        );
        return toWorkspace(res.data);
      } catch (err) {
        if (err instanceof ManagementKeyRejectedError && err.status === 403) {
          throw new GovernanceUnavailableError(
            `OpenRouter refused to create workspace ${spec.slug} (403: ${err.upstreamMessage ?? "forbidden"}): governance "workspace" needs an ` +
              "OpenRouter organization account and a management key of one of its admins. Either use such a key, or set governance to " +
              '"assignment" (deploy: `pulumi config set governance assignment`; locally: `npm start -- --governance assignment`)',
            { endpoint: "POST /workspaces", status: 403, upstreamMessage: err.upstreamMessage, cause: err },
          );
        }
        throw err;
      }
    },

    async getWorkspace(idOrSlug) {
      const res = await call("workspaces.get", "GET /workspaces/{id}", { method: "GET", path: `/workspaces/${encodeURIComponent(idOrSlug)}` }, WorkspaceAnswer);
      return toWorkspace(res.data);
    },

    async deleteWorkspace(idOrSlug) {
      return deleted(call("workspaces.delete", "DELETE /workspaces/{id}", { method: "DELETE", path: `/workspaces/${encodeURIComponent(idOrSlug)}` }, AnyAnswer));
    },

    // Found by its deterministic slug or created; then its default guardrail is brought to the
    // workshop's spec and checked in upstream's answer, so no key of the workspace is handed out
    // before the allow-list applies to it. Idempotent; concurrent callers converge (409 → read it).
    async ensureWorkspace(spec: WorkspaceSpec) {
      let ws: Workspace;
      try {
        ws = await ops.getWorkspace(spec.slug);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        try {
          ws = await ops.createWorkspace(spec);
        } catch (createErr) {
          if (!(createErr instanceof OpenRouterError && createErr.status === 409)) throw createErr;
          ws = await ops.getWorkspace(spec.slug);
        }
      }
      let current: Guardrail | undefined;
      try {
        current = await guardrails.getGuardrail(ws.default_guardrail_id);
      } catch (err) {
        // A new workspace's default guardrail answers 404 until its first PATCH configures it.
        if (!(err instanceof NotFoundError)) throw err;
      }
      const { name, ...settings } = spec.guardrail;
      const patch = current ? guardrailDrift(current, spec.guardrail) : { name, ...settings };
      const governed = Object.keys(patch).length === 0 ? current! : await guardrails.updateGuardrail(ws.default_guardrail_id, patch);
      if (!sameModels(governed.allowed_models ?? [], spec.guardrail.allowed_models)) {
        throw new OpenRouterError(`workspace ${spec.slug}: its default guardrail does not carry the workshop's allow-list after configuring it`, {
          endpoint: "PATCH /guardrails/{id}",
        });
      }
      return { workspaceId: ws.id, guardrailId: ws.default_guardrail_id };
    },
  };
  return ops;
}

/** Allow-lists as sets of ids, case and surrounding space aside (upstream answers canonical ids). */
function sameModels(a: readonly string[], b: readonly string[]): boolean {
  const canonical = (list: readonly string[]) => [...new Set(list.map((m) => m.trim().toLowerCase()))].sort();
  const x = canonical(a);
  const y = canonical(b);
  return x.length > 0 && x.length === y.length && x.every((m, i) => m === y[i]);
}

function toWorkspace(w: z.output<typeof WorkspaceSchema>): Workspace {
  return { id: w.id, name: w.name, slug: w.slug, description: w.description ?? null, default_guardrail_id: w.default_guardrail_id };
}
