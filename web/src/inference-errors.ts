import { formatUsd } from "./time.js";

/**
 * What OpenRouter's answers to an attendee's own calls mean, in plain words. The key page lists
 * them all ("If a call fails") and the key test explains the one it met, from the same entries.
 */

export interface InferenceErrorHelp {
  /** Stable id, e.g. for a test or an anchor. */
  id: string;
  status: number;
  title: string;
  text: string;
}

export function inferenceErrorHelp(budgetUsd: number): InferenceErrorHelp[] {
  return [
    {
      id: "400-model",
      status: 400,
      title: "Bad request: not a valid model ID",
      text: "The model id is misspelled or does not exist. Copy it exactly from the model picker on this page.",
    },
    {
      id: "401",
      status: 401,
      title: "Unauthorized",
      text: "The key has expired (after the workshop) or was turned off by an organizer; an expired key can also answer “User not found.” Check the status at the top of this page.",
    },
    {
      id: "402-max-tokens",
      status: 402,
      title: "Payment required: fewer max_tokens",
      text: "This request could cost more than what is left of your budget. Lower max_tokens (or max_completion_tokens) and try again.",
    },
    {
      id: "402-budget",
      status: 402,
      title: "Payment required: budget used up",
      text: `Your key has spent its whole ${formatUsd(budgetUsd)} budget. Ask an organizer if you need more.`,
    },
    {
      id: "402-credits",
      status: 402,
      title: "Payment required: the workshop's account is out of credit",
      text: "Not your budget: the organizers' OpenRouter account has run out of credit. Tell an organizer.",
    },
    {
      id: "403",
      status: 403,
      title: "Forbidden",
      text: "The model is not on this workshop's list, or the workshop's guardrail blocked the request. Pick a model from the list on this page. “Key limit exceeded” also means the budget is used up.",
    },
    {
      id: "404",
      status: 404,
      title: "No endpoints matching your guardrail",
      text: "The model id is not one this workshop allows. Copy it exactly from the model picker on this page.",
    },
    {
      id: "429",
      status: 429,
      title: "Too many requests",
      text: "Slow down. Wait the seconds given in the Retry-After header, then try again; add a short pause in loops.",
    },
  ];
}

/** The entry that explains one answer, from its status, message and metadata (OpenRouter's error body). */
export function explainInferenceError(
  budgetUsd: number,
  status: number,
  message: string,
  metadata: Record<string, unknown> = {},
): InferenceErrorHelp | undefined {
  const all = inferenceErrorHelp(budgetUsd);
  const byId = (id: string) => all.find((h) => h.id === id);
  if (status === 402) {
    if (metadata.limit_source === "openrouter_credits" || /insufficient credits/i.test(message)) return byId("402-credits");
    if (/max_tokens|fewer|can only afford/i.test(message)) return byId("402-max-tokens");
    return byId("402-budget");
  }
  if (status === 400) return /model/i.test(message) ? byId("400-model") : undefined;
  return all.find((h) => h.status === status);
}
