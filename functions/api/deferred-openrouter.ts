import type { OpenRouterClient } from "../openrouter/types.js";

/**
 * An OpenRouterClient whose real client arrives later (the management key is read from Secrets
 * Manager at cold start, asynchronously). Loading starts at once; every call waits for it. A failed
 * load fails the calls with the original error (a bad secret shows in each request's log, not as a
 * silent hang) and is tried again after `retryAfterMs`, so one passing Secrets Manager fault does
 * not break a container for the rest of its life.
 */
export function deferredOpenRouterClient(
  load: () => Promise<OpenRouterClient>,
  opts: { retryAfterMs?: number; now?: () => number } = {},
): OpenRouterClient {
  const retryAfterMs = opts.retryAfterMs ?? 5_000;
  const now = opts.now ?? Date.now;
  let pending: Promise<OpenRouterClient>;
  let failedAt: number | undefined;

  const start = () => {
    failedAt = undefined;
    pending = load();
    pending.catch(() => {
      failedAt = now();
    });
  };
  start();

  const client = () => {
    if (failedAt !== undefined && now() - failedAt >= retryAfterMs) start();
    return pending;
  };

  return new Proxy({} as OpenRouterClient, {
    get(_target, method: string | symbol) {
      if (typeof method !== "string" || method === "then") return undefined;
      return async (...args: unknown[]) => {
        const c = await client();
        const fn = (c as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
        if (typeof fn !== "function") throw new TypeError(`OpenRouterClient has no method ${method}`);
        return fn.apply(c, args);
      };
    },
  });
}
