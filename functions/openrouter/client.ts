import { ManagementKeyRejectedError } from "./errors.js";
import { creditOperations } from "./credits.js";
import { guardrailOperations } from "./guardrails.js";
import { keyOperations } from "./keys.js";
import { createCall } from "./request.js";
import { workspaceOperations } from "./workspaces.js";
import type { RetryPolicy } from "./retry.js";
import type { OpenRouterClient } from "./types.js";

export { guardrailDrift } from "./guardrails.js";
export { KEYS_PAGE_SIZE } from "./keys.js";

/**
 * The OpenRouter Management API over plain HTTPS (transport.ts), with the request and response shapes of OpenRouter's
 * OpenAPI description (reference/openrouter-openapi-subset.yaml). Each answer is checked against
 * the fields this product reads, so a changed upstream shape fails loudly instead of turning into
 * `undefined` in a claim.
 *
 * Why not the official `@openrouter/sdk` here (measured, docs/performance.md): in the Lambdas it
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

export function createOpenRouterClient(opts: OpenRouterClientOptions): OpenRouterClient {
  if (!opts.apiKey) throw new ManagementKeyRejectedError("No OpenRouter management key configured", { endpoint: "client" });
  const policy: RetryPolicy = {
    maxAttempts: opts.maxAttempts ?? 4,
    timeoutMs: opts.timeoutMs ?? 10_000,
    totalBudgetMs: opts.totalBudgetMs ?? 20_000,
    baseDelayMs: opts.retryBaseDelayMs ?? 250,
    maxDelayMs: opts.retryMaxDelayMs ?? 4_000,
  };
  const call = createCall({ base: (opts.serverURL ?? DEFAULT_OPENROUTER_URL).replace(/\/+$/, ""), apiKey: opts.apiKey, policy, onCall: opts.onCall });
  const workspace = opts.workspaceId ? { workspace_id: opts.workspaceId } : {};
  const guardrails = guardrailOperations(call, workspace);
  return { ...guardrails, ...keyOperations(call, workspace), ...creditOperations(call), ...workspaceOperations(call, guardrails) };
}
