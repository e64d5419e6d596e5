import * as pulumi from "@pulumi/pulumi";
import { callManagementApi, sameModels, upstreamDetail, type UpstreamResponse } from "./management-call.js";

/**
 * The OpenRouter workspace of one workshop (governance "workspace"), as a Pulumi dynamic resource:
 * a key created in it is governed by the workspace's default guardrail, which carries the
 * workshop's allow-list, with no assignment call. Its outputs (the workspace id and the default
 * guardrail's id, no secret) go into the workshop's CONFIG item (workshop.ts).
 *
 * As the guardrail provider (guardrail.ts, whose reasons apply here too): it references only
 * globals, the helpers in this file and management-call.ts's (the Management API call and the
 * allow-list comparison it shares with guardrail.ts), reads the management key from OPENROUTER_MANAGEMENT_KEY at
 * run time (never captured, never in the stack config), and keeps the base URL as a plain input.
 *
 * - create adopts a workspace that already has the slug (a deploy interrupted after POST, or the
 *   claim engine's lazy ensure got there first), then configures its default guardrail and checks
 *   upstream's answer carries the allow-list. Only an organization's admins may create workspaces: a
 *   personal account's 403 fails the deploy with a message naming the `governance` setting and the fix.
 * - the slug and the base URL are its identity (replace); the allow-list, limit, interval and
 *   description of the default guardrail are updated in place. The workspace's own name and
 *   description are written at creation only.
 * - delete: DELETE /workspaces/{id}. Upstream deletes a workspace (and its guardrails) only once it
 *   holds no keys. A deploy that drops a workshop within the half hour between its keys' expiry and
 *   the jobs' retire (which deletes them) would meet that refusal: delete then leaves the workspace
 *   as it is, its default guardrail still governing the expired, disabled keys in it, and succeeds
 *   (so the deploy does); once empty it can be deleted on openrouter.ai (docs/deploy.md).
 */

export type ResetInterval = "daily" | "weekly" | "monthly";

/** What the program passes. */
export interface OpenRouterWorkspaceArgs {
  /** workshops/workspace.ts `workspaceSlug`: deterministic per (namespace, workshop). */
  slug: pulumi.Input<string>;
  name: pulumi.Input<string>;
  description: pulumi.Input<string>;
  /** The default guardrail's name (derive.ts `guardrailName`). */
  guardrailName: pulumi.Input<string>;
  allowedModels: pulumi.Input<pulumi.Input<string>[]>;
  limitUsd: pulumi.Input<number>;
  resetInterval: pulumi.Input<ResetInterval>;
  /** The Management API root, e.g. https://openrouter.ai/api/v1 (not a secret). */
  baseUrl: pulumi.Input<string>;
}

export interface WorkspaceInputs {
  slug: string;
  name: string;
  description: string;
  guardrailName: string;
  allowedModels: string[];
  limitUsd: number;
  resetInterval: ResetInterval;
  baseUrl: string;
}

export interface WorkspaceOutputs extends WorkspaceInputs {
  workspaceId: string;
  /** The workspace's default guardrail: what governs its keys, recorded as the workshop's guardrail_id. */
  guardrailId: string;
  /**
   * The allow-list as last written (the YAML's ids) and as upstream answered that write (canonical
   * ids): diff compares the YAML with what was written while upstream still answers what it did then.
   */
  requestedModels?: string[];
  returnedModels?: string[];
}

/** The provider's one error family: a factory, for the same reason as guardrail.ts's (serialized classes lose their message). */
export interface WorkspaceProviderError extends Error {
  name: "WorkspaceProviderError";
  workspace: string;
  status?: number;
}

function workspaceProviderError(message: string, context: { workspace: string; status?: number; cause?: unknown }): WorkspaceProviderError {
  const error = new Error(message, { cause: context.cause }) as WorkspaceProviderError;
  error.name = "WorkspaceProviderError";
  error.workspace = context.workspace;
  if (context.status !== undefined) error.status = context.status;
  return error;
}

export function isWorkspaceProviderError(e: unknown): e is WorkspaceProviderError {
  return e instanceof Error && e.name === "WorkspaceProviderError";
}

interface UpstreamWorkspace {
  id: string;
  slug: string;
  default_guardrail_id: string;
}

interface UpstreamGuardrail {
  id: string;
  description?: string | null;
  allowed_models?: string[] | null;
  limit_usd?: number | null;
  reset_interval?: string | null;
}

/** One Management API call about `workspace`, its problems in this provider's error family. */
function callOpenRouter(baseUrl: string, method: "GET" | "POST" | "PATCH" | "DELETE", path: string, workspace: string, body?: unknown): Promise<UpstreamResponse> {
  return callManagementApi(baseUrl, method, path, (message, cause) => workspaceProviderError(`workspace ${workspace}: ${message}`, { workspace, cause }), body);
}

function upstreamFailure(what: string, workspace: string, res: UpstreamResponse): WorkspaceProviderError {
  return workspaceProviderError(`workspace ${workspace}: ${what} failed with HTTP ${res.status}${upstreamDetail(res)}`, { workspace, status: res.status });
}

