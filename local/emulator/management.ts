import { randomUUID } from "node:crypto";
import type { Context, Hono } from "hono";
import { errorResponse, identify, json, requireManagement, requireUsableKey, withFaults, type EmulatorContext } from "./context.js";
import { materializeDefaultGuardrail, registerWorkspaceRoutes, workspaceExists, workspaceNotFound } from "./workspaces.js";
import {
  emptyWindows,
  generateKey,
  hashKey,
  keyLabel,
  limitRemaining,
  windowUsage,
  type GuardrailRecord,
  type KeyRecord,
  type ResetInterval,
} from "./state.js";

/**
 * OpenRouter's Management API as this product uses it, with upstream's request and response shapes
 * (the official SDK's zod schemas parse every answer) and its documented quirks:
 * - POST /keys accepts `guardrail_ids` and ignores it (keys are bound by the assignments endpoint);
 * - `expires_at` must be UTC with seconds; minute precision is a 400;
 * - `expires_at` cannot be changed after creation;
 * - a guardrail `limit_usd` needs a `reset_interval`;
 * - a key holds one guardrail: assigning it elsewhere moves it;
 * - GET /keys answers 100 keys per page by `offset`, only the default workspace unless `workspace_id`;
 * - a key created with `workspace_id` is governed by that workspace's default guardrail, with no
 *   assignment (workspaces.ts; organization accounts only).
 */

export const KEYS_PAGE_SIZE = 100;
const RESET_INTERVALS: readonly ResetInterval[] = ["daily", "weekly", "monthly"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ISO 8601 in UTC with seconds (fractions allowed). `2026-04-14T13:15Z` and `2026-04-14T13:15` are refused. */
const UTC_WITH_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$/;

export class BadRequest extends Error {}

export async function readBody(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new BadRequest("Request body must be JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequest("Request body must be a JSON object");
  return body as Record<string, unknown>;
}

/** Runs a handler, turning BadRequest into upstream's 400. */
async function guarded(run: () => Promise<Response> | Response): Promise<Response> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof BadRequest) return errorResponse(400, err.message);
    throw err;
  }
}

export function optionalString(body: Record<string, unknown>, field: string, opts: { nullable?: boolean; minLength?: number } = {}): string | null | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (v === null && opts.nullable) return null;
  if (typeof v !== "string" || v.length < (opts.minLength ?? 0)) throw new BadRequest(`${field} must be a string${opts.minLength ? ` of at least ${opts.minLength} character` : ""}`);
  return v;
}

function optionalNumber(body: Record<string, unknown>, field: string): number | null | undefined {
  const v = body[field];
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new BadRequest(`${field} must be a non-negative number or null`);
  return v;
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new BadRequest(`${field} must be true or false`);
  return v;
}

function optionalInterval(body: Record<string, unknown>, field: string): ResetInterval | null | undefined {
  const v = body[field];
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v !== "string" || !(RESET_INTERVALS as readonly string[]).includes(v)) throw new BadRequest(`${field} must be one of daily, weekly, monthly or null`);
  return v as ResetInterval;
}

/** Upstream's collection fields: null to clear, else at least one string (an empty list is a 400). */
function optionalStringArray(body: Record<string, unknown>, field: string): string[] | null | undefined {
  const v = body[field];
  if (v === undefined || v === null) return v as null | undefined;
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== "string" || x === "")) {
    throw new BadRequest(`${field} must be a non-empty array of strings, or null`);
  }
  return [...new Set(v as string[])];
}

export function pageParams(c: Context, defaultLimit: number): { offset: number; limit: number } {
  const offsetRaw = c.req.query("offset");
  const limitRaw = c.req.query("limit");
  const offset = offsetRaw === undefined || offsetRaw === "" ? 0 : Number(offsetRaw);
  const limit = limitRaw === undefined || limitRaw === "" ? defaultLimit : Number(limitRaw);
  if (!Number.isInteger(offset) || offset < 0) throw new BadRequest("offset must be a non-negative integer");
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new BadRequest("limit must be an integer from 1 to 100");
  return { offset, limit };
}

export function isoNow(ctx: EmulatorContext): string {
  return new Date(ctx.now()).toISOString();
}

