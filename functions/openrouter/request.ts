import type * as z from "zod/mini";
import { InvalidRequestError, ManagementKeyRejectedError, NotFoundError, OpenRouterError, RateLimitedError, UpstreamUnavailableError } from "./errors.js";
import { parseRetryAfter, retryBounded, type RetryPolicy } from "./retry.js";
import { exchange, type Exchange } from "./transport.js";

type Method = "GET" | "POST" | "PATCH" | "DELETE";

export interface ManagementRequest {
  method: Method;
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/**
 * One logical call: bounded retries (ours: attempts, per-attempt timeout, total budget, 429-aware)
 * around one HTTP request, every failure mapped into the adapter's error family.
 */
export type Call = <S extends z.ZodMiniType>(op: string, endpoint: string, request: ManagementRequest, answer: S) => Promise<z.output<S>>;

export function createCall(opts: { base: string; apiKey: string; policy: RetryPolicy; onCall?: (op: string) => void }): Call {
  const base = new URL(opts.base.replace(/\/+$/, ""));
  const headers = { authorization: `Bearer ${opts.apiKey}`, accept: "application/json" };
  const jsonHeaders = { ...headers, "content-type": "application/json" };
  return (op, endpoint, request, answer) => {
    let query: Record<string, string> | undefined;
    for (const [k, v] of Object.entries(request.query ?? {})) if (v !== undefined) (query ??= {})[k] = String(v);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    return retryBounded(async (timeoutMs) => {
      opts.onCall?.(op);
      let res: Exchange;
      try {
        res = await exchange({ method: request.method, base, path: request.path, query, headers: body === undefined ? headers : jsonHeaders, body }, timeoutMs);
      } catch (err) {
        throw transportError(endpoint, err);
      }
      if (res.status < 200 || res.status > 299) throw statusError(endpoint, res.status, res.text, res);
      let parsed: unknown;
      try {
        parsed = res.text === "" ? {} : JSON.parse(res.text);
      } catch {
        throw new OpenRouterError(`OpenRouter ${endpoint} answered ${res.status} with a body that is not JSON`, { endpoint, status: res.status });
      }
      const checked = answer.safeParse(parsed);
      // A 2xx in a shape we do not know: retrying would only get the same answer. Paths only, never
      // values (the answer to POST /keys holds a key).
      if (!checked.success) throw new OpenRouterError(`OpenRouter ${endpoint} answered in an unexpected shape: ${issuePaths(checked.error.issues)}`, { endpoint, status: res.status });
      return checked.data;
    }, opts.policy);
  };
}

/** A DELETE that resolves false when the thing was already gone (404). */
export async function deleted(request: Promise<unknown>): Promise<boolean> {
  try {
    await request;
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/** A PATCH body: the fields the caller set. */
export function definedFields<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * An error status, classified by status alone (a proxy's HTML 502 has no JSON to read). The message
 * carries upstream's own text, which errors.ts scrubs of anything shaped like a key.
 */
function statusError(endpoint: string, status: number, body: string, headers: Pick<Exchange, "header">): OpenRouterError {
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
  // Node's socket errors carry the reason in `code` (ECONNREFUSED, ECONNRESET, ...); neither it nor the message holds a key.
  const code = (err as { code?: unknown } | undefined)?.code;
  const reason = typeof code === "string" ? code : err instanceof Error ? err.message : String(err);
  return new UpstreamUnavailableError(`OpenRouter ${endpoint} could not be reached: ${reason}`, { endpoint });
}

function retryAfterOf(headers: Pick<Exchange, "header">): number | undefined {
  const ms = headers.header("retry-after-ms");
  if (ms && /^\d+$/.test(ms.trim())) return Number(ms.trim());
  return parseRetryAfter(headers.header("retry-after"));
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