/** PATCHes the default guardrail to the inputs (the full desired set) and checks upstream's answer carries the allow-list. */
async function configureDefaultGuardrail(inputs: WorkspaceInputs, guardrailId: string): Promise<UpstreamGuardrail> {
  const res = await callOpenRouter(inputs.baseUrl, "PATCH", `/guardrails/${encodeURIComponent(guardrailId)}`, inputs.slug, {
    name: inputs.guardrailName,
    description: inputs.description,
    allowed_models: inputs.allowedModels,
    limit_usd: inputs.limitUsd,
    reset_interval: inputs.resetInterval,
  });
  if (res.status !== 200) throw upstreamFailure("configuring its default guardrail", inputs.slug, res);
  const g = (res.body as { data: UpstreamGuardrail }).data;
  if (!sameModels(g.allowed_models ?? [], inputs.allowedModels)) {
    throw workspaceProviderError(`workspace ${inputs.slug}: its default guardrail does not carry the workshop's allow-list after configuring it`, { workspace: inputs.slug });
  }
  return g;
}

function outputsFrom(inputs: WorkspaceInputs, ws: UpstreamWorkspace, g: UpstreamGuardrail | undefined, written?: { requestedModels?: string[]; returnedModels?: string[] }): WorkspaceOutputs {
  return {
    ...inputs,
    workspaceId: ws.id,
    guardrailId: ws.default_guardrail_id,
    ...(g
      ? {
          description: g.description ?? "",
          allowedModels: [...(g.allowed_models ?? [])],
          limitUsd: g.limit_usd ?? 0,
          resetInterval: (g.reset_interval ?? "monthly") as ResetInterval,
        }
      : {}),
    ...(written?.requestedModels ? { requestedModels: written.requestedModels } : {}),
    ...(written?.returnedModels ? { returnedModels: written.returnedModels } : {}),
  };
}

export interface WorkspaceProvider extends pulumi.dynamic.ResourceProvider<WorkspaceInputs, WorkspaceOutputs> {
  check(olds: WorkspaceInputs, news: WorkspaceInputs): Promise<pulumi.dynamic.CheckResult<WorkspaceInputs>>;
  diff(id: string, olds: WorkspaceOutputs, news: WorkspaceInputs): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: WorkspaceInputs): Promise<{ id: string; outs: WorkspaceOutputs }>;
  read(id: string, props?: WorkspaceOutputs): Promise<pulumi.dynamic.ReadResult<WorkspaceOutputs>>;
  update(id: string, olds: WorkspaceOutputs, news: WorkspaceInputs): Promise<{ outs: WorkspaceOutputs }>;
  delete(id: string, props: WorkspaceOutputs): Promise<void>;
}

