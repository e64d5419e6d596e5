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

/** A small catalogue so a fresh emulator answers chats; workshops add their own models on top. */
export const DEFAULT_MODELS: readonly EmulatorModel[] = [
  { id: "openai/gpt-4o-mini", name: "OpenAI: GPT-4o-mini", price_in_per_mtok: 0.15, price_out_per_mtok: 0.6 },
  { id: "openai/gpt-5-nano", name: "OpenAI: GPT-5 Nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 },
  { id: "anthropic/claude-sonnet-4.6", name: "Anthropic: Claude Sonnet 4.6", price_in_per_mtok: 3, price_out_per_mtok: 15 },
  { id: "anthropic/claude-3.5-haiku", name: "Anthropic: Claude 3.5 Haiku", price_in_per_mtok: 0.8, price_out_per_mtok: 4 },
  { id: "google/gemini-2.5-flash", name: "Google: Gemini 2.5 Flash", price_in_per_mtok: 0.3, price_out_per_mtok: 2.5 },
  { id: "qwen/qwen3.5-flash-02-23", name: "Qwen: Qwen3.5 Flash", price_in_per_mtok: 0.1, price_out_per_mtok: 0.4 },
  { id: "meta-llama/llama-3.1-8b-instruct", name: "Meta: Llama 3.1 8B Instruct", price_in_per_mtok: 0.02, price_out_per_mtok: 0.05 },
];

export class ModelCatalogue {
  private readonly models = new Map<string, EmulatorModel>();

  constructor(extra: readonly EmulatorModel[] = []) {
    this.add(DEFAULT_MODELS);
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
