import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";

/**
 * Workshop files for a local stack started on its own workshops folder: the tests' (re-exported by
 * testing.ts) and the bench's, which cannot import testing.ts (it registers vitest hooks).
 */

const minuteIso = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000).toISOString().replace(".000Z", "Z");

/**
 * A workshop file's fields (write them with `writeWorkshopFiles`) for a stack started on its own
 * workshops folder: claims open from an hour before `atMs` to two hours after, budget $1, `keys` keys
 * (20 unless given; the cap is their budgets).
 */
export function workshopFileAround(slug: string, atMs: number, extra: { organizers?: string[]; claim_code?: unknown; keys?: number } = {}): Record<string, unknown> {
  const keys = extra.keys ?? 20;
  return {
    slug,
    name: `Workshop ${slug}`,
    event: "Test conference",
    location: "Room 1",
    starts_at: minuteIso(atMs - 3_600_000),
    ends_at: minuteIso(atMs + 3 * 3_600_000),
    claims_open_at: minuteIso(atMs - 3_600_000),
    claims_close_at: minuteIso(atMs + 2 * 3_600_000),
    is_active: true,
    organizers: extra.organizers ?? [],
    ...(extra.claim_code === undefined ? {} : { claim_code: extra.claim_code }),
    openrouter: {
      budget_usd: 1,
      key_label_prefix: slug.slice(0, 40).replace(/-+$/, ""),
      expires_buffer_minutes: 30,
      models: [{ id: "openai/gpt-5-nano", label: "GPT-5 nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 }],
      guardrail: { cap_usd: keys, reset_interval: "monthly", max_keys: keys },
    },
  };
}

/** Writes each workshop file's fields as `<dir>/<slug>.yaml` (making `dir`), for a stack's `workshopsDir`; answers `dir`. */
export function writeWorkshopFiles(dir: string, files: Record<string, unknown>[]): string {
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, `${String(f.slug)}.yaml`), stringify(f));
  return dir;
}
