import * as z from "zod/mini";
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

/**
 * The OpenRouter Management API over `fetch`, with the request and response shapes of OpenRouter's
 * OpenAPI description (reference/openrouter-openapi-subset.yaml). Each answer is checked against
 * the fields this product reads, so a changed upstream shape fails loudly instead of turning into
 * `undefined` in a claim.
 *
 * Why not the official `@openrouter/sdk` here (measured, README "Performance"): in the Lambdas it
 * was about 170 KB of each bundle (its models need zod's full build), and a key's create + assign
 * cost twice the CPU (2.4 ms against 1.1 ms), for a dozen plain JSON calls whose retries and
 * timeouts are ours anyway. The SDK remains the judge of the emulator's fidelity:
 * `local/emulator/sdk.test.ts` parses every answer with it.
 */

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

// ── the answers' shapes (only the fields read here; upstream sends more) ──────────────────────
const nullableNumber = z.nullable(z.number());
const KeySchema = z.object({
  hash: z.string(),
  name: z.string(),
  label: z.string(),
  disabled: z.boolean(),
  limit: nullableNumber,
  limit_remaining: nullableNumber,
  usage: z.number(),
  created_at: z.string(),
  updated_at: z.nullable(z.string()),
  expires_at: z.optional(z.nullable(z.string())),
});
const GuardrailSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.optional(z.nullable(z.string())),
  allowed_models: z.optional(z.nullable(z.array(z.string()))),
  limit_usd: z.optional(nullableNumber),
  reset_interval: z.optional(z.nullable(z.string())),
});
const KeyAnswer = z.object({ data: KeySchema });
const CreatedKeyAnswer = z.object({ data: KeySchema, key: z.string() });
const KeysPage = z.object({ data: z.array(KeySchema) });
const GuardrailAnswer = z.object({ data: GuardrailSchema });
const GuardrailsPage = z.object({ data: z.array(GuardrailSchema), total_count: z.number() });
const AssignmentsPage = z.object({ data: z.array(z.object({ key_hash: z.string() })), total_count: z.number() });
const AssignAnswer = z.object({ assigned_count: z.number() });
const CreditsAnswer = z.object({ data: z.object({ total_credits: z.number(), total_usage: z.number() }) });
const AnyAnswer = z.unknown();

type Method = "GET" | "POST" | "PATCH" | "DELETE";

