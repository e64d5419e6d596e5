import { randomUUID } from "node:crypto";
import type { Context, Hono } from "hono";
import { errorResponse, json, type EmulatorContext } from "./context.js";
import type { Operation } from "./faults.js";
import { BadRequest, isoNow, optionalString, pageParams, readBody } from "./management.js";
import type { GuardrailRecord, WorkspaceRecord } from "./state.js";

/**
 * Workspaces, as OpenRouter's Management API has them (POST/GET /workspaces, GET /workspaces/{id}):
 * - only an organization's admins create workspaces: on a personal account (the emulator's default,
 *   `accountKind: "organization"` to change it) POST /workspaces is refused with 403;
 * - a new workspace names its default guardrail (`default_guardrail_id`), which governs every key
 *   in the workspace with no assignment, but enforces nothing until configured: GET on it answers
 *   404 until a PATCH /guardrails/{id} materializes it;
 * - `name` and `slug` are required, the slug unique;
 * - POST /keys into a workspace that does not exist is a 404;
 * - DELETE /workspaces/{id} (id or slug; organization admins only) refuses a workspace that still
 *   holds keys (400: "remove the keys first") and deletes its guardrails with it. Deleting the
 *   default workspace (upstream: only with confirm_default_workspace_deletion=true, and it disables
 *   the account's unscoped keys) is not emulated: 400.
 */

// Upstream: "lowercase alphanumeric segments separated by single hyphens, no leading/trailing hyphens".
const SLUG = /^(?=.{1,64}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;

type Managed = (op: Operation, handler: (c: Context) => Promise<Response> | Response) => (c: Context) => Promise<Response>;

export function workspaceResponse(w: WorkspaceRecord) {
  return {
    id: w.id,
    name: w.name,
    slug: w.slug,
    description: w.description,
    default_guardrail_id: w.default_guardrail_id,
    default_text_model: null,
    default_image_model: null,
    default_provider_sort: null,
    io_logging_api_key_ids: null,
    io_logging_sampling_rate: 1,
    is_data_discount_logging_enabled: true,
    is_observability_broadcast_enabled: false,
    is_observability_io_logging_enabled: false,
    created_at: w.created_at,
    created_by: w.created_by,
    updated_at: w.updated_at,
  };
}

export const workspaceNotFound = () => errorResponse(404, "Workspace not found");

export function workspaceExists(ctx: EmulatorContext, id: string): boolean {
  return id === ctx.store.data.default_workspace_id || (ctx.store.data.workspaces ?? []).some((w) => w.id === id);
}

/** The guardrail record for a workspace's default guardrail id, created on its first PATCH (undefined: not such an id). */
export function materializeDefaultGuardrail(ctx: EmulatorContext, id: string): GuardrailRecord | undefined {
  const workspace = (ctx.store.data.workspaces ?? []).find((w) => w.default_guardrail_id === id);
  if (!workspace) return undefined;
  const record: GuardrailRecord = {
    id,
    name: `${workspace.name} default guardrail`,
    description: null,
    allowed_models: null,
    allowed_providers: null,
    ignored_models: null,
    ignored_providers: null,
    enforce_zdr: null,
    limit_usd: null,
    reset_interval: null,
    include_byok_in_budgets: false,
    created_at: isoNow(ctx),
    updated_at: null,
    workspace_id: workspace.id,
  };
  ctx.store.data.guardrails.push(record);
  return record;
}

export function registerWorkspaceRoutes(app: Hono, ctx: EmulatorContext, managed: Managed): void {
  const workspaces = () => (ctx.store.data.workspaces ??= []);

  app.get(
    "/api/v1/workspaces",
    managed("workspaces.list", (c) => {
      const { offset, limit } = pageParams(c, 50);
      const all = workspaces();
      return json({ data: all.slice(offset, offset + limit).map(workspaceResponse), total_count: all.length });
    }),
  );

  app.post(
    "/api/v1/workspaces",
    managed("workspaces.create", async (c) => {
      if ((ctx.store.data.account_kind ?? "personal") !== "organization") {
        return errorResponse(403, "Only organization admins can create workspaces");
      }
      const body = await readBody(c);
      const name = optionalString(body, "name", { minLength: 1 });
      if (name === undefined || name === null) throw new BadRequest("name is required");
      const slug = optionalString(body, "slug", { minLength: 1 });
      if (slug === undefined || slug === null) throw new BadRequest("slug is required");
      if (!SLUG.test(slug)) throw new BadRequest("slug must be lowercase alphanumeric segments separated by single hyphens (at most 64 characters)");
      if (workspaces().some((w) => w.slug === slug)) return errorResponse(409, `A workspace with slug ${slug} already exists`);
      const description = optionalString(body, "description", { nullable: true }) ?? null;
      const record: WorkspaceRecord = {
        id: randomUUID(),
        name,
        slug,
        description,
        default_guardrail_id: randomUUID(),
        created_at: isoNow(ctx),
        created_by: ctx.store.data.user_id,
        updated_at: null,
      };
      workspaces().push(record);
      ctx.store.commit({ workspaces: [record.id] });
      return json({ data: workspaceResponse(record) }, 201);
    }),
  );

  app.get(
    "/api/v1/workspaces/:id",
    managed("workspaces.get", (c) => {
      const id = c.req.param("id") ?? "";
      // Upstream takes the id or the slug.
      const w = workspaces().find((x) => x.id === id || x.slug === id);
      return w ? json({ data: workspaceResponse(w) }) : workspaceNotFound();
    }),
  );

  app.delete(
    "/api/v1/workspaces/:id",
    managed("workspaces.delete", (c) => {
      if ((ctx.store.data.account_kind ?? "personal") !== "organization") {
        return errorResponse(403, "Only organization admins can delete workspaces");
      }
      const id = c.req.param("id") ?? "";
      if (id === ctx.store.data.default_workspace_id) {
        return errorResponse(400, "Deleting the default workspace requires confirm_default_workspace_deletion=true (not emulated)");
      }
      const index = workspaces().findIndex((x) => x.id === id || x.slug === id);
      if (index < 0) return workspaceNotFound();
      const w = workspaces()[index]!;
      if (ctx.store.data.keys.some((k) => k.workspace_id === w.id)) {
        return errorResponse(400, "Workspaces with active API keys cannot be deleted; remove the keys first");
      }
      workspaces().splice(index, 1);
      const guardrailIds = ctx.store.data.guardrails.filter((g) => g.workspace_id === w.id).map((g) => g.id);
      ctx.store.data.guardrails = ctx.store.data.guardrails.filter((g) => g.workspace_id !== w.id);
      const released = ctx.store.data.assignments.filter((a) => guardrailIds.includes(a.guardrail_id)).map((a) => a.key_hash);
      ctx.store.data.assignments = ctx.store.data.assignments.filter((a) => !guardrailIds.includes(a.guardrail_id));
      ctx.store.commit({ workspaces: [w.id], guardrails: guardrailIds, assignments: released });
      return json({ deleted: true });
    }),
  );
}
