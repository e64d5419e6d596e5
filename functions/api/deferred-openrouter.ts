import type { OpenRouterClient } from "../openrouter/types.js";

/**
 * An OpenRouterClient whose real client arrives later (the management key is read from Secrets
 * Manager at cold start, asynchronously). Every call waits for it; a failed load fails every call
 * with the original error, so a bad secret shows in each request's log, not as a silent hang.
 */
export function deferredOpenRouterClient(pending: Promise<OpenRouterClient>): OpenRouterClient {
  // Keeps the rejection from being "unhandled" before the first request awaits it.
  pending.catch(() => {});
  return new Proxy({} as OpenRouterClient, {
    get(_target, method: string | symbol) {
      if (typeof method !== "string" || method === "then") return undefined;
      return async (...args: unknown[]) => {
        const client = await pending;
        const fn = (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
        if (typeof fn !== "function") throw new TypeError(`OpenRouterClient has no method ${method}`);
        return fn.apply(client, args);
      };
    },
  });
}