export const workspaceProvider: WorkspaceProvider = {
  async check(_olds: WorkspaceInputs, news: WorkspaceInputs): Promise<pulumi.dynamic.CheckResult<WorkspaceInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const fail = (property: string, reason: string) => failures.push({ property, reason: `${property}: ${reason}` });
    if (typeof news.slug !== "string" || !/^(?=.{1,64}$)[a-z0-9]+(?:-[a-z0-9]+)*$/.test(news.slug)) fail("slug", "must be lowercase alphanumeric segments joined by single hyphens, at most 64 characters");
    if (typeof news.name !== "string" || news.name.length < 1 || news.name.length > 100) fail("name", "must be 1-100 characters");
    if (typeof news.guardrailName !== "string" || news.guardrailName.length < 1 || news.guardrailName.length > 200) fail("guardrailName", "must be 1-200 characters");
    if (typeof news.description !== "string" || news.description.length > 1000) fail("description", "must be at most 1000 characters");
    if (!Array.isArray(news.allowedModels) || news.allowedModels.length === 0 || news.allowedModels.some((m) => typeof m !== "string" || !/^[^/\s]+\/\S+$/.test(m))) {
      fail("allowedModels", "must be a non-empty list of OpenRouter model slugs like provider/model");
    }
    if (typeof news.limitUsd !== "number" || !(news.limitUsd > 0)) fail("limitUsd", "must be a positive number");
    if (!["daily", "weekly", "monthly"].includes(news.resetInterval)) fail("resetInterval", "must be daily, weekly or monthly");
    if (typeof news.baseUrl !== "string" || !/^https?:\/\/[^/]+/.test(news.baseUrl)) fail("baseUrl", "must be an http(s) URL");
    return failures.length ? { failures } : { inputs: news };
  },

  async diff(_id: string, olds: WorkspaceOutputs, news: WorkspaceInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces: string[] = [];
    if (olds.slug !== news.slug) replaces.push("slug");
    if (olds.baseUrl !== news.baseUrl) replaces.push("baseUrl");
    // Upstream answers canonical ids: what we wrote is compared with the YAML unless upstream's list moved since.
    const upstreamAsWritten = olds.requestedModels !== undefined && olds.returnedModels !== undefined && sameModels(olds.allowedModels, olds.returnedModels);
    const modelsChanged = !sameModels(upstreamAsWritten ? olds.requestedModels! : olds.allowedModels, news.allowedModels);
    const changed =
      replaces.length > 0 || modelsChanged || olds.description !== news.description || olds.limitUsd !== news.limitUsd || olds.resetInterval !== news.resetInterval || olds.guardrailName !== news.guardrailName;
    return { changes: changed, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: WorkspaceInputs): Promise<{ id: string; outs: WorkspaceOutputs }> {
    const found = await callOpenRouter(inputs.baseUrl, "GET", `/workspaces/${encodeURIComponent(inputs.slug)}`, inputs.slug);
    let ws: UpstreamWorkspace;
    if (found.status === 200) ws = (found.body as { data: UpstreamWorkspace }).data;
    else if (found.status !== 404) throw upstreamFailure("looking it up", inputs.slug, found);
    else {
      const made = await callOpenRouter(inputs.baseUrl, "POST", "/workspaces", inputs.slug, { name: inputs.name, slug: inputs.slug, description: inputs.description });
      if (made.status === 403) {
        const why = (made.body as { error?: { message?: unknown } } | undefined)?.error?.message;
        throw workspaceProviderError(
          `workspace ${inputs.slug}: OpenRouter refused to create it (HTTP 403${typeof why === "string" ? `: ${why}` : ""}). The stack's \`governance\` setting is "workspace", ` +
            "which needs an OpenRouter organization account and a management key of one of its admins. Fix: use such a key as OPENROUTER_MANAGEMENT_KEY, " +
            "or go back to one guardrail per workshop with `pulumi config set governance assignment` (works on any account; docs/deploy.md, Governance)",
          { workspace: inputs.slug, status: 403 },
        );
      }
      if (made.status !== 200 && made.status !== 201) throw upstreamFailure("creating it", inputs.slug, made);
      ws = (made.body as { data: UpstreamWorkspace }).data;
    }
    const g = await configureDefaultGuardrail(inputs, ws.default_guardrail_id);
    return { id: ws.id, outs: outputsFrom(inputs, ws, g, { requestedModels: [...inputs.allowedModels], returnedModels: [...(g.allowed_models ?? [])] }) };
  },

  async read(id: string, props?: WorkspaceOutputs): Promise<pulumi.dynamic.ReadResult<WorkspaceOutputs>> {
    if (!props) throw workspaceProviderError(`workspace ${id}: import is not supported; let \`pulumi up\` create or adopt it`, { workspace: id });
    const res = await callOpenRouter(props.baseUrl, "GET", `/workspaces/${encodeURIComponent(id)}`, props.slug);
    if (res.status === 404) return {};
    if (res.status !== 200) throw upstreamFailure("reading it", props.slug, res);
    const ws = (res.body as { data: UpstreamWorkspace }).data;
    const g = await callOpenRouter(props.baseUrl, "GET", `/guardrails/${encodeURIComponent(ws.default_guardrail_id)}`, props.slug);
    // 404: the default guardrail is unconfigured (reset upstream); the next update configures it again.
    if (g.status !== 200 && g.status !== 404) throw upstreamFailure("reading its default guardrail", props.slug, g);
    const guardrail = g.status === 200 ? (g.body as { data: UpstreamGuardrail }).data : { id: ws.default_guardrail_id, allowed_models: [] };
    return { id, props: outputsFrom(props, ws, guardrail, props) };
  },

  async update(id: string, olds: WorkspaceOutputs, news: WorkspaceInputs): Promise<{ outs: WorkspaceOutputs }> {
    const g = await configureDefaultGuardrail(news, olds.guardrailId);
    return { outs: outputsFrom(news, { id, slug: news.slug, default_guardrail_id: olds.guardrailId }, g, { requestedModels: [...news.allowedModels], returnedModels: [...(g.allowed_models ?? [])] }) };
  },

  async delete(id: string, props: WorkspaceOutputs): Promise<void> {
    const res = await callOpenRouter(props.baseUrl, "DELETE", `/workspaces/${encodeURIComponent(id)}`, props.slug);
    if (res.status === 200 || res.status === 204 || res.status === 404) return;
    // Upstream keeps a workspace that still holds keys (400): it stays, its guardrail governing them (see above).
    if (res.status === 400) return;
    throw upstreamFailure("deleting it", props.slug, res);
  },
};

/** One workshop's workspace. `workspaceId` is where its keys are created; `guardrailId` governs them. */
export class OpenRouterWorkspace extends pulumi.dynamic.Resource {
  declare readonly workspaceId: pulumi.Output<string>;
  declare readonly guardrailId: pulumi.Output<string>;
  declare readonly slug: pulumi.Output<string>;
  declare readonly allowedModels: pulumi.Output<string[]>;
  declare readonly baseUrl: pulumi.Output<string>;

  constructor(name: string, args: OpenRouterWorkspaceArgs, opts?: pulumi.CustomResourceOptions) {
    super(workspaceProvider, name, { workspaceId: undefined, guardrailId: undefined, ...args }, opts, "openrouter", "Workspace");
  }
}