/** Seconds precision, as upstream echoes it: `2026-04-14T13:15:00Z`. */
function normalizeExpiry(value: string): string {
  return new Date(Math.floor(Date.parse(value) / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export function keyResponse(ctx: EmulatorContext, k: KeyRecord) {
  const now = ctx.now();
  return {
    hash: k.hash,
    name: k.name,
    label: k.label,
    disabled: k.disabled,
    limit: k.limit,
    limit_remaining: limitRemaining(k, now),
    limit_reset: k.limit_reset,
    include_byok_in_limit: k.include_byok_in_limit,
    usage: k.usage,
    usage_daily: windowUsage(k, "daily", now),
    usage_weekly: windowUsage(k, "weekly", now),
    usage_monthly: windowUsage(k, "monthly", now),
    byok_usage: 0,
    byok_usage_daily: 0,
    byok_usage_weekly: 0,
    byok_usage_monthly: 0,
    created_at: k.created_at,
    updated_at: k.updated_at,
    expires_at: k.expires_at,
    creator_user_id: k.creator_user_id,
    external_user: null,
    workspace_id: k.workspace_id,
  };
}

export function guardrailResponse(g: GuardrailRecord) {
  return { ...g };
}

function assignmentResponse(ctx: EmulatorContext, a: { id: string; key_hash: string; guardrail_id: string; assigned_by: string | null; created_at: string }) {
  const key = ctx.store.data.keys.find((k) => k.hash === a.key_hash);
  return {
    id: a.id,
    key_hash: a.key_hash,
    key_name: key?.name ?? "",
    key_label: key?.label ?? "",
    guardrail_id: a.guardrail_id,
    assigned_by: a.assigned_by,
    created_at: a.created_at,
  };
}

export function registerManagementRoutes(app: Hono, ctx: EmulatorContext): void {
  const data = () => ctx.store.data;
  const findKey = (hash: string) => data().keys.find((k) => k.hash === hash);
  const findGuardrail = (id: string) => data().guardrails.find((g) => g.id === id);
  const keyNotFound = () => errorResponse(404, "API key not found");
  const guardrailNotFound = () => errorResponse(404, "Guardrail not found");

  /** Management route: faults, then the management key, then the handler (400s from BadRequest). */
  const managed = (op: Parameters<typeof withFaults>[1], handler: (c: Context) => Promise<Response> | Response) => (c: Context) =>
    withFaults(ctx, op, c, () => requireManagement(ctx, c) ?? guarded(() => handler(c)));

  registerWorkspaceRoutes(app, ctx, managed);

  // ---- keys ----------------------------------------------------------------------------------

  app.get(
    "/api/v1/keys",
    managed("keys.list", (c) => {
      const { offset } = pageParams(c, KEYS_PAGE_SIZE);
      const includeDisabled = c.req.query("include_disabled") === "true";
      const workspaceId = c.req.query("workspace_id") || data().default_workspace_id;
      const keys = data().keys.filter((k) => k.workspace_id === workspaceId && (includeDisabled || !k.disabled));
      return json({ data: keys.slice(offset, offset + KEYS_PAGE_SIZE).map((k) => keyResponse(ctx, k)) });
    }),
  );

  app.post(
    "/api/v1/keys",
    managed("keys.create", async (c) => {
      const body = await readBody(c);
      const name = optionalString(body, "name", { minLength: 1 });
      if (name === undefined || name === null) throw new BadRequest("name is required");
      const limit = optionalNumber(body, "limit") ?? null;
      const limitReset = optionalInterval(body, "limit_reset") ?? null;
      const includeByok = optionalBoolean(body, "include_byok_in_limit") ?? false;
      const expiresAt = optionalString(body, "expires_at", { nullable: true }) ?? null;
      if (expiresAt !== null) {
        if (!UTC_WITH_SECONDS.test(expiresAt) || Number.isNaN(Date.parse(expiresAt))) {
          throw new BadRequest("expires_at must be an ISO 8601 UTC timestamp with seconds, e.g. 2027-12-31T23:59:59Z");
        }
        if (Date.parse(expiresAt) <= ctx.now()) throw new BadRequest("expires_at must be in the future");
      }
      const workspaceId = optionalString(body, "workspace_id") ?? data().default_workspace_id;
      if (!UUID.test(workspaceId)) throw new BadRequest("workspace_id must be a UUID");
      if (!workspaceExists(ctx, workspaceId)) return workspaceNotFound();
      const creator = optionalString(body, "creator_user_id", { nullable: true, minLength: 1 }) ?? data().user_id;
      // guardrail_ids is accepted and ignored, as upstream: binding happens through /guardrails/{id}/assignments/keys.
      const plaintext = generateKey();
      const record: KeyRecord = {
        hash: hashKey(plaintext),
        name,
        label: keyLabel(plaintext),
        disabled: false,
        limit,
        limit_reset: limitReset,
        include_byok_in_limit: includeByok,
        usage: 0,
        usage_windows: emptyWindows(ctx.now()),
        created_at: isoNow(ctx),
        updated_at: null,
        expires_at: expiresAt === null ? null : normalizeExpiry(expiresAt),
        workspace_id: workspaceId,
        creator_user_id: creator,
      };
      data().keys.push(record);
      ctx.store.commit({ keys: [record.hash] });
      return json({ data: keyResponse(ctx, record), key: plaintext }, 201);
    }),
  );

  app.get(
    "/api/v1/keys/:hash",
    managed("keys.get", (c) => {
      const key = findKey(c.req.param("hash") ?? "");
      return key ? json({ data: keyResponse(ctx, key) }) : keyNotFound();
    }),
  );

  app.patch(
    "/api/v1/keys/:hash",
    managed("keys.update", async (c) => {
      const key = findKey(c.req.param("hash") ?? "");
      if (!key) return keyNotFound();
      const body = await readBody(c);
      if ("expires_at" in body) throw new BadRequest("expires_at cannot be changed after a key is created");
      const name = optionalString(body, "name", { minLength: 1 });
      const disabled = optionalBoolean(body, "disabled");
      const limit = optionalNumber(body, "limit");
      const limitReset = optionalInterval(body, "limit_reset");
      const includeByok = optionalBoolean(body, "include_byok_in_limit");
      if (name !== undefined && name !== null) key.name = name;
      if (disabled !== undefined) key.disabled = disabled;
      if (limit !== undefined) key.limit = limit;
      if (limitReset !== undefined) key.limit_reset = limitReset;
      if (includeByok !== undefined) key.include_byok_in_limit = includeByok;
      key.updated_at = isoNow(ctx);
      ctx.store.commit({ keys: [key.hash] });
      return json({ data: keyResponse(ctx, key) });
    }),
  );

  app.delete(
    "/api/v1/keys/:hash",
    managed("keys.delete", (c) => {
      const hash = c.req.param("hash") ?? "";
      const index = data().keys.findIndex((k) => k.hash === hash);
      if (index < 0) return keyNotFound();
      data().keys.splice(index, 1);
      data().assignments = data().assignments.filter((a) => a.key_hash !== hash);
      ctx.store.commit({ keys: [hash], assignments: [hash] });
      return json({ deleted: true });
    }),
  );

  // ---- the calling key -----------------------------------------------------------------------

  app.get("/api/v1/key", (c) =>
    withFaults(ctx, "key.current", c, () => {
      const caller = identify(ctx, c);
      if (caller instanceof Response) return caller;
      const common = {
        byok_usage: 0,
        byok_usage_daily: 0,
        byok_usage_weekly: 0,
        byok_usage_monthly: 0,
        is_free_tier: false,
        rate_limit: { requests: -1, interval: "10s", note: "This field is deprecated and safe to ignore." },
        free_model_daily_requests: { limit: 1000, remaining: 1000, used: 0 },
        allowed_data_regions: ["global"],
        organization_id: null,
      };
      if (caller.kind === "management") {
        return json({
          data: {
            ...common,
            label: ctx.managementKeyLabel,
            limit: null,
            limit_remaining: null,
            limit_reset: null,
            include_byok_in_limit: false,
            usage: 0,
            usage_daily: 0,
            usage_weekly: 0,
            usage_monthly: 0,
            is_management_key: true,
            is_provisioning_key: true,
            creator_user_id: data().user_id,
            expires_at: null,
            workspace_id: data().default_workspace_id,
          },
        });
      }
      const key = requireUsableKey(ctx, c);
      if (key instanceof Response) return key;
      const k = keyResponse(ctx, key);
      return json({
        data: {
          ...common,
          label: k.label,
          limit: k.limit,
          limit_remaining: k.limit_remaining,
          limit_reset: k.limit_reset,
          include_byok_in_limit: k.include_byok_in_limit,
          usage: k.usage,
          usage_daily: k.usage_daily,
          usage_weekly: k.usage_weekly,
          usage_monthly: k.usage_monthly,
          is_management_key: false,
          is_provisioning_key: false,
          creator_user_id: k.creator_user_id,
          expires_at: k.expires_at,
          workspace_id: k.workspace_id,
        },
      });
    }),
  );

  // ---- guardrails ----------------------------------------------------------------------------

  /** Reads guardrail fields from a create/patch body; only the fields present. */
  function guardrailFields(body: Record<string, unknown>): Partial<GuardrailRecord> {
    const out: Partial<GuardrailRecord> = {};
    const name = optionalString(body, "name", { minLength: 1 });
    if (name !== undefined && name !== null) {
      if (name.length > 200) throw new BadRequest("name must be at most 200 characters");
      out.name = name;
    }
    const description = optionalString(body, "description", { nullable: true });
    if (description !== undefined) {
      if (description !== null && description.length > 1000) throw new BadRequest("description must be at most 1000 characters");
      out.description = description;
    }
    for (const field of ["allowed_models", "allowed_providers", "ignored_models", "ignored_providers"] as const) {
      const v = optionalStringArray(body, field);
      if (v !== undefined) out[field] = v;
    }
    const limitUsd = optionalNumber(body, "limit_usd");
    if (limitUsd !== undefined) out.limit_usd = limitUsd;
    const resetInterval = optionalInterval(body, "reset_interval");
    if (resetInterval !== undefined) out.reset_interval = resetInterval;
    const includeByok = optionalBoolean(body, "include_byok_in_budgets");
    if (includeByok !== undefined) out.include_byok_in_budgets = includeByok;
    const zdr = body.enforce_zdr;
    if (zdr !== undefined) {
      if (zdr !== null && typeof zdr !== "boolean") throw new BadRequest("enforce_zdr must be true, false or null");
      out.enforce_zdr = zdr as boolean | null;
    }
    return out;
  }

  app.get(
    "/api/v1/guardrails",
    managed("guardrails.list", (c) => {
      const { offset, limit } = pageParams(c, 50);
      // As GET /keys: one workspace at a time, the default one unless asked.
      const workspaceId = c.req.query("workspace_id") || data().default_workspace_id;
      const all = data().guardrails.filter((g) => g.workspace_id === workspaceId);
      return json({ data: all.slice(offset, offset + limit).map(guardrailResponse), total_count: all.length });
    }),
  );

  app.post(
    "/api/v1/guardrails",
    managed("guardrails.create", async (c) => {
      const body = await readBody(c);
      const fields = guardrailFields(body);
      if (!fields.name) throw new BadRequest("name is required");
      if (fields.limit_usd != null && fields.reset_interval == null) throw new BadRequest("limit_usd requires reset_interval");
      const workspaceId = optionalString(body, "workspace_id") ?? data().default_workspace_id;
      if (!UUID.test(workspaceId)) throw new BadRequest("workspace_id must be a UUID");
      const record: GuardrailRecord = {
        id: randomUUID(),
        name: fields.name,
        description: fields.description ?? null,
        allowed_models: fields.allowed_models ?? null,
        allowed_providers: fields.allowed_providers ?? null,
        ignored_models: fields.ignored_models ?? null,
        ignored_providers: fields.ignored_providers ?? null,
        enforce_zdr: fields.enforce_zdr ?? null,
        limit_usd: fields.limit_usd ?? null,
        reset_interval: fields.reset_interval ?? null,
        include_byok_in_budgets: fields.include_byok_in_budgets ?? false,
        created_at: isoNow(ctx),
        updated_at: null,
        workspace_id: workspaceId,
      };
      data().guardrails.push(record);
      ctx.store.commit({ guardrails: [record.id] });
      return json({ data: guardrailResponse(record) }, 201);
    }),
  );

  // Registered before /guardrails/:id so "assignments" is never read as an id.
  app.get(
    "/api/v1/guardrails/assignments/keys",
    managed("assignments.list", (c) => {
      const { offset, limit } = pageParams(c, 50);
      const all = data().assignments;
      return json({ data: all.slice(offset, offset + limit).map((a) => assignmentResponse(ctx, a)), total_count: all.length });
    }),
  );

  app.get(
    "/api/v1/guardrails/:id",
    managed("guardrails.get", (c) => {
      const g = findGuardrail(c.req.param("id") ?? "");
      return g ? json({ data: guardrailResponse(g) }) : guardrailNotFound();
    }),
  );

  app.patch(
    "/api/v1/guardrails/:id",
    managed("guardrails.update", async (c) => {
      // A workspace's default guardrail comes into being with its first PATCH.
      const g = findGuardrail(c.req.param("id") ?? "") ?? materializeDefaultGuardrail(ctx, c.req.param("id") ?? "");
      if (!g) return guardrailNotFound();
      const fields = guardrailFields(await readBody(c));
      const next = { ...g, ...fields };
      if (next.limit_usd != null && next.reset_interval == null) throw new BadRequest("limit_usd requires reset_interval");
      Object.assign(g, fields, { updated_at: isoNow(ctx) });
      ctx.store.commit({ guardrails: [g.id] });
      return json({ data: guardrailResponse(g) });
    }),
  );

  app.delete(
    "/api/v1/guardrails/:id",
    managed("guardrails.delete", (c) => {
      const id = c.req.param("id") ?? "";
      const index = data().guardrails.findIndex((g) => g.id === id);
      if (index < 0) return guardrailNotFound();
      data().guardrails.splice(index, 1);
      const released = data().assignments.filter((a) => a.guardrail_id === id).map((a) => a.key_hash);
      data().assignments = data().assignments.filter((a) => a.guardrail_id !== id);
      ctx.store.commit({ guardrails: [id], assignments: released });
      return json({ deleted: true });
    }),
  );

  // ---- guardrail key assignments -------------------------------------------------------------

  app.get(
    "/api/v1/guardrails/:id/assignments/keys",
    managed("guardrails.assignments", (c) => {
      const id = c.req.param("id") ?? "";
      if (!findGuardrail(id)) return guardrailNotFound();
      const { offset, limit } = pageParams(c, 50);
      const all = data().assignments.filter((a) => a.guardrail_id === id);
      return json({ data: all.slice(offset, offset + limit).map((a) => assignmentResponse(ctx, a)), total_count: all.length });
    }),
  );

  function keyHashesOf(body: Record<string, unknown>): string[] {
    const v = body.key_hashes;
    if (!Array.isArray(v) || v.length === 0 || v.some((h) => typeof h !== "string" || h.length === 0)) {
      throw new BadRequest("key_hashes must be a non-empty array of key hashes");
    }
    return [...new Set(v as string[])];
  }

  app.post(
    "/api/v1/guardrails/:id/assignments/keys",
    managed("guardrails.assign", async (c) => {
      const id = c.req.param("id") ?? "";
      if (!findGuardrail(id)) return guardrailNotFound();
      const hashes = keyHashesOf(await readBody(c));
      let assigned = 0;
      const moved: string[] = [];
      for (const hash of hashes) {
        if (!findKey(hash)) continue;
        // Counted even when already bound here, so a retried assignment reads as done.
        assigned++;
        const existing = data().assignments.find((a) => a.key_hash === hash);
        if (existing?.guardrail_id === id) continue;
        // One guardrail per key: binding it here releases it from any other.
        data().assignments = data().assignments.filter((a) => a.key_hash !== hash);
        data().assignments.push({ id: randomUUID(), key_hash: hash, guardrail_id: id, assigned_by: data().user_id, created_at: isoNow(ctx) });
        moved.push(hash);
      }
      ctx.store.commit({ assignments: moved });
      return json({ assigned_count: assigned });
    }),
  );

  app.post(
    "/api/v1/guardrails/:id/assignments/keys/remove",
    managed("guardrails.unassign", async (c) => {
      const id = c.req.param("id") ?? "";
      if (!findGuardrail(id)) return guardrailNotFound();
      const hashes = new Set(keyHashesOf(await readBody(c)));
      const released = data().assignments.filter((a) => a.guardrail_id === id && hashes.has(a.key_hash)).map((a) => a.key_hash);
      data().assignments = data().assignments.filter((a) => !(a.guardrail_id === id && hashes.has(a.key_hash)));
      const removed = released.length;
      ctx.store.commit({ assignments: released });
      return json({ unassigned_count: removed });
    }),
  );

  // ---- credits -------------------------------------------------------------------------------

  app.get(
    "/api/v1/credits",
    managed("credits", () => json({ data: { total_credits: data().total_credits, total_usage: data().total_usage } })),
  );
}
