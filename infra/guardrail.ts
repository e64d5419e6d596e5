import * as pulumi from "@pulumi/pulumi";
import { callManagementApi, sameModels, upstreamDetail, type UpstreamResponse } from "./management-call.js";

/**
 * The OpenRouter guardrail of one workshop, as a Pulumi dynamic resource: it carries the model
 * allowlist every attendee key of the workshop is bound to.
 *
 * Pulumi serializes `guardrailProvider` (and everything it references) into the stack state and
 * runs that text later in its own provider host. So the provider:
 *  - references only globals (`fetch`, `process`, `AbortSignal`), the small helpers in this file and
 *    management-call.ts's (shared with workspace.ts), which reference only globals; zod is loaded inside `check` through `process.getBuiltinModule`,
 *    which works in the Pulumi host, in Node ESM and under vitest alike;
 *  - never captures the management key: it is read at run time from OPENROUTER_MANAGEMENT_KEY in the
 *    environment of `pulumi up` (never from the stack config, which a preview can decrypt);
 *  - keeps the base URL as a plain input, so `delete` and `refresh` talk to the OpenRouter the
 *    guardrail was created on, even after the program points somewhere else.
 */

export type ResetInterval = "daily" | "weekly" | "monthly";

/** What the program passes. */
export interface OpenRouterGuardrailArgs {
  name: pulumi.Input<string>;
  description: pulumi.Input<string>;
  allowedModels: pulumi.Input<pulumi.Input<string>[]>;
  limitUsd: pulumi.Input<number>;
  resetInterval: pulumi.Input<ResetInterval>;
  /** The Management API root, e.g. https://openrouter.ai/api/v1 (not a secret). */
  baseUrl: pulumi.Input<string>;
}

/** The same inputs, resolved: what the provider's methods receive. */
export interface GuardrailInputs {
  name: string;
  description: string;
  allowedModels: string[];
  limitUsd: number;
  resetInterval: ResetInterval;
  baseUrl: string;
}

/** What the stack state records: the inputs as upstream reports them, plus the guardrail's id. */
export interface GuardrailOutputs extends GuardrailInputs {
  guardrailId: string;
  /**
   * The allowlist as last written (the YAML's ids) and as OpenRouter answered that write (its
   * canonical ids, which may be spelled differently): diff compares the YAML with what was written
   * while upstream still answers what it answered then. Absent in state from before they were kept.
   */
  requestedModels?: string[];
  returnedModels?: string[];
}

export const MANAGEMENT_KEY_ENV = "OPENROUTER_MANAGEMENT_KEY";

/**
 * The provider's one error family. A factory, not a class: Pulumi's closure serializer rewrites a
 * class into a plain function, which drops field initializers and never runs Error's constructor,
 * so a serialized `class extends Error` would lose its message in the provider host.
 */
export interface GuardrailProviderError extends Error {
  name: "GuardrailProviderError";
  guardrail: string;
  status?: number;
}

function guardrailProviderError(message: string, context: { guardrail: string; status?: number; cause?: unknown }): GuardrailProviderError {
  const error = new Error(message, { cause: context.cause }) as GuardrailProviderError;
  error.name = "GuardrailProviderError";
  error.guardrail = context.guardrail;
  if (context.status !== undefined) error.status = context.status;
  return error;
}

export function isGuardrailProviderError(e: unknown): e is GuardrailProviderError {
  return e instanceof Error && e.name === "GuardrailProviderError";
}

interface UpstreamGuardrail {
  id: string;
  name: string;
  description?: string | null;
  allowed_models?: string[] | null;
  limit_usd?: number | null;
  reset_interval?: string | null;
}

/** One Management API call about `guardrail`, its problems in this provider's error family. */
function callOpenRouter(baseUrl: string, method: "GET" | "POST" | "PATCH" | "DELETE", path: string, guardrail: string, body?: unknown): Promise<UpstreamResponse> {
  return callManagementApi(baseUrl, method, path, (message, cause) => guardrailProviderError(`guardrail ${guardrail}: ${message}`, { guardrail, cause }), body);
}

function upstreamFailure(what: string, guardrail: string, res: UpstreamResponse): GuardrailProviderError {
  const detail = upstreamDetail(res);
  const hint =
    res.status === 401 || res.status === 403
      ? " (check that the management key is a valid OpenRouter management key)"
      : res.status === 404
        ? " (it was deleted outside Pulumi; run `pulumi refresh` to forget it, then `pulumi up` recreates it)"
        : "";
  return guardrailProviderError(`guardrail ${guardrail}: ${what} failed with HTTP ${res.status}${detail}${hint}`, {
    guardrail,
    status: res.status,
  });
}

