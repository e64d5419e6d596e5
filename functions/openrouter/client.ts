import { OpenRouterCore } from "@openrouter/sdk/core.js";
import { apiKeysCreate } from "@openrouter/sdk/funcs/apiKeysCreate.js";
import { apiKeysDelete } from "@openrouter/sdk/funcs/apiKeysDelete.js";
import { apiKeysGet } from "@openrouter/sdk/funcs/apiKeysGet.js";
import { apiKeysList } from "@openrouter/sdk/funcs/apiKeysList.js";
import { apiKeysUpdate } from "@openrouter/sdk/funcs/apiKeysUpdate.js";
import { creditsGetCredits } from "@openrouter/sdk/funcs/creditsGetCredits.js";
import { guardrailsBulkAssignKeys } from "@openrouter/sdk/funcs/guardrailsBulkAssignKeys.js";
import { guardrailsCreate } from "@openrouter/sdk/funcs/guardrailsCreate.js";
import { guardrailsDelete } from "@openrouter/sdk/funcs/guardrailsDelete.js";
import { guardrailsGet } from "@openrouter/sdk/funcs/guardrailsGet.js";
import { guardrailsList } from "@openrouter/sdk/funcs/guardrailsList.js";
import { guardrailsListGuardrailKeyAssignments } from "@openrouter/sdk/funcs/guardrailsListGuardrailKeyAssignments.js";
import { guardrailsUpdate } from "@openrouter/sdk/funcs/guardrailsUpdate.js";
import type { RequestOptions } from "@openrouter/sdk/lib/sdks.js";
import { OpenRouterError as SdkHttpError } from "@openrouter/sdk/models/errors/openroutererror.js";
import { ConnectionError, RequestAbortedError, RequestTimeoutError } from "@openrouter/sdk/models/errors/httpclienterrors.js";
import { ResponseValidationError } from "@openrouter/sdk/models/errors/responsevalidationerror.js";
import { SDKValidationError } from "@openrouter/sdk/models/errors/sdkvalidationerror.js";
import type { Guardrail as SdkGuardrail } from "@openrouter/sdk/models/guardrail.js";
import type { ListData } from "@openrouter/sdk/models/operations/list.js";
import type { GuardrailSpec } from "../../workshops/derive.js";
import { toUtcSeconds } from "../../workshops/derive.js";
import {
  InvalidRequestError,
  ManagementKeyRejectedError,
  NotFoundError,
  OpenRouterError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "./errors.js";
import { parseRetryAfter, retryBounded, type RetryPolicy } from "./retry.js";
import type { CreateKeyInput, CreatedKey, Credits, Guardrail, KeyInfo, OpenRouterClient, UpdateKeyInput } from "./types.js";

export interface OpenRouterClientOptions {
  /** The management key. Never logged, never part of an error. */
  apiKey: string;
  /** Default https://openrouter.ai/api/v1; the emulator's URL locally and in tests. */
  serverURL?: string;
  /** Per attempt. Default 10 000. */
  timeoutMs?: number;
  /** Default 4. */
  maxAttempts?: number;
  /** Across all attempts and waits of one call. Default 20 000. */
  totalBudgetMs?: number;
  /** Keys and guardrails live in this workspace (default workspace when unset). */
  workspaceId?: string;
  /** Called once per upstream HTTP attempt with the operation ("keys.create"); benchmarks count calls with it. */
  onCall?: (op: string) => void;
  /** Ceiling of the first retry wait (doubles per attempt). Default 250. */
  retryBaseDelayMs?: number;
  /** Longest single jittered wait. Default 4 000. */
  retryMaxDelayMs?: number;
}

export const DEFAULT_OPENROUTER_URL = "https://openrouter.ai/api/v1";
/** GET /keys answers 100 keys per page; a shorter page is the last. */
export const KEYS_PAGE_SIZE = 100;
const GUARDRAILS_PAGE_SIZE = 100;

type SdkResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function createOpenRouterClient(opts: OpenRouterClientOptions): OpenRouterClient {
  if (!opts.apiKey) throw new ManagementKeyRejectedError("No OpenRouter management key configured", { endpoint: "client" });
  const core = new OpenRouterCore({
    apiKey: opts.apiKey,
    serverURL: opts.serverURL ?? DEFAULT_OPENROUTER_URL,
    timeoutMs: opts.timeoutMs ?? 10_000,
    // The SDK's default retries 5xx for up to an hour; retries are ours (bounded, budgeted, 429-aware).
    retryConfig: { strategy: "none" },
  });
  const policy: RetryPolicy = {
    maxAttempts: opts.maxAttempts ?? 4,
    timeoutMs: opts.timeoutMs ?? 10_000,
    totalBudgetMs: opts.totalBudgetMs ?? 20_000,
    baseDelayMs: opts.retryBaseDelayMs ?? 250,
    maxDelayMs: opts.retryMaxDelayMs ?? 4_000,
  };
  const workspaceId = opts.workspaceId;

  /** One logical call: bounded retries around one SDK function, errors mapped into our family. */
  function call<T>(op: string, endpoint: string, send: (o: RequestOptions) => Promise<SdkResult<T>>): Promise<T> {
    return retryBounded(async (timeoutMs) => {
      opts.onCall?.(op);
      let result: SdkResult<T>;
      try {
        result = await send({ timeoutMs, retries: { strategy: "none" } });
      } catch (err) {
        throw toOpenRouterError(endpoint, err);
      }
      if (result.ok) return result.value;
      throw toOpenRouterError(endpoint, result.error);
    }, policy);
  }

  async function listGuardrailsPage(offset: number) {
    const page = await call("guardrails.list", "GET /guardrails", (o) =>
      guardrailsList(core, { offset, limit: GUARDRAILS_PAGE_SIZE, ...(workspaceId ? { workspaceId } : {}) }, o),
    );
    return page.result;
  }

  const client: OpenRouterClient = {
    async findGuardrailByName(name) {
      for (let offset = 0; ; ) {
        const page = await listGuardrailsPage(offset);
        const found = page.data.find((g) => g.name === name);
        if (found) return toGuardrail(found);
        offset += page.data.length;
        if (page.data.length < GUARDRAILS_PAGE_SIZE || offset >= page.totalCount) return undefined;
      }
    },

    async getGuardrail(id) {
      const res = await call("guardrails.get", "GET /guardrails/{id}", (o) => guardrailsGet(core, { id }, o));
      return toGuardrail(res.data);
    },

    async createGuardrail(spec) {
      const res = await call("guardrails.create", "POST /guardrails", (o) =>
        guardrailsCreate(
          core,
          {
            createGuardrailRequest: {
              name: spec.name,
              description: spec.description,
              allowedModels: spec.allowed_models,
              limitUsd: spec.limit_usd,
              resetInterval: spec.reset_interval,
              ...(workspaceId ? { workspaceId } : {}),
            },
          },
          o,
        ),
      );
      return toGuardrail(res.data);
    },

    async updateGuardrail(id, spec) {
      const res = await call("guardrails.update", "PATCH /guardrails/{id}", (o) =>
        guardrailsUpdate(
          core,
          {
            id,
            updateGuardrailRequest: {
              ...(spec.name !== undefined ? { name: spec.name } : {}),
              ...(spec.description !== undefined ? { description: spec.description } : {}),
              ...(spec.allowed_models !== undefined ? { allowedModels: spec.allowed_models } : {}),
              ...(spec.limit_usd !== undefined ? { limitUsd: spec.limit_usd } : {}),
              ...(spec.reset_interval !== undefined ? { resetInterval: spec.reset_interval } : {}),
            },
          },
          o,
        ),
      );
      return toGuardrail(res.data);
    },

    async ensureGuardrail(spec) {
      const existing = await client.findGuardrailByName(spec.name);
      if (!existing) return client.createGuardrail(spec);
      const drift = guardrailDrift(existing, spec);
      if (Object.keys(drift).length === 0) return existing;
      return client.updateGuardrail(existing.id, drift);
    },

    async deleteGuardrail(id) {
      try {
        await call("guardrails.delete", "DELETE /guardrails/{id}", (o) => guardrailsDelete(core, { id }, o));
        return true;
      } catch (err) {
        if (err instanceof NotFoundError) return false;
        throw err;
      }
    },

    // POST /keys is not idempotent: a retry after a timeout or 5xx that upstream did act on leaves a
    // second key with the same name. That key's plaintext was never seen, so it cannot be spent; the
    // sync job's orphan sweep (keys under the workshop prefix whose hash no claim holds) deletes it.
    async createKey(input: CreateKeyInput): Promise<CreatedKey> {
      const expiresAt = new Date(input.expires_at);
      if (Number.isNaN(expiresAt.getTime())) {
        throw new InvalidRequestError(`expires_at "${input.expires_at}" is not a date`, { endpoint: "POST /keys" });
      }
      const res = await call("keys.create", "POST /keys", (o) =>
        apiKeysCreate(
          core,
          { requestBody: { name: input.name, limit: input.limit, expiresAt, ...(workspaceId ? { workspaceId } : {}) } },
          o,
        ),
      );
      return { ...toKeyInfo(res.data), key: res.key };
    },

    async assignKeys(guardrailId, hashes) {
      if (hashes.length === 0) return { assigned_count: 0 };
      const res = await call("guardrails.assign", "POST /guardrails/{id}/assignments/keys", (o) =>
        guardrailsBulkAssignKeys(core, { id: guardrailId, bulkAssignKeysRequest: { keyHashes: hashes } }, o),
      );
      return { assigned_count: res.assignedCount };
    },

    async listGuardrailKeyHashes(guardrailId) {
      const hashes: string[] = [];
      for (let offset = 0; ; ) {
        const page = await call("guardrails.assignments", "GET /guardrails/{id}/assignments/keys", (o) =>
          guardrailsListGuardrailKeyAssignments(core, { id: guardrailId, offset, limit: GUARDRAILS_PAGE_SIZE }, o),
        );
        const data = page.result.data;
        hashes.push(...data.map((a) => a.keyHash));
        offset += data.length;
        if (data.length < GUARDRAILS_PAGE_SIZE || offset >= page.result.totalCount) return hashes;
      }
    },

    async getKey(hash) {
      const res = await call("keys.get", "GET /keys/{hash}", (o) => apiKeysGet(core, { hash }, o));
      return toKeyInfo(res.data);
    },

    async listKeysPage(offset, pageOpts) {
      const res = await call("keys.list", "GET /keys", (o) =>
        apiKeysList(
          core,
          {
            offset,
            ...(pageOpts?.includeDisabled ? { includeDisabled: true } : {}),
            ...(workspaceId ? { workspaceId } : {}),
          },
          o,
        ),
      );
      return res.data.map(toKeyInfo);
    },

    async listAllKeys(listOpts) {
      const all: KeyInfo[] = [];
      for (let offset = 0; ; ) {
        const page = await client.listKeysPage(offset, listOpts);
        all.push(...page);
        offset += page.length;
        if (page.length < KEYS_PAGE_SIZE) return all;
      }
    },

    async updateKey(hash, patch: UpdateKeyInput) {
      const res = await call("keys.update", "PATCH /keys/{hash}", (o) =>
        apiKeysUpdate(core, { hash, requestBody: { ...patch } }, o),
      );
      return toKeyInfo(res.data);
    },

    async deleteKey(hash) {
      try {
        await call("keys.delete", "DELETE /keys/{hash}", (o) => apiKeysDelete(core, { hash }, o));
        return true;
      } catch (err) {
        if (err instanceof NotFoundError) return false;
        throw err;
      }
    },

    async getCredits(): Promise<Credits> {
      const res = await call("credits", "GET /credits", (o) => creditsGetCredits(core, undefined, o));
      return { total_credits: res.data.totalCredits, total_usage: res.data.totalUsage };
    },
  };
  return client;
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

function toKeyInfo(k: ListData): KeyInfo {
  return {
    hash: k.hash,
    name: k.name,
    label: k.label,
    disabled: k.disabled,
    limit: k.limit,
    limit_remaining: k.limitRemaining,
    usage: k.usage,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
    expires_at: k.expiresAt ? toUtcSeconds(k.expiresAt.getTime()) : null,
  };
}

function toGuardrail(g: SdkGuardrail): Guardrail {
  return {
    id: g.id,
    name: g.name,
    description: g.description ?? null,
    allowed_models: g.allowedModels ?? null,
    limit_usd: g.limitUsd ?? null,
    reset_interval: g.resetInterval ?? null,
  };
}

/**
 * Maps whatever the SDK produced into our family. `endpoint` names the operation, never the key.
 * SDK errors are not kept as `cause`: they hold the Request (with its Authorization header) and, for
 * POST /keys, a body with the plaintext key; status and upstream message are what a caller needs.
 */
export function toOpenRouterError(endpoint: string, err: unknown): OpenRouterError {
  if (err instanceof OpenRouterError) return err;
  if (err instanceof ResponseValidationError && err.statusCode < 400) {
    // Upstream answered 2xx with a shape the SDK does not know: retrying would only get the same answer.
    return new OpenRouterError(`OpenRouter ${endpoint} answered in an unexpected shape: ${zodIssuePaths(err.cause)}`, {
      endpoint,
      status: err.statusCode,
    });
  }
  // Error statuses are classified by status alone, even when the SDK could not parse the error body
  // (an HTML 502 from a proxy, or a process whose global Response was swapped by a server library).
  if (err instanceof SdkHttpError) {
    const status = err.statusCode;
    const upstreamMessage = upstreamMessageOf(err.body) ?? `HTTP ${status}`;
    const context = { endpoint, status, upstreamMessage };
    const what = `OpenRouter ${endpoint} answered ${status}: ${upstreamMessage}`;
    if (status === 429) return new RateLimitedError(what, { ...context, retryAfterMs: retryAfterOf(err.headers) });
    if (status >= 500 || status === 408) return new UpstreamUnavailableError(what, context);
    if (status === 401 || status === 403) return new ManagementKeyRejectedError(what, context);
    if (status === 404) return new NotFoundError(what, context);
    if (status === 400 || status === 422) return new InvalidRequestError(what, context);
    return new OpenRouterError(what, context);
  }
  if (err instanceof RequestTimeoutError || err instanceof RequestAbortedError) {
    return new UpstreamUnavailableError(`OpenRouter ${endpoint} timed out`, { endpoint, cause: err });
  }
  if (err instanceof ConnectionError) {
    return new UpstreamUnavailableError(`OpenRouter ${endpoint} could not be reached: ${err.message}`, { endpoint, cause: err });
  }
  if (err instanceof SDKValidationError) {
    return new InvalidRequestError(`OpenRouter ${endpoint}: the SDK refused the request: ${zodIssuePaths(err.cause)}`, { endpoint });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UpstreamUnavailableError(`OpenRouter ${endpoint} failed: ${message}`, { endpoint });
}

function retryAfterOf(headers: Headers): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms && /^\d+$/.test(ms.trim())) return Number(ms.trim());
  return parseRetryAfter(headers.get("retry-after"));
}

/** Which fields failed validation, without their values (a value could be a key). */
function zodIssuePaths(cause: unknown): string {
  const issues = (cause as { issues?: Array<{ path?: PropertyKey[]; message?: string }> } | undefined)?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return "validation failed";
  return issues
    .slice(0, 5)
    .map((i) => `${(i.path ?? []).map(String).join(".") || "(root)"}: ${i.message ?? "invalid"}`)
    .join("; ");
}

function upstreamMessageOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } };
    return typeof parsed.error?.message === "string" ? parsed.error.message : undefined;
  } catch {
    return body ? body.slice(0, 200) : undefined;
  }
}
