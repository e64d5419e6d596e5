import type { Context } from "hono";
import type { ModelCatalogue } from "./catalogue.js";
import type { FaultInjector, Operation } from "./faults.js";
import { hashKey, type EmulatorStore, type KeyRecord } from "./state.js";

/** What every route of the emulator shares. */
export interface EmulatorContext {
  store: EmulatorStore;
  catalogue: ModelCatalogue;
  faults: FaultInjector;
  managementKeyHash: string;
  managementKeyLabel: string;
  now: () => number;
  /** Releases held ("hung") requests; called on close so the server can shut down. */
  hangReleasers: Set<() => void>;
}

/** OpenRouter's error body: `{error: {code, message, metadata?}}`, code = the HTTP status. */
export function errorResponse(status: number, message: string, metadata?: Record<string, unknown>, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ error: { code: status, message, ...(metadata ? { metadata } : {}) } }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one operation behind its fault injection: latency first, then a hang, a 429 or a 5xx if the
 * dice say so, else the real handler.
 */
export async function withFaults(ctx: EmulatorContext, op: Operation, c: Context, handler: () => Response | Promise<Response>): Promise<Response> {
  const outcome = ctx.faults.decide(op);
  if (outcome.latencyMs > 0) await sleep(outcome.latencyMs);
  switch (outcome.kind) {
    case "hang":
      await holdUntilReleased(ctx, c.req.raw.signal);
      return errorResponse(504, "Gateway Timeout");
    case "rate_limited":
      return errorResponse(429, "Rate limit exceeded", undefined, { "retry-after": String(outcome.retryAfterSeconds) });
    case "error":
      return errorResponse(outcome.status, outcome.status === 500 ? "Internal Server Error" : "Service temporarily unavailable");
    case "none":
      return handler();
  }
}

function holdUntilReleased(ctx: EmulatorContext, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const release = () => {
      ctx.hangReleasers.delete(release);
      signal.removeEventListener("abort", release);
      resolve();
    };
    ctx.hangReleasers.add(release);
    if (signal.aborted) release();
    else signal.addEventListener("abort", release);
  });
}

export function bearerOf(c: Context): string | undefined {
  const header = c.req.header("authorization");
  // Upstream also takes an API key in x-api-key, for clients built on the Anthropic SDK.
  if (!header) return c.req.header("x-api-key")?.trim() || undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1].trim() : undefined;
}

export type Caller = { kind: "management" } | { kind: "key"; key: KeyRecord };

/** Who is calling, or the 401 upstream answers. Disabled/expired keys are the caller's route's business. */
export function identify(ctx: EmulatorContext, c: Context): Caller | Response {
  const token = bearerOf(c);
  if (!token) return errorResponse(401, "Missing Authentication header");
  const hash = hashKey(token);
  if (hash === ctx.managementKeyHash) return { kind: "management" };
  const key = ctx.store.data.keys.find((k) => k.hash === hash);
  if (!key) return errorResponse(401, "User not found.");
  return { kind: "key", key };
}

/** Management endpoints: only the management key; an ordinary key is refused as upstream does. */
export function requireManagement(ctx: EmulatorContext, c: Context): Response | undefined {
  const caller = identify(ctx, c);
  if (caller instanceof Response) return caller;
  if (caller.kind !== "management") return errorResponse(403, "Only management keys can perform this operation");
  return undefined;
}

/**
 * Inference endpoints: an attendee key that is enabled and unexpired. Expired keys answer like
 * unknown ones ("User not found."), which is what upstream has been seen to say.
 */
export function requireUsableKey(ctx: EmulatorContext, c: Context): KeyRecord | Response {
  const caller = identify(ctx, c);
  if (caller instanceof Response) return caller;
  if (caller.kind === "management") {
    return errorResponse(401, "Management keys cannot be used for inference; use an API key");
  }
  const key = caller.key;
  if (key.disabled) return errorResponse(401, "This API key is disabled");
  if (key.expires_at && Date.parse(key.expires_at) <= ctx.now()) return errorResponse(401, "User not found.");
  return key;
}