/** The request body for create and update: the full desired set (the API replaces collections). */
function guardrailBody(inputs: GuardrailInputs) {
  return {
    name: inputs.name,
    description: inputs.description,
    allowed_models: inputs.allowedModels,
    limit_usd: inputs.limitUsd,
    reset_interval: inputs.resetInterval,
  };
}

/** Upstream's view, in the shape of our outputs; `baseUrl` is ours, upstream does not know it. */
function outputsFrom(g: UpstreamGuardrail, baseUrl: string): GuardrailOutputs {
  return {
    guardrailId: g.id,
    name: g.name,
    description: g.description ?? "",
    allowedModels: [...(g.allowed_models ?? [])],
    limitUsd: g.limit_usd ?? 0,
    resetInterval: (g.reset_interval ?? "monthly") as ResetInterval,
    baseUrl,
  };
}

/**
 * Whether the allowlist changes: OpenRouter answers with canonical ids, so upstream's list is compared
 * with the YAML only when it no longer is what upstream answered to our last write (someone changed it
 * there); otherwise what we wrote is compared with the YAML, and a preview never shows a change nobody made.
 */
function allowlistChanged(olds: GuardrailOutputs, news: GuardrailInputs): boolean {
  const upstreamAsWritten = olds.requestedModels !== undefined && olds.returnedModels !== undefined && sameModels(olds.allowedModels, olds.returnedModels);
  return !sameModels(upstreamAsWritten ? olds.requestedModels! : olds.allowedModels, news.allowedModels);
}

/** Outputs after a write: upstream's view plus what was asked for and what upstream answered. */
function writtenOutputs(g: UpstreamGuardrail, inputs: GuardrailInputs): GuardrailOutputs {
  const outs = outputsFrom(g, inputs.baseUrl);
  return { ...outs, requestedModels: [...inputs.allowedModels], returnedModels: [...outs.allowedModels] };
}

/** Finds a guardrail by exact name, following pages of 100. */
async function findGuardrailByName(baseUrl: string, name: string): Promise<UpstreamGuardrail | undefined> {
  for (let offset = 0; ; offset += 100) {
    const res = await callOpenRouter(baseUrl, "GET", `/guardrails?offset=${offset}&limit=100`, name);
    if (res.status !== 200) throw upstreamFailure("listing guardrails", name, res);
    const page = ((res.body as { data?: UpstreamGuardrail[] }).data ?? []) as UpstreamGuardrail[];
    const found = page.find((g) => g.name === name);
    if (found) return found;
    if (page.length < 100) return undefined;
  }
}

/** The provider's methods with the exact shapes this provider returns (Pulumi's are looser). */
export interface GuardrailProvider extends pulumi.dynamic.ResourceProvider<GuardrailInputs, GuardrailOutputs> {
  check(olds: GuardrailInputs, news: GuardrailInputs): Promise<pulumi.dynamic.CheckResult<GuardrailInputs>>;
  diff(id: string, olds: GuardrailOutputs, news: GuardrailInputs): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: GuardrailInputs): Promise<{ id: string; outs: GuardrailOutputs }>;
  read(id: string, props?: GuardrailOutputs): Promise<pulumi.dynamic.ReadResult<GuardrailOutputs>>;
  update(id: string, olds: GuardrailOutputs, news: GuardrailInputs): Promise<{ outs: GuardrailOutputs }>;
  delete(id: string, props: GuardrailOutputs): Promise<void>;
}

