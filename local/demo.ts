import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { claimWindow } from "../workshops/derive.js";
import { WorkshopSchema, type Workshop } from "../workshops/schema.js";

/**
 * The local-only demo workshop, so a first `npm start` has something to claim. Its claim window is
 * open "now" on the stack's clock. It is kept in the data folder so a restart shows the same
 * workshop (and the same claims); it is made again only when its window is no longer open, e.g.
 * after a week or when the stack starts with `--at` on another day.
 */

export const DEMO_SLUG = "local-demo";
const DAY_MS = 24 * 60 * 60_000;

const toIso = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000).toISOString().replace(".000Z", "Z");

export function demoWorkshop(nowMs: number): Workshop {
  return WorkshopSchema.parse({
    slug: DEMO_SLUG,
    name: "Local demo workshop",
    event: "Workshop Key Minter on your laptop",
    location: "Your laptop",
    starts_at: toIso(nowMs - 60 * 60_000),
    ends_at: toIso(nowMs + 7 * DAY_MS),
    claims_open_at: toIso(nowMs - 60 * 60_000),
    claims_close_at: toIso(nowMs + 7 * DAY_MS),
    is_active: true,
    welcome_message: [
      "## A demo workshop on the local stack",
      "",
      "This workshop exists only on your machine (it is not a file in `workshops/`).",
      "Keys come from the **OpenRouter emulator** unless the stack was started with `--openrouter real`.",
      "Start with `--no-demo` to hide it.",
    ].join("\n"),
    organizers: [],
    // No claim_code: on a laptop there is no room to prove presence in, and the flow stays one click.
    openrouter: {
      budget_usd: 1,
      key_label_prefix: "local-demo",
      expires_buffer_minutes: 60,
      models: [
        { id: "openai/gpt-5-nano", label: "GPT-5 nano", note: "Cheapest, fast iterations", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 },
        { id: "qwen/qwen3.5-flash-02-23", label: "Qwen 3.5 Flash", note: "Open weights, quick and inexpensive", price_in_per_mtok: 0.1, price_out_per_mtok: 0.4 },
        { id: "anthropic/claude-sonnet-4.6", label: "Claude Sonnet 4.6", note: "Smarter, pricier", price_in_per_mtok: 3, price_out_per_mtok: 15 },
      ],
      guardrail: { cap_usd: 25, reset_interval: "monthly", max_keys: 25 },
    },
  });
}

/** The demo workshop of this data folder: the kept one while its window is open, else a fresh one. */
export function loadOrCreateDemoWorkshop(dataDir: string, nowMs: number): Workshop {
  const file = join(dataDir, "demo-workshop.json");
  if (existsSync(file)) {
    // A file that no longer parses is replaced like a closed one: the demo's claims live in the
    // database under its slug, not in this file.
    let text: unknown;
    try {
      text = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      text = undefined;
    }
    const kept = WorkshopSchema.safeParse(text);
    if (kept.success && claimWindow(kept.data, nowMs) === "open") return kept.data;
  }
  const fresh = demoWorkshop(nowMs);
  writeFileSync(file, JSON.stringify(fresh, null, 2), { mode: 0o600 });
  return fresh;
}
