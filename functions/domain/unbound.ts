import {
  InvalidRequestError,
  ManagementKeyRejectedError,
  NotFoundError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "../openrouter/errors.js";

/**
 * Why a key is UNBOUND, in words an organizer can act on (the dashboard shows it next to the claim;
 * the technical error stays in `last_error` and the logs). `step`: the guardrail could not be found
 * or created, or the key could not be assigned to it.
 */
export function unboundReason(err: unknown, step: "guardrail" | "assign"): string {
  const what = step === "guardrail" ? "finding the workshop's model allowlist (its guardrail)" : "attaching the key to the workshop's model allowlist";
  if (err instanceof RateLimitedError) return `OpenRouter asked us to slow down (rate limit) while ${what}.`;
  if (err instanceof UpstreamUnavailableError) return `OpenRouter did not answer in time while ${what}.`;
  if (err instanceof ManagementKeyRejectedError) return `OpenRouter refused the management key while ${what}: check that it is valid and is a management key.`;
  if (err instanceof NotFoundError) return "The workshop's guardrail no longer exists at OpenRouter: run the workshop's open job (or deploy again) to recreate it.";
  if (err instanceof InvalidRequestError) return `OpenRouter refused the request while ${what}${err.upstreamMessage ? `: ${err.upstreamMessage.slice(0, 200)}` : "."}`;
  return `Something unexpected went wrong while ${what}.`;
}
