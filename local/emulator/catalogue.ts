/**
 * The models the emulator serves and what they cost. Prices are USD per million tokens, as in the
 * workshop YAML, so a workshop's own models can be added verbatim (`emulator.addModels(w.openrouter.models)`).
 */

export interface EmulatorModel {
  id: string;
  price_in_per_mtok: number;
  price_out_per_mtok: number;
  name?: string;
  context_length?: number;
}

/**
 * OpenRouter's own model ids, with their list prices (USD per million tokens, input / output), so a
 * rehearsal meets upstream's answers: a real model outside a key's allowlist is refused with 403
 * ("not allowed"), and only an id OpenRouter does not have is a 400 ("not a valid model ID").
 * Prices as OpenRouter listed them in 2026 (its model pages, and LiteLLM's public price table of
 * OpenRouter models); upstream moves them now and then, and a workshop's YAML prices win here.
 */
export const OPENROUTER_MODELS: readonly EmulatorModel[] = [
  // OpenAI
  { id: "openai/gpt-4o-mini", name: "OpenAI: GPT-4o-mini", price_in_per_mtok: 0.15, price_out_per_mtok: 0.6 },
  { id: "openai/gpt-4o", name: "OpenAI: GPT-4o", price_in_per_mtok: 2.5, price_out_per_mtok: 10 },
  { id: "openai/gpt-4.1", name: "OpenAI: GPT-4.1", price_in_per_mtok: 2, price_out_per_mtok: 8 },
  { id: "openai/gpt-4.1-mini", name: "OpenAI: GPT-4.1 Mini", price_in_per_mtok: 0.4, price_out_per_mtok: 1.6 },
  { id: "openai/gpt-4.1-nano", name: "OpenAI: GPT-4.1 Nano", price_in_per_mtok: 0.1, price_out_per_mtok: 0.4 },
  { id: "openai/gpt-5", name: "OpenAI: GPT-5", price_in_per_mtok: 1.25, price_out_per_mtok: 10 },
  { id: "openai/gpt-5-mini", name: "OpenAI: GPT-5 Mini", price_in_per_mtok: 0.25, price_out_per_mtok: 2 },
  { id: "openai/gpt-5-nano", name: "OpenAI: GPT-5 Nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 },
  { id: "openai/gpt-oss-120b", name: "OpenAI: gpt-oss-120b", price_in_per_mtok: 0.18, price_out_per_mtok: 0.8 },
  { id: "openai/gpt-oss-20b", name: "OpenAI: gpt-oss-20b", price_in_per_mtok: 0.02, price_out_per_mtok: 0.1 },
  { id: "openai/o3-mini", name: "OpenAI: o3 Mini", price_in_per_mtok: 1.1, price_out_per_mtok: 4.4 },
  // Anthropic
  { id: "anthropic/claude-3-haiku", name: "Anthropic: Claude 3 Haiku", price_in_per_mtok: 0.25, price_out_per_mtok: 1.25 },
  { id: "anthropic/claude-3.5-haiku", name: "Anthropic: Claude 3.5 Haiku", price_in_per_mtok: 0.8, price_out_per_mtok: 4 },
  { id: "anthropic/claude-3.7-sonnet", name: "Anthropic: Claude 3.7 Sonnet", price_in_per_mtok: 3, price_out_per_mtok: 15 },
  { id: "anthropic/claude-haiku-4.5", name: "Anthropic: Claude Haiku 4.5", price_in_per_mtok: 1, price_out_per_mtok: 5 },
  { id: "anthropic/claude-sonnet-4", name: "Anthropic: Claude Sonnet 4", price_in_per_mtok: 3, price_out_per_mtok: 15 },
  { id: "anthropic/claude-sonnet-4.5", name: "Anthropic: Claude Sonnet 4.5", price_in_per_mtok: 3, price_out_per_mtok: 15 },
  { id: "anthropic/claude-sonnet-4.6", name: "Anthropic: Claude Sonnet 4.6", price_in_per_mtok: 3, price_out_per_mtok: 15 },
  { id: "anthropic/claude-opus-4.5", name: "Anthropic: Claude Opus 4.5", price_in_per_mtok: 5, price_out_per_mtok: 25 },
  // Google
  { id: "google/gemini-2.0-flash-001", name: "Google: Gemini 2.0 Flash", price_in_per_mtok: 0.1, price_out_per_mtok: 0.4 },
  { id: "google/gemini-2.5-flash", name: "Google: Gemini 2.5 Flash", price_in_per_mtok: 0.3, price_out_per_mtok: 2.5 },
  { id: "google/gemini-2.5-pro", name: "Google: Gemini 2.5 Pro", price_in_per_mtok: 1.25, price_out_per_mtok: 10 },
  { id: "google/gemini-3-flash-preview", name: "Google: Gemini 3 Flash Preview", price_in_per_mtok: 0.5, price_out_per_mtok: 3 },
  // Meta
  { id: "meta-llama/llama-3.1-8b-instruct", name: "Meta: Llama 3.1 8B Instruct", price_in_per_mtok: 0.02, price_out_per_mtok: 0.03 },
  { id: "meta-llama/llama-3.3-70b-instruct", name: "Meta: Llama 3.3 70B Instruct", price_in_per_mtok: 0.1, price_out_per_mtok: 0.32 },
  // Mistral
  { id: "mistralai/mistral-small-3.2-24b-instruct", name: "Mistral: Mistral Small 3.2 24B", price_in_per_mtok: 0.1, price_out_per_mtok: 0.3 },
  { id: "mistralai/mistral-large-2512", name: "Mistral: Mistral Large 3 2512", price_in_per_mtok: 0.5, price_out_per_mtok: 1.5 },
  { id: "mistralai/devstral-2512", name: "Mistral: Devstral 2 2512", price_in_per_mtok: 0.15, price_out_per_mtok: 0.6 },
  // DeepSeek
  { id: "deepseek/deepseek-chat-v3.1", name: "DeepSeek: DeepSeek V3.1", price_in_per_mtok: 0.2, price_out_per_mtok: 0.8 },
  { id: "deepseek/deepseek-v3.2", name: "DeepSeek: DeepSeek V3.2", price_in_per_mtok: 0.28, price_out_per_mtok: 0.4 },
  { id: "deepseek/deepseek-r1-0528", name: "DeepSeek: R1 0528", price_in_per_mtok: 0.5, price_out_per_mtok: 2.15 },
  // Qwen
  { id: "qwen/qwen3-235b-a22b-2507", name: "Qwen: Qwen3 235B A22B Instruct 2507", price_in_per_mtok: 0.071, price_out_per_mtok: 0.1 },
  { id: "qwen/qwen3-coder", name: "Qwen: Qwen3 Coder 480B A35B", price_in_per_mtok: 0.22, price_out_per_mtok: 0.95 },
  { id: "qwen/qwen3.5-flash-02-23", name: "Qwen: Qwen3.5 Flash", price_in_per_mtok: 0.1, price_out_per_mtok: 0.4 },
  // Moonshot
  { id: "moonshotai/kimi-k2.5", name: "MoonshotAI: Kimi K2.5", price_in_per_mtok: 0.6, price_out_per_mtok: 3 },
];

export class ModelCatalogue {
  private readonly models = new Map<string, EmulatorModel>();

  constructor(extra: readonly EmulatorModel[] = []) {
    this.add(OPENROUTER_MODELS);
    this.add(extra);
  }

  /** Adds or re-prices models (same id: the later price wins). */
  add(models: readonly EmulatorModel[]): void {
    for (const m of models) {
      if (!m.id || !Number.isFinite(m.price_in_per_mtok) || !Number.isFinite(m.price_out_per_mtok)) {
        throw new Error(`emulator model needs an id and numeric prices: ${JSON.stringify(m)}`);
      }
      this.models.set(m.id, { ...m });
    }
  }

  get(id: string): EmulatorModel | undefined {
    return this.models.get(id);
  }

  list(): EmulatorModel[] {
    return [...this.models.values()];
  }
}

/** Upstream writes per-token prices as plain decimal strings ("0.00000015"), never in exponent form. */
export function perTokenPrice(perMillion: number): string {
  if (perMillion === 0) return "0";
  return (perMillion / 1e6).toFixed(14).replace(/0+$/, "").replace(/\.$/, "");
}

/** One entry of GET /models, with the fields the official SDK requires. */
export function modelResponse(m: EmulatorModel, createdSeconds: number) {
  const context = m.context_length ?? 128_000;
  return {
    id: m.id,
    canonical_slug: m.id,
    hugging_face_id: null,
    name: m.name ?? m.id,
    created: createdSeconds,
    description: `${m.name ?? m.id}, served by the Workshop Key Minter OpenRouter emulator.`,
    context_length: context,
    architecture: {
      modality: "text->text",
      input_modalities: ["text"],
      output_modalities: ["text"],
      tokenizer: "Other",
      instruct_type: null,
    },
    pricing: {
      prompt: perTokenPrice(m.price_in_per_mtok),
      completion: perTokenPrice(m.price_out_per_mtok),
      request: "0",
      image: "0",
    },
    top_provider: { context_length: context, max_completion_tokens: 16_384, is_moderated: false },
    per_request_limits: null,
    supported_parameters: ["max_tokens", "temperature", "top_p", "stop", "seed"],
    default_parameters: null,
    supported_voices: null,
    expiration_date: null,
    knowledge_cutoff: null,
    links: { details: `/api/v1/models/${m.id}/endpoints` },
  };
}