export const guardrailProvider: GuardrailProvider = {
  async check(_olds: GuardrailInputs, news: GuardrailInputs): Promise<pulumi.dynamic.CheckResult<GuardrailInputs>> {
    // The provider host runs from the project folder (it resolves @pulumi/pulumi from there), and
    // its script lives in the project's node_modules: either place finds the project's zod.
    const { createRequire } = process.getBuiltinModule("node:module");
    let zod: typeof import("zod") | undefined;
    for (const from of [`${process.cwd()}/package.json`, process.argv[1]]) {
      try {
        zod = createRequire(from)("zod") as typeof import("zod");
        break;
      } catch {
        // try the next place
      }
    }
    if (!zod) throw guardrailProviderError(`guardrail ${news.name}: cannot load zod from ${process.cwd()}; run pulumi from the project folder after npm ci`, { guardrail: news.name });
    const { z } = zod;
    const schema = z.object({
      name: z.string().min(1).max(200),
      description: z.string().max(1000),
      allowedModels: z.array(z.string().regex(/^[^/\s]+\/\S+$/, "must be an OpenRouter model slug like provider/model")).min(1),
      limitUsd: z.number().positive(),
      resetInterval: z.enum(["daily", "weekly", "monthly"]),
      baseUrl: z.url({ protocol: /^https?$/ }),
    });
    const result = schema.safeParse(news);
    if (result.success) return { inputs: news };
    return {
      failures: result.error.issues.map((issue) => ({
        property: String(issue.path[0] ?? ""),
        reason: `${issue.path.join(".") || "inputs"}: ${issue.message}`,
      })),
    };
  },

  async diff(_id: string, olds: GuardrailOutputs, news: GuardrailInputs): Promise<pulumi.dynamic.DiffResult> {
    // The name is the guardrail's identity for people and for adoption by name; the base URL is
    // which OpenRouter it lives on. Everything else is updated in place, so attendee keys stay
    // bound while an organizer edits the allowlist.
    const replaces: string[] = [];
    if (olds.name !== news.name) replaces.push("name");
    if (olds.baseUrl !== news.baseUrl) replaces.push("baseUrl");
    const changed =
      replaces.length > 0 ||
      olds.description !== news.description ||
      allowlistChanged(olds, news) ||
      olds.limitUsd !== news.limitUsd ||
      olds.resetInterval !== news.resetInterval;
    return { changes: changed, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: GuardrailInputs): Promise<{ id: string; outs: GuardrailOutputs }> {
    // A deploy interrupted between POST and writing state leaves a guardrail Pulumi does not know:
    // adopting it by name (and bringing it to spec) makes the retry converge instead of duplicating.
    const existing = await findGuardrailByName(inputs.baseUrl, inputs.name);
    const res = existing
      ? await callOpenRouter(inputs.baseUrl, "PATCH", `/guardrails/${encodeURIComponent(existing.id)}`, inputs.name, guardrailBody(inputs))
      : await callOpenRouter(inputs.baseUrl, "POST", "/guardrails", inputs.name, guardrailBody(inputs));
    if (res.status !== 200 && res.status !== 201) throw upstreamFailure(existing ? "adopting" : "creating", inputs.name, res);
    const created = (res.body as { data: UpstreamGuardrail }).data;
    return { id: created.id, outs: writtenOutputs(created, inputs) };
  },

  async read(id: string, props?: GuardrailOutputs): Promise<pulumi.dynamic.ReadResult<GuardrailOutputs>> {
    // `pulumi refresh` always passes the recorded state; `import` is not supported (no base URL).
    if (!props) throw guardrailProviderError(`guardrail ${id}: import is not supported; let \`pulumi up\` create or adopt it`, { guardrail: id });
    const res = await callOpenRouter(props.baseUrl, "GET", `/guardrails/${encodeURIComponent(id)}`, props.name);
    // Gone upstream: an empty id tells Pulumi the resource no longer exists.
    if (res.status === 404) return {};
    if (res.status !== 200) throw upstreamFailure("reading", props.name, res);
    const outs = outputsFrom((res.body as { data: UpstreamGuardrail }).data, props.baseUrl);
    // What was written and answered stays known across a refresh (upstream's list may have moved).
    return { id, props: { ...outs, ...(props.requestedModels ? { requestedModels: props.requestedModels } : {}), ...(props.returnedModels ? { returnedModels: props.returnedModels } : {}) } };
  },

  async update(id: string, olds: GuardrailOutputs, news: GuardrailInputs): Promise<{ outs: GuardrailOutputs }> {
    const res = await callOpenRouter(news.baseUrl, "PATCH", `/guardrails/${encodeURIComponent(id)}`, olds.name, guardrailBody(news));
    if (res.status !== 200) throw upstreamFailure("updating", olds.name, res);
    return { outs: writtenOutputs((res.body as { data: UpstreamGuardrail }).data, news) };
  },

  async delete(id: string, props: GuardrailOutputs): Promise<void> {
    const res = await callOpenRouter(props.baseUrl, "DELETE", `/guardrails/${encodeURIComponent(id)}`, props.name);
    // Already gone is what we wanted.
    if (res.status === 404) return;
    if (res.status !== 200 && res.status !== 204) throw upstreamFailure("deleting", props.name, res);
  },
};

/** One workshop's guardrail. `guardrailId` is what the claim engine assigns keys to. */
export class OpenRouterGuardrail extends pulumi.dynamic.Resource {
  declare readonly guardrailId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly allowedModels: pulumi.Output<string[]>;
  declare readonly limitUsd: pulumi.Output<number>;
  declare readonly baseUrl: pulumi.Output<string>;

  constructor(name: string, args: OpenRouterGuardrailArgs, opts?: pulumi.CustomResourceOptions) {
    super(guardrailProvider, name, { guardrailId: undefined, ...args }, opts, "openrouter", "Guardrail");
  }
}