export function createOpenRouterClient(opts: OpenRouterClientOptions): OpenRouterClient {
  if (!opts.apiKey) throw new ManagementKeyRejectedError("No OpenRouter management key configured", { endpoint: "client" });
  const base = (opts.serverURL ?? DEFAULT_OPENROUTER_URL).replace(/\/+$/, "");
  const headers = { Authorization: `Bearer ${opts.apiKey}`, Accept: "application/json" };
  const jsonHeaders = { ...headers, "Content-Type": "application/json" };
  const policy: RetryPolicy = {
    maxAttempts: opts.maxAttempts ?? 4,
    timeoutMs: opts.timeoutMs ?? 10_000,
    totalBudgetMs: opts.totalBudgetMs ?? 20_000,
    baseDelayMs: opts.retryBaseDelayMs ?? 250,
    maxDelayMs: opts.retryMaxDelayMs ?? 4_000,
  };
  const workspaceId = opts.workspaceId;

  /**
   * One logical call: bounded retries (ours: attempts, per-attempt timeout, total budget, 429-aware)
   * around one HTTP request, every failure mapped into the adapter's error family.
   */
  function call<S extends z.ZodMiniType>(
    op: string,
    endpoint: string,
    request: { method: Method; path: string; query?: Record<string, string | number | undefined>; body?: unknown },
    answer: S,
  ): Promise<z.output<S>> {
    let url = base + request.path;
    const query = Object.entries(request.query ?? {}).filter(([, v]) => v !== undefined);
    if (query.length) url += `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)])).toString()}`;
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    return retryBounded(async (timeoutMs) => {
      opts.onCall?.(op);
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, { method: request.method, headers: body === undefined ? headers : jsonHeaders, body, signal: AbortSignal.timeout(timeoutMs) });
        text = await res.text();
      } catch (err) {
        throw transportError(endpoint, err);
      }
      if (!res.ok) throw statusError(endpoint, res.status, text, res.headers);
      let parsed: unknown;
      try {
        parsed = text === "" ? {} : JSON.parse(text);
      } catch {
        throw new OpenRouterError(`OpenRouter ${endpoint} answered ${res.status} with a body that is not JSON`, { endpoint, status: res.status });
      }
      const checked = answer.safeParse(parsed);
      // A 2xx in a shape we do not know: retrying would only get the same answer. Paths only, never
      // values (the answer to POST /keys holds a key).
      if (!checked.success) throw new OpenRouterError(`OpenRouter ${endpoint} answered in an unexpected shape: ${issuePaths(checked.error.issues)}`, { endpoint, status: res.status });
      return checked.data as z.output<S>;
    }, policy);
  }

  const workspace = workspaceId ? { workspace_id: workspaceId } : {};

  async function listGuardrailsPage(offset: number) {
    return call("guardrails.list", "GET /guardrails", { method: "GET", path: "/guardrails", query: { offset, limit: GUARDRAILS_PAGE_SIZE, ...workspace } }, GuardrailsPage);
  }

  const client: OpenRouterClient = {
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
      const existing = await client.findGuardrailByName(spec.name);
      if (!existing) return client.createGuardrail(spec);
      const drift = guardrailDrift(existing, spec);
      if (Object.keys(drift).length === 0) return existing;
      return client.updateGuardrail(existing.id, drift);
    },

    async deleteGuardrail(id) {
      try {
        await call("guardrails.delete", "DELETE /guardrails/{id}", { method: "DELETE", path: `/guardrails/${encodeURIComponent(id)}` }, AnyAnswer);
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
      const expiresAt = Date.parse(input.expires_at);
      if (Number.isNaN(expiresAt)) {
        throw new InvalidRequestError(`expires_at "${input.expires_at}" is not a date`, { endpoint: "POST /keys" });
      }
      const res = await call(
        "keys.create",
        "POST /keys",
        // UTC with seconds: upstream refuses minute precision.
        { method: "POST", path: "/keys", body: { name: input.name, limit: input.limit, expires_at: toUtcSeconds(expiresAt), ...workspace } },
        CreatedKeyAnswer,
      );
      return { ...toKeyInfo(res.data), key: res.key };
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

    async getKey(hash) {
      const res = await call("keys.get", "GET /keys/{hash}", { method: "GET", path: `/keys/${encodeURIComponent(hash)}` }, KeyAnswer);
      return toKeyInfo(res.data);
    },

    async listKeysPage(offset, pageOpts) {
      const res = await call(
        "keys.list",
        "GET /keys",
        { method: "GET", path: "/keys", query: { offset, ...(pageOpts?.includeDisabled ? { include_disabled: "true" } : {}), ...workspace } },
        KeysPage,
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
      const res = await call("keys.update", "PATCH /keys/{hash}", { method: "PATCH", path: `/keys/${encodeURIComponent(hash)}`, body: definedFields(patch) }, KeyAnswer);
      return toKeyInfo(res.data);
    },

    async deleteKey(hash) {
      try {
        await call("keys.delete", "DELETE /keys/{hash}", { method: "DELETE", path: `/keys/${encodeURIComponent(hash)}` }, AnyAnswer);
        return true;
      } catch (err) {
        if (err instanceof NotFoundError) return false;
        throw err;
      }
    },

    async getCredits(): Promise<Credits> {
      const res = await call("credits", "GET /credits", { method: "GET", path: "/credits" }, CreditsAnswer);
      return { total_credits: res.data.total_credits, total_usage: res.data.total_usage };
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

function definedFields<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toKeyInfo(k: z.output<typeof KeySchema>): KeyInfo {
  const expires = k.expires_at ? Date.parse(k.expires_at) : Number.NaN;
  return {
    hash: k.hash,
    name: k.name,
    label: k.label,
    disabled: k.disabled,
    limit: k.limit,
    limit_remaining: k.limit_remaining,
    usage: k.usage,
    created_at: k.created_at,
    updated_at: k.updated_at,
    expires_at: Number.isNaN(expires) ? null : toUtcSeconds(expires),
  };
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

/**
 * An error status, classified by status alone (a proxy's HTML 502 has no JSON to read). The message
 * carries upstream's own text, which errors.ts scrubs of anything shaped like a key.
 */
function statusError(endpoint: string, status: number, body: string, headers: Headers): OpenRouterError {
  const upstreamMessage = upstreamMessageOf(body) ?? `HTTP ${status}`;
  const context = { endpoint, status, upstreamMessage };
  const what = `OpenRouter ${endpoint} answered ${status}: ${upstreamMessage}`;
  if (status === 429) return new RateLimitedError(what, { ...context, retryAfterMs: retryAfterOf(headers) });
  if (status >= 500 || status === 408) return new UpstreamUnavailableError(what, context);
  if (status === 401 || status === 403) return new ManagementKeyRejectedError(what, context);
  if (status === 404) return new NotFoundError(what, context);
  if (status === 400 || status === 422) return new InvalidRequestError(what, context);
  return new OpenRouterError(what, context);
}

/** No answer at all: a timeout, a refused or reset connection. Worth retrying. */
function transportError(endpoint: string, err: unknown): OpenRouterError {
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError" || name === "AbortError") return new UpstreamUnavailableError(`OpenRouter ${endpoint} timed out`, { endpoint });
  // fetch puts the reason (ECONNREFUSED, ...) in `cause`; neither holds a key.
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const reason = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : err instanceof Error ? err.message : String(err);
  return new UpstreamUnavailableError(`OpenRouter ${endpoint} could not be reached: ${reason}`, { endpoint });
}

function retryAfterOf(headers: Headers): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms && /^\d+$/.test(ms.trim())) return Number(ms.trim());
  return parseRetryAfter(headers.get("retry-after"));
}

/** Which fields failed validation, without their values (a value could be a key). */
function issuePaths(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  if (issues.length === 0) return "validation failed";
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
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
