import * as z from "zod/mini";
import type { GuardrailSpec } from "../../workshops/derive.js";
import { definedFields, deleted, type Call } from "./request.js";
import type { Guardrail, OpenRouterClient } from "./types.js";

const GUARDRAILS_PAGE_SIZE = 100;

// Only the fields read here; upstream sends more.
const GuardrailSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.optional(z.nullable(z.string())),
  allowed_models: z.optional(z.nullable(z.array(z.string()))),
  limit_usd: z.optional(z.nullable(z.number())),
  reset_interval: z.optional(z.nullable(z.string())),
});
const GuardrailAnswer = z.object({ data: GuardrailSchema });
const GuardrailsPage = z.object({ data: z.array(GuardrailSchema), total_count: z.number() });
const AssignmentsPage = z.object({ data: z.array(z.object({ key_hash: z.string() })), total_count: z.number() });
const AssignAnswer = z.object({ assigned_count: z.number() });
const AnyAnswer = z.unknown();

type GuardrailOperations = Pick<
  OpenRouterClient,
  "findGuardrailByName" | "getGuardrail" | "createGuardrail" | "updateGuardrail" | "ensureGuardrail" | "deleteGuardrail" | "assignKeys" | "listGuardrailKeyHashes"
>;

/** `/guardrails` and their key assignments: the workshop's model allowlist. */
export function guardrailOperations(call: Call, workspace: { workspace_id?: string }): GuardrailOperations {
  async function listGuardrailsPage(offset: number) {
    return call("guardrails.list", "GET /guardrails", { method: "GET", path: "/guardrails", query: { offset, limit: GUARDRAILS_PAGE_SIZE, ...workspace } }, GuardrailsPage);
  }

  const guardrails: GuardrailOperations = {
    async findGuardrailByName(name) {
      for (let offset = 0; ; ) {
        const page = await listGuardrailsPage(offset);
        const found = page.data.find((g) => g.name === name);
        if (found) return toGuardrail(found);
        offset += page.data.length;
        if (page.data.length < GUARDRAILS_PAGE_SIZE || offset >= page.total_count) return undefined;
      }
    },

    async getGuardrail(id) {
      const res = await call("guardrails.get", "GET /guardrails/{id}", { method: "GET", path: `/guardrails/${encodeURIComponent(id)}` }, GuardrailAnswer);
      return toGuardrail(res.data);
    },

    async createGuardrail(spec) {
      const res = await call(
        "guardrails.create",
        "POST /guardrails",
        {
          method: "POST",
          path: "/guardrails",
          body: {
            name: spec.name,
            description: spec.description,
            allowed_models: spec.allowed_models,
            limit_usd: spec.limit_usd,
            reset_interval: spec.reset_interval,
            ...workspace,
          },
        },
        GuardrailAnswer,
      );
      return toGuardrail(res.data);
    },

    async updateGuardrail(id, spec) {
      const res = await call(
        "guardrails.update",
        "PATCH /guardrails/{id}",
        { method: "PATCH", path: `/guardrails/${encodeURIComponent(id)}`, body: definedFields(spec) },
        GuardrailAnswer,
      );
      return toGuardrail(res.data);
    },

    async ensureGuardrail(spec) {
      const existing = await guardrails.findGuardrailByName(spec.name);
      if (!existing) return guardrails.createGuardrail(spec);
      const drift = guardrailDrift(existing, spec);
      if (Object.keys(drift).length === 0) return existing;
      return guardrails.updateGuardrail(existing.id, drift);
    },

    async deleteGuardrail(id) {
      return deleted(call("guardrails.delete", "DELETE /guardrails/{id}", { method: "DELETE", path: `/guardrails/${encodeURIComponent(id)}` }, AnyAnswer));
    },

    async assignKeys(guardrailId, hashes) {
      if (hashes.length === 0) return { assigned_count: 0 };
      const res = await call(
        "guardrails.assign",
        "POST /guardrails/{id}/assignments/keys",
        { method: "POST", path: `/guardrails/${encodeURIComponent(guardrailId)}/assignments/keys`, body: { key_hashes: hashes } },
        AssignAnswer,
      );
      return { assigned_count: res.assigned_count };
    },

    async listGuardrailKeyHashes(guardrailId) {
      const hashes: string[] = [];
      for (let offset = 0; ; ) {
        const page = await call(
          "guardrails.assignments",
          "GET /guardrails/{id}/assignments/keys",
          { method: "GET", path: `/guardrails/${encodeURIComponent(guardrailId)}/assignments/keys`, query: { offset, limit: GUARDRAILS_PAGE_SIZE } },
          AssignmentsPage,
        );
        hashes.push(...page.data.map((a) => a.key_hash));
        offset += page.data.length;
        if (page.data.length < GUARDRAILS_PAGE_SIZE || offset >= page.total_count) return hashes;
      }
    },
  };
  return guardrails;
}

/** The fields of `spec` that differ from the guardrail upstream (empty when in step). */
export function guardrailDrift(existing: Guardrail, spec: GuardrailSpec): Partial<GuardrailSpec> {
  const drift: Partial<GuardrailSpec> = {};
  const have = [...(existing.allowed_models ?? [])].sort();
  const want = [...spec.allowed_models].sort();
  if (have.length !== want.length || have.some((m, i) => m !== want[i])) drift.allowed_models = spec.allowed_models;
  if (existing.limit_usd !== spec.limit_usd) drift.limit_usd = spec.limit_usd;
  if (existing.reset_interval !== spec.reset_interval) drift.reset_interval = spec.reset_interval;
  if ((existing.description ?? "") !== spec.description) drift.description = spec.description;
  // The limit only takes effect with its interval (upstream 400s a lone limit_usd), so they travel together.
  if (drift.limit_usd !== undefined || drift.reset_interval !== undefined) {
    drift.limit_usd = spec.limit_usd;
    drift.reset_interval = spec.reset_interval;
  }
  return drift;
}

function toGuardrail(g: z.output<typeof GuardrailSchema>): Guardrail {
  return {
    id: g.id,
    name: g.name,
    description: g.description ?? null,
    allowed_models: g.allowed_models ?? null,
    limit_usd: g.limit_usd ?? null,
    reset_interval: g.reset_interval ?? null,
  };
}
